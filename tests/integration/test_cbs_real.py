"""The cbs source end to end through the kwb_statistics asset: the two real vintages served on
127.0.0.1 (in the feed's shape) give exactly what the embedded source gives; re-downloads,
failures with and without stored snapshots, and the revision sensor. Nothing in veerkracht or
cbsodata is mocked."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from cbs_runs import FAST, VINTAGES, run_kwb_asset, staged_values
from odata_server import ODataFixture

from assets.resources import PipelineSettings
from veerkracht.ingest.kwb import find_revisions
from veerkracht.ingest.snapshot import list_snapshots, read_snapshot
from veerkracht.paths import OutputLayout


def test_cbs_source_equals_embedded_source(tmp_path, embedded_run):
    """Two downloads (the April-2025 release, then the 2026 revision) give the embedded result."""
    with ODataFixture() as server:
        for snap in VINTAGES:
            server.serve(snap)
            assert run_kwb_asset(tmp_path, server).success
        # The 2026 revision has 18,309 rows: the client followed odata.nextLink past 10,000.
        assert any("$skip=10000" in r for r in server.requests)
    layout = OutputLayout(tmp_path)
    assert sorted(p.name for p in (layout.raw_kwb / "85984NED").iterdir()) == ["2025-03-27", "2026-07-19"]
    manifest = read_snapshot(layout.raw_kwb / "85984NED" / "2026-07-19").manifest
    assert len(manifest["sha256"]) == 64 and manifest["downloaded_at"] and manifest["rows"] == 18309
    pd.testing.assert_frame_equal(staged_values(layout), staged_values(embedded_run), check_dtype=False)
    regions = pd.read_parquet(layout.staging(2024) / "kwb_region.parquet")
    want = pd.read_parquet(embedded_run.staging(2024) / "kwb_region.parquet")
    pd.testing.assert_frame_equal(
        regions.sort_values(["vintage", "code"], ignore_index=True),
        want.sort_values(["vintage", "code"], ignore_index=True),
        check_dtype=False,
    )


def test_redownload_of_unchanged_table_adds_no_snapshot(tmp_path):
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        assert run_kwb_asset(tmp_path, server).success and run_kwb_asset(tmp_path, server).success
    assert [p.name for p in (OutputLayout(tmp_path).raw_kwb / "85984NED").iterdir()] == ["2025-03-27"]


def test_failure_without_stored_snapshot_fails_and_stages_nothing(tmp_path):
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        server.fault("503", "", times=20)
        assert not run_kwb_asset(tmp_path, server).success
    layout = OutputLayout(tmp_path)
    assert not (layout.staging(2024) / "kwb_value.parquet").exists()
    assert list_snapshots(layout.raw_kwb, "85984NED") == []


def test_failure_with_stored_snapshot_uses_it_and_says_so(tmp_path):
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        assert run_kwb_asset(tmp_path, server).success
        layout = OutputLayout(tmp_path)
        folder = layout.raw_kwb / "85984NED" / "2025-03-27"
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        server.fault("reset", "", times=20)
        result = run_kwb_asset(tmp_path, server)
        assert result.success
        meta = result.asset_materializations_for_node("kwb_statistics")[0].metadata
        assert "failed" in meta["download_error"].value and meta["vintages"].value == "2025-03-27"
        # With cbs_on_failure=fail the same outage fails the run and changes nothing.
        staged = (layout.staging(2024) / "kwb_value.parquet").read_bytes()
        server.fault("reset", "", times=20)
        assert not run_kwb_asset(tmp_path, server, cbs_on_failure="fail").success
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert (layout.staging(2024) / "kwb_value.parquet").read_bytes() == staged
    assert [p.name for p in (layout.raw_kwb / "85984NED").iterdir()] == ["2025-03-27"]


def test_a_broken_response_limit_from_the_run_config_falls_back_to_the_stored_download(tmp_path):
    """The limits per response come from the run config (cbs_max_pages here: the 2026 revision
    has 18,309 rows, two pages); a broken one ends like any failed download, in the stored
    snapshot (the April 2025 vintage, one page)."""
    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        assert run_kwb_asset(tmp_path, server, cbs_max_pages=1).success
        server.serve(VINTAGES[1])
        result = run_kwb_asset(tmp_path, server, cbs_max_pages=1)
    assert result.success
    meta = result.asset_materializations_for_node("kwb_statistics")[0].metadata
    assert "TypedDataSet answered with more than 1 pages (the page cap)" in meta["download_error"].value
    assert meta["vintages"].value == "2025-03-27"
    with pytest.raises(Exception, match="must be more than 0"):
        PipelineSettings(output_dir=str(tmp_path), cbs_response_deadline_s=0)


def test_revision_sensor_requests_runs_for_revised_tables(tmp_path):
    from pipelines.sensors import kwb_revision_sensor

    with ODataFixture() as server:
        server.serve(VINTAGES[0])
        settings = PipelineSettings(
            output_dir=str(tmp_path), cbs_catalog_url=server.host, cbs_use_https=False, **FAST
        )
        revisions, errors = find_revisions([2024], settings.layout.raw_kwb, settings.endpoint)
        served = VINTAGES[0].table_infos[0]["Modified"]  # the real release stamp of that vintage
        assert [(r.year, r.modified, r.stored) for r in revisions] == [(2024, served, None)]
        # Other years are 404 on this server: reported per year, never a crash.
        _, errors = find_revisions([2023], settings.layout.raw_kwb, settings.endpoint)
        assert "HTTP 404" in errors[2023]
        with dg.build_sensor_context(resources={"settings": settings}) as ctx:
            requests = kwb_revision_sensor(ctx)
        assert [(r.partition_key, r.run_key) for r in requests] == [("2024", f"85984NED@{served}")]
        # After the run stored that vintage, the sensor is quiet until CBS revises the table.
        assert run_kwb_asset(tmp_path, server).success
        assert find_revisions([2024], settings.layout.raw_kwb, settings.endpoint)[0] == []
        server.serve(VINTAGES[1])
        assert [
            r.modified for r in find_revisions([2024], settings.layout.raw_kwb, settings.endpoint)[0]
        ] == ["2026-07-19T00:00:00"]
