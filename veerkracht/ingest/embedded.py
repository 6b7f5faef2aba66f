"""Statistics source ``embedded``: the real KWB vintages shipped in ``data/embedded/kwb/``.

Which years are shipped is in the year registry (``embedded_kwb``); see data/embedded/README.md
for what each file is and where it came from.
"""

from __future__ import annotations

from pathlib import Path

from veerkracht.ingest.snapshot import Snapshots, list_snapshots, read_snapshot
from veerkracht.registry import table_for_year


def snapshots(
    year: int,
    *,
    embedded_dir: Path,
    raw_dir: Path | None = None,
    endpoint=None,
    on_failure: str = "use_stored",
) -> Snapshots:
    """Every embedded vintage of ``year``'s KWB table, oldest first; an error when none is shipped."""
    table_id = table_for_year(year)
    folders = list_snapshots(Path(embedded_dir) / "kwb", table_id)
    if not folders:
        raise FileNotFoundError(
            f"The embedded snapshot has no KWB {year} ({table_id}) under {embedded_dir}/kwb; "
            "run with source 'cbs' to download it"
        )
    return Snapshots([read_snapshot(f) for f in folders])
