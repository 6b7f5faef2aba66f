"""The Definitions object Dagster loads (``dagster dev -m pipelines.definitions``).

``build_defs`` is the one place that says what the code location holds; tests and the CLI call
it with their own resources instead of repeating the list of asset modules.
"""

import dagster as dg

from assets import ASSET_MODULES
from assets.recovery import recovering_executor, release_on_start
from assets.resources import resources_from_env
from pipelines.jobs import veerkracht_job
from pipelines.schedules import monthly_cbs_refresh
from pipelines.sensors import kwb_revision_sensor


def build_defs(resources: dict | None = None, loggers: dict | None = None) -> dg.Definitions:
    """Assets, checks, the main job, schedule and sensor; ``resources`` default to the environment's.
    ``loggers``: extra Dagster loggers (the CLI's summary logger)."""
    return dg.Definitions(
        executor=recovering_executor,
        loggers=loggers,
        assets=dg.load_assets_from_modules(list(ASSET_MODULES)),
        jobs=[veerkracht_job],
        schedules=[monthly_cbs_refresh],
        sensors=[kwb_revision_sensor],
        resources=resources if resources is not None else resources_from_env(),
    )


# Loading the code location releases what killed runs still hold (:mod:`assets.recovery`): a run
# worker loads it before it runs, and a script imports it before ``execute_in_process``. Once per
# process, not per ``build_defs`` call (the CLI builds them per run, after releasing itself).
release_on_start()
defs = build_defs()


def veerkracht_job_def() -> dg.JobDefinition:
    """The resolved main job; ``dg.reconstructable(veerkracht_job_def)`` runs it out of process."""
    return defs.resolve_job_def("veerkracht_job")
