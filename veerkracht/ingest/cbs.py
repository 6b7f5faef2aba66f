"""Statistics source ``cbs``: download the year's KWB table live and keep every download.

The current table is downloaded through :mod:`veerkracht.ingest.cbs_client` and stored as a new
immutable snapshot under ``raw_dir`` (earlier downloads are kept: CBS publishes a year's table in
phases); every stored vintage is then combined. A stored snapshot that fails its hash check
(truncated, changed) is moved aside and named in the log and metadata; the run goes on with the
others. When the download fails and ``on_failure`` is
``use_stored``, the earlier downloads of that table are used and the error is returned with
them so the run can say so; with no stored download, or with ``fail``, the error is raised. It
never falls back to the embedded snapshot.
"""

from __future__ import annotations

import logging
from pathlib import Path

from veerkracht.ingest.cbs_client import CbsDownloadError, CbsEndpoint, download_kwb
from veerkracht.ingest.snapshot import Snapshots, list_snapshots, quarantine, read_snapshot, write_snapshot
from veerkracht.integrity import IntegrityError
from veerkracht.registry import table_for_year

log = logging.getLogger(__name__)


def snapshots(
    year: int,
    *,
    raw_dir: Path,
    endpoint: CbsEndpoint | None = None,
    on_failure: str = "use_stored",
    embedded_dir: Path | None = None,
    kwb_file=None,
) -> Snapshots:
    """Download ``year``'s table, store it, and return all stored vintages, oldest first."""
    table_id = table_for_year(year)
    error = None
    try:
        write_snapshot(download_kwb(table_id, endpoint or CbsEndpoint()), raw_dir)
    except CbsDownloadError as exc:
        if on_failure == "fail" or not list_snapshots(raw_dir, table_id):
            raise
        error = str(exc)
        log.warning("%s; using the snapshots stored under %s instead", error, raw_dir)
    snapshots, notes = [], []
    for folder in list_snapshots(raw_dir, table_id):
        try:
            snapshots.append(read_snapshot(folder))
        except IntegrityError as exc:
            moved = quarantine(folder, str(exc))
            notes.append(f"{exc}; moved aside to {moved.name}")
            log.warning("Stored snapshot quarantined: %s; moved aside to %s", exc, moved)
    if not snapshots:
        raise CbsDownloadError(
            f"No usable stored snapshot of {table_id} under {raw_dir}"
            + (f" ({'; '.join(notes)})" if notes else "")
            + (f"; download: {error}" if error else "")
        )
    return Snapshots(snapshots, error, notes)
