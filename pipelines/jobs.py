"""The one job: the whole asset graph. The command line, the UI's "Materialize all", a backfill,
the schedule and the sensor all launch it; they differ only in the years (partitions) and the
run config they give it (see ``pipelines/__main__.py``)."""

import dagster as dg

veerkracht_job = dg.define_asset_job(
    "veerkracht_job",
    selection=dg.AssetSelection.all(),
    description="KWB + geometries of the run's years -> DuckDB warehouse -> veerkracht scores, resident "
    "counts, validation, layers and web map of every year in the build warehouse.",
)

#: What one year's statistics arrive as: its rows in the build warehouse and everything upstream.
INGEST = dg.AssetSelection.assets("warehouse_core").upstream()

#: Run config of a live refresh: statistics from CBS and the year's polygons from PDOK (the
#: embedded polygons cover 2024 and 2019 only).
LIVE_RUN_CONFIG = {"resources": {"settings": {"config": {"source": "cbs", "geometry_source": "pdok"}}}}
