"""Jobs: the one main job that materialises the whole graph for a year."""

import dagster as dg

veerkracht_job = dg.define_asset_job(
    "veerkracht_job",
    selection=dg.AssetSelection.all(),
    description="KWB + geometries -> DuckDB warehouse -> veerkracht scores -> layers, for one year.",
)
