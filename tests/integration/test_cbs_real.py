"""The cbs source end to end: the two real vintages served on 127.0.0.1 (in the feed's shape)
give exactly what the embedded source gives; nothing in veerkracht or cbsodata is mocked."""

from __future__ import annotations

import pandas as pd
from cbs_runs import VINTAGES, run_kwb_asset, staged_values
from odata_server import ODataFixture

from veerkracht.ingest.snapshot import read_snapshot
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
        regions.sortstaged_values(["vintage", "code"], ignore_index=True),
        want.sortstaged_values(["vintage", "code"], ignore_index=True),
        check_dtype=False,
    )
