"""Stored inputs are checked against their hashes: a changed embedded file is an error naming it
(it was published silently: every gemeente 123,456 inhabitants), and a truncated stored download
is moved aside while the run goes on with the good snapshots."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from veerkracht.geo import embedded
from veerkracht.ingest import cbs
from veerkracht.ingest.cbs_client import CbsEndpoint
from veerkracht.ingest.embedded import snapshots as embedded_snapshots
from veerkracht.ingest.snapshot import list_snapshots, read_snapshot, write_snapshot
from veerkracht.integrity import IntegrityError, verify_snapshot
from veerkracht.paths import EMBEDDED_DIR


@pytest.fixture()
def embedded_copy(tmp_path):
    copy = tmp_path / "embedded"
    shutil.copytree(EMBEDDED_DIR, copy)
    return copy


def test_the_shipped_snapshot_passes_its_checks():
    assert len(embedded_snapshots(2024, embedded_dir=EMBEDDED_DIR).snapshots) == 2
    assert set(embedded.read_year(2024, ("gemeente", "wijk", "buurt"), embedded_dir=EMBEDDED_DIR)) == {
        "gemeente",
        "wijk",
        "buurt",
    }


def test_a_changed_but_valid_kwb_file_is_refused(embedded_copy):
    folder = list_snapshots(embedded_copy / "kwb", "85984NED")[-1]
    data = pd.read_parquet(folder / "TypedDataSet.parquet")
    data.loc[data["Codering_3"].str.startswith("GM"), "AantalInwoners_5"] = 123456
    data.to_parquet(folder / "TypedDataSet.parquet", index=False)  # still valid Parquet
    with pytest.raises(IntegrityError, match="TypedDataSet.parquet does not match its SHA-256"):
        embedded_snapshots(2024, embedded_dir=embedded_copy)


def test_every_embedded_file_is_covered_by_a_checksum():
    """Issue 26.2: only the data files and SHA256SUMS' list were hashed; one flipped letter in a
    vintage's DataProperties.json ran silently with half the koopwoningen."""
    listed = {line.split(None, 1)[1] for line in (EMBEDDED_DIR / "SHA256SUMS").read_text().splitlines()}
    present = {
        p.relative_to(EMBEDDED_DIR).as_posix()
        for p in EMBEDDED_DIR.rglob("*")
        if p.is_file() and p.name != "SHA256SUMS" and "__pycache__" not in p.parts
    }
    assert listed == present
    verify_snapshot(EMBEDDED_DIR)


@pytest.mark.parametrize(
    "relative,old,new",
    [
        ("kwb/85984NED/2026-07-19/DataProperties.json", '"Long"', '"Lonf"'),
        ("kwb_files/kwb-2022.csv", ";", ","),
        ("README.md", "CBS", "CSB"),
    ],
)
def test_a_damaged_file_of_any_year_stops_every_year(embedded_copy, relative, old, new):
    """A damaged file of 2022 (or a vintage's metadata, or the README) stops a run of 2024 too,
    before anything is read: the snapshot is checked as one whole."""
    path = embedded_copy / relative
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8", errors="surrogateescape")
    with pytest.raises(IntegrityError, match=f"{relative} does not match its SHA-256"):
        embedded_snapshots(2024, embedded_dir=embedded_copy)
    with pytest.raises(IntegrityError, match="restore it"):
        embedded.read_year(2024, ("gemeente",), embedded_dir=embedded_copy)


def test_a_missing_or_unlisted_file_is_refused(embedded_copy):
    (embedded_copy / "kwb_files" / "kwb-2099.csv").write_text("x")
    with pytest.raises(IntegrityError, match="kwb-2099.csv is not listed in SHA256SUMS"):
        verify_snapshot(embedded_copy)
    (embedded_copy / "kwb_files" / "kwb-2099.csv").unlink()
    (embedded_copy / "README.md").unlink()
    with pytest.raises(IntegrityError, match="README.md is missing"):
        verify_snapshot(embedded_copy)


def test_a_changed_embedded_geometry_is_refused(embedded_copy):
    path = embedded_copy / "geometries" / "2024" / "gemeente.parquet"
    frame = pd.read_parquet(path)
    frame.iloc[::-1].to_parquet(path, index=False)  # same rows, other order: other bytes
    with pytest.raises(IntegrityError, match="gemeente.parquet does not match its SHA-256"):
        embedded.read_year(2024, ("gemeente",), embedded_dir=embedded_copy)


def test_a_truncated_stored_download_is_quarantined_and_the_run_goes_on(tmp_path):
    raw = tmp_path / "raw"
    good, bad = (read_snapshot(p) for p in list_snapshots(EMBEDDED_DIR / "kwb", "85984NED"))
    write_snapshot(good, raw)
    broken = write_snapshot(bad, raw)
    data = broken / "TypedDataSet.parquet"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # a download cut off half-way
    # CBS unreachable (a closed port on this machine): the stored snapshots are used.
    offline = CbsEndpoint("127.0.0.1:9", use_https=False, timeout_s=2, retries=0)
    got = cbs.snapshots(2024, raw_dir=raw, endpoint=offline, on_failure="use_stored")
    assert [s.vintage for s in got.snapshots] == [good.vintage]
    assert (
        got.download_error
        and len(got.quarantined) == 1
        and "does not match the SHA-256" in got.quarantined[0]
    )
    moved = [p for p in (raw / "85984NED").iterdir() if p.name.startswith(".quarantine-")]
    assert len(moved) == 1 and (moved[0] / "QUARANTINED.txt").is_file()
    # The next run does not trip over it again.
    again = cbs.snapshots(2024, raw_dir=raw, endpoint=offline, on_failure="use_stored")
    assert [s.vintage for s in again.snapshots] == [good.vintage] and again.quarantined == []
