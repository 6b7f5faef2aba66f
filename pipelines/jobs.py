"""Jobs: the main job that materialises the whole graph for a year, and two parts of it that a run
over several years needs (see ``pipelines/__main__.py``)."""

import dagster as dg

veerkracht_job = dg.define_asset_job(
    "veerkracht_job",
    selection=dg.AssetSelection.all(),
    description="KWB + geometries -> DuckDB warehouse -> veerkracht scores -> layers, for one year.",
)

#: Run config of a live refresh: statistics from CBS and the year's polygons from PDOK (the
#: embedded polygons cover 2024 and 2019 only).
LIVE_RUN_CONFIG = {"resources": {"settings": {"config": {"source": "cbs", "geometry_source": "pdok"}}}}

#: The main job without the (unpartitioned) boundary crosswalk and validation: the middle years of
#: a multi-year run (the first run builds the crosswalk, the last one validates every year).
veerkracht_year_job = dg.define_asset_job(
    "veerkracht_year_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("boundary_crosswalk", "score_validation"),
    description="As veerkracht_job, without the boundary crosswalk and the validation of all years.",
)

#: The year's statistics and polygons in the build warehouse and the boundary crosswalk, nothing
#: scored: the goalpost base year goes first in a multi-year run, so that every other year is
#: scored on its goalposts and compared through the crosswalk.
veerkracht_ingest_job = dg.define_asset_job(
    "veerkracht_ingest_job",
    selection=dg.AssetSelection.assets("warehouse_core").upstream()
    | dg.AssetSelection.assets("boundary_crosswalk"),
    description="KWB statistics + geometries -> build warehouse for one year, and the crosswalk (no scores).",
)

#: Scores and everything built from them, for one year: after earlier years were scored, the
#: goalpost base year is scored again so that its change classes can compare with them.
veerkracht_rescore_job = dg.define_asset_job(
    "veerkracht_rescore_job",
    selection=dg.AssetSelection.assets("veerkracht_scores").downstream(),
    description="Scores -> layers -> dashboard warehouse -> web map for one year (statistics as stored).",
)

#: As the rescore job, without the validation of every year: the years of a rescore with a new
#: spec but the last (which validates them all).
veerkracht_rescore_year_job = dg.define_asset_job(
    "veerkracht_rescore_year_job",
    selection=dg.AssetSelection.assets("veerkracht_scores").downstream()
    - dg.AssetSelection.assets("score_validation"),
    description="Scores -> layers -> dashboard warehouse -> web map for one year, no validation.",
)
