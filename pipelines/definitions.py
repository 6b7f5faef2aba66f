"""The Definitions object Dagster loads (``dagster dev -m pipelines.definitions``)."""

import dagster as dg

from assets import crosswalk, geometries, layers, scores, statistics, warehouse, webmap
from pipelines.jobs import veerkracht_job
from pipelines.resources import resources_from_env
from pipelines.schedules import monthly_cbs_refresh
from pipelines.sensors import kwb_revision_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([statistics, geometries, warehouse, scores, layers, webmap, crosswalk]),
    jobs=[veerkracht_job],
    schedules=[monthly_cbs_refresh],
    sensors=[kwb_revision_sensor],
    resources=resources_from_env(),
)


def veerkracht_job() -> dg.JobDefinition:
    """The resolved main job; ``dg.reconstructable(veerkracht_job)`` runs it out of process."""
    return defs.resolve_job_def("veerkracht_job")
