"""Running the ``kwb_statistics`` asset against a local OData server (tests/helpers/odata_server.py)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from assets.resources import PipelineSettings, resources_for
from pipelines.definitions import build_defs
from veerkracht.ingest.snapshot import list_snapshots, read_snapshot
from veerkracht.paths import EMBEDDED_DIR, OutputLayout

#: The two real embedded vintages of KWB 2024 (April 2025 and the 2026 revision).
VINTAGES = [read_snapshot(p) for p in list_snapshots(EMBEDDED_DIR / "kwb", "85984NED")]
#: Short timeouts and backoff so fault tests take seconds.
FAST = {"cbs_timeout_s": 5, "cbs_retries": 2, "cbs_backoff_s": 0.01}


def run_kwb_asset(out: Path, server, **extra) -> dg.ExecuteInProcessResult:
    """Materialise ``kwb_statistics`` for 2024 from ``server`` into ``out`` (errors returned, not raised)."""
    settings = {"source": "cbs", "cbs_catalog_url": server.host, "cbs_use_https": False, **FAST, **extra}
    assets = build_defs(resources={}).assets
    kwb = [
        a for a in assets if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("kwb_statistics") in a.keys
    ]
    return dg.materialize(
        kwb,
        partition_key="2024",
        raise_on_error=False,
        resources=resources_for(PipelineSettings(output_dir=str(out), **settings)),
    )


def staged_values(layout: OutputLayout) -> pd.DataFrame:
    """The staged long-form values of 2024, in a fixed order."""
    v = pd.read_parquet(layout.staging(2024) / "kwb_value.parquet")
    # A live CBS download cannot know that the collected 2026 copy turned zeros into nulls;
    # the embedded manifest says so, hence that vintage's more specific NULL reason.
    v["null_reason"] = v["null_reason"].replace({"missing_or_zero_in_copy": "empty"})
    return v.sort_values(["vintage", "code", "source_key"], ignore_index=True)
