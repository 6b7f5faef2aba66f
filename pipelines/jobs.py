"""Jobs: the one main job that materialises the whole graph for a year."""

import dagster as dg

veerkracht_job = dg.define_asset_job(
    "veerkracht_job",
    selection=dg.AssetSelection.all(),
    description="KWB + geometries -> DuckDB warehouse -> veerkracht scores -> layers, for one year.",
)

#: Run config of a live refresh: statistics from CBS and the year's polygons from PDOK (the
#: embedded polygons cover 2024 and 2019 only).
LIVE_RUN_CONFIG = {"resources": {"settings": {"config": {"source": "cbs", "geometry_source": "pdok"}}}}
