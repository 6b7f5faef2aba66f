"""Staged statistics kept across output folders (veerkracht/cache.py): a second folder on the same
snapshots with the same code copies the three staged files instead of harmonising again."""

from __future__ import annotations

import pyarrow.parquet as pq

from veerkracht.cache import FileCache
from veerkracht.ingest import kwb, pressure
from veerkracht.paths import EMBEDDED_DIR

YEAR = 2023  # Utrecht: the small embedded year


def _stage(folder, cache, code="code-1"):
    got = kwb.kwb_snapshots(YEAR, "embedded", embedded_dir=EMBEDDED_DIR, raw_dir=folder / "raw")
    cats = kwb.catalogues(got.snapshots)
    crime = pressure.crime_tables(EMBEDDED_DIR / "extra", YEAR)
    return kwb.stage_kwb_cached(got.snapshots, folder / "staging", cats, crime, cache, code)


def _files(folder):
    return {name: (folder / "staging" / f"{name}.parquet").read_bytes() for name in kwb.STAGED}


def test_a_second_folder_copies_the_staged_statistics_and_a_damaged_copy_is_staged_again(tmp_path):
    cache = FileCache(tmp_path / "cache", keep=kwb.KEEP_STAGED, verify=pq.read_table)
    counts, how = _stage(tmp_path / "a", cache)
    assert how == "staged" and counts["kwb_value"] > 10_000
    again, how = _stage(tmp_path / "b", cache)
    assert how == "from the cache" and again == counts
    assert _files(tmp_path / "b") == _files(tmp_path / "a")  # the same files, byte for byte
    # Another code version is another key: staged, not copied.
    assert _stage(tmp_path / "c", cache, code="code-2")[1] == "staged"
    # A cached file cut short is removed, and the three are staged again (none half copied).
    for cached in cache.folder.glob("*_kwb_value.parquet"):
        cached.write_bytes(cached.read_bytes()[:1000])
    counts_d, how = _stage(tmp_path / "d", cache)
    assert how == "staged" and counts_d == counts
    assert _files(tmp_path / "d") == _files(tmp_path / "a")
