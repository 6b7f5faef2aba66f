"""The one job: the whole asset graph. The command line, the UI's "Materialize all", a backfill,
the schedule and the sensor all launch it; they differ only in the years (partitions) and the
run config they give it (see ``pipelines/__main__.py``)."""

import dagster as dg

#: Modules the multiprocess executor's fork server imports once, so that each step process is
#: forked with them instead of importing them again (what the steps import in their bodies:
#: pandas, geopandas, DuckDB, scikit-learn, matplotlib and the domain modules). Measured with
#: the CLI: Utrecht 2023 multiprocess 13.7 -> 7.6 s (in process 3.8 s).
PRELOAD = [
    "pipelines.definitions",
    "pandas",
    "geopandas",
    "pyarrow.parquet",
    "duckdb",
    "shapely",
    "sklearn.linear_model",
    "scipy.stats",
    "matplotlib.pyplot",
    "veerkracht.geo.crosswalk",
    "veerkracht.geo.stage",
    "veerkracht.ingest.kwb",
    "veerkracht.ingest.pressure",
    "veerkracht.method.residents",
    "veerkracht.method.scoring",
    "veerkracht.method.validation",
    "veerkracht.publish.layers",
    "veerkracht.publish.preview",
    "veerkracht.publish.validation_report",
    "veerkracht.publish.webmap",
]
#: The executor every launch of the job gets unless its run config says otherwise (the UI, the
#: schedule, the sensor, the CLI's ``--executor multiprocess``): a step per process, forked
#: from a server that imported the code location and :data:`PRELOAD` once.
MULTIPROCESS = {"multiprocess": {"start_method": {"forkserver": {"preload_modules": PRELOAD}}}}

veerkracht_job = dg.define_asset_job(
    "veerkracht_job",
    selection=dg.AssetSelection.all(),
    config={"execution": {"config": MULTIPROCESS}},
    description="KWB + geometries of the run's years -> DuckDB warehouse -> veerkracht scores, resident "
    "counts, validation, layers and web map of every year in the build warehouse.",
)

#: What one year's statistics arrive as: its rows in the build warehouse and everything upstream.
INGEST = dg.AssetSelection.assets("warehouse_core").upstream()

#: Run config of a live refresh: statistics from CBS and the year's polygons from PDOK (the
#: embedded polygons cover 2024 and 2019 only).
#: (A run request's run config replaces the job's default one: the executor is said again.)
LIVE_RUN_CONFIG = {
    "execution": {"config": MULTIPROCESS},
    "resources": {"settings": {"config": {"source": "cbs", "geometry_source": "pdok"}}},
}
