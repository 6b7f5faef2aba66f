"""The cbs source on the real code path: cbsodata against a local OData server on 127.0.0.1.

The server replays the embedded real 85984NED vintages in the feed's shape (see
odata_server.py); nothing in veerkracht or cbsodata is mocked.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from conftest import all_assets, resources_for
from odata_server import ODataFixture

from veerkracht.cbs_client import CbsDownloadError, download_kwb
from veerkracht.paths import EMBEDDED_DIR
from veerkracht.snapshot import list_snapshots, read_snapshot

VINTAGES = [read_snapshot(p) for p in list_snapshots(EMBEDDED_DIR / "kwb", "85984NED")]


def _kwb_asset():
    return [a for a in all_assets() if a.key == dg.AssetKey("kwb_statistics")]


def _run(out, host, **extra):
    return dg.materialize(_kwb_asset(), partition_key="2024", raise_on_error=False,
                          resources=resources_for(out, source="cbs", cbs_catalog_url=host,
                                                  cbs_use_https=False, cbs_timeout_s=10, **extra))


def _values(layout) -> pd.DataFrame:
    v = pd.read_parquet(layout.staging(2024) / "kwb_value.parquet")
    # A live CBS download cannot know that the collected 2026 copy turned zeros into nulls;
    # the embedded manifest says so, hence that vintage's more specific NULL reason.
    v["null_reason"] = v["null_reason"].replace({"missing_or_zero_in_copy": "empty"})
    return v.sort_values(["vintage", "code", "source_key"], ignore_index=True)


def test_cbs_source_equals_embedded_source(tmp_path, embedded_run):
    """Two downloads (the April-2025 release, then the 2026 revision) give the embedded result."""
    with ODataFixture() as server:
        for snap in VINTAGES:
            server.serve(snap)
            assert _run(tmp_path, server.host).success
        # The 2026 revision has 18,309 rows: the client followed odata.nextLink past 10,000.
        assert any("$skip=10000" in r for r in server.requests)
    layout = resources_for(tmp_path)["settings"].layout
    stored = sorted(p.name for p in (layout.raw_kwb / "85984NED").iterdir())
    assert stored == ["2025-03-27", "2026-07-19"]
    got, want = _values(layout), _values(embedded_run)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    regions = pd.read_parquet(layout.staging(2024) / "kwb_region.parquet")
    want_regions = pd.read_parquet(embedded_run.staging(2024) / "kwb_region.parquet")
    pd.testing.assert_frame_equal(regions.sort_values(["vintage", "code"], ignore_index=True),
                                  want_regions.sort_values(["vintage", "code"], ignore_index=True),
                                  check_dtype=False)


def test_server_error_is_a_clear_error_and_no_fallback(tmp_path):
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fail_next = [500]
        with pytest.raises(CbsDownloadError, match=r"85984NED.*127\.0\.0\.1.*500"):
            download_kwb("85984NED", catalog_url=server.host, use_https=False, timeout=5)
        server.fail_next = [503] * 20
        result = _run(tmp_path, server.host)
    assert not result.success
    layout = resources_for(tmp_path)["settings"].layout
    assert not layout.staging(2024).exists(), "a failed download must not stage anything"
    assert not (layout.raw_kwb / "85984NED").exists() or not any((layout.raw_kwb / "85984NED").iterdir())


def test_stalled_server_times_out(tmp_path):
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.stall_s = 3
        with pytest.raises(CbsDownloadError, match="timed out"):
            download_kwb("85984NED", catalog_url=server.host, use_https=False, timeout=0.5)


def test_unreachable_host_names_table_and_url():
    with pytest.raises(CbsDownloadError, match=r"85984NED from http://127\.0\.0\.1:9/"):
        download_kwb("85984NED", catalog_url="127.0.0.1:9", use_https=False, timeout=2)


def test_failed_download_keeps_earlier_snapshot(tmp_path):
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        assert _run(tmp_path, server.host).success
        layout = resources_for(tmp_path)["settings"].layout
        folder = layout.raw_kwb / "85984NED" / "2025-03-27"
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        staged_before = (layout.staging(2024) / "kwb_value.parquet").read_bytes()
        server.fail_next = [500] * 20
        assert not _run(tmp_path, server.host).success
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert (layout.staging(2024) / "kwb_value.parquet").read_bytes() == staged_before
    assert [p.name for p in (layout.raw_kwb / "85984NED").iterdir()] == ["2025-03-27"]
