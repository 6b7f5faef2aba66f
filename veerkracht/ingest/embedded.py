"""Statistics source ``embedded``: the real KWB statistics shipped in ``data/embedded/``.

A year comes either as OData vintages (``kwb/<table>/<vintage>/``, registry ``embedded_kwb``) or
as a CBS download file (``kwb_files/``, registry ``embedded_file``, read like the ``file`` source
reads yours). See data/embedded/README.md for what each file is and where it came from.
"""

from __future__ import annotations

from pathlib import Path

from veerkracht.ingest import kwbfile
from veerkracht.ingest.snapshot import Snapshots, list_snapshots, read_snapshot
from veerkracht.integrity import verify_embedded, verify_snapshot
from veerkracht.registry import table_for_year, year_info


def snapshots(
    year: int,
    *,
    embedded_dir: Path,
    raw_dir: Path | None = None,
    endpoint=None,
    on_failure: str = "use_stored",
    kwb_file=None,
) -> Snapshots:
    """Every embedded vintage of ``year``'s KWB table, oldest first; an error when none is shipped."""
    verify_snapshot(embedded_dir)  # every file, every year: a damaged one stops any year's run
    table_id = table_for_year(year)
    name = year_info(year).embedded_file
    if name:
        path = Path(embedded_dir) / "kwb_files" / name
        verify_embedded(path, embedded_dir)
        return Snapshots([kwbfile.read_file(path, year)])
    folders = list_snapshots(Path(embedded_dir) / "kwb", table_id)
    if not folders:
        raise FileNotFoundError(
            f"The embedded snapshot has no KWB {year} ({table_id}) under {embedded_dir}/kwb; "
            "run with source 'cbs' to download it"
        )
    return Snapshots([read_snapshot(f) for f in folders])
