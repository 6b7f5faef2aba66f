"""Sensors: request a run for every KWB year whose table CBS has revised (stopped by default)."""

import dagster as dg

from assets.resources import PipelineSettings
from pipelines.jobs import LIVE_RUN_CONFIG, veerkracht_job
from veerkracht.registry import KWB_TABLES


@dg.sensor(
    job=veerkracht_job, minimum_interval_seconds=6 * 3600, default_status=dg.DefaultSensorStatus.STOPPED
)
def kwb_revision_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings):
    """Poll TableInfos.Modified of every KWB table; run the years whose table changed."""
    from veerkracht.ingest.kwb import find_revisions  # with pandas and the HTTP client, at evaluation

    revisions, errors = find_revisions(sorted(KWB_TABLES), settings.layout.raw_kwb, settings.endpoint)
    for year, error in errors.items():
        context.log.warning(f"KWB {year}: {error}")
    if not revisions:
        return dg.SkipReason(f"No revised KWB tables ({len(errors)} could not be checked)")
    # Newest year first: that is the one users look at.
    return [
        dg.RunRequest(
            run_key=f"{r.table_id}@{r.modified}",
            partition_key=str(r.year),
            run_config=LIVE_RUN_CONFIG,
            tags={"kwb_modified": r.modified, "kwb_stored": r.stored or "none"},
        )
        for r in sorted(revisions, key=lambda r: -r.year)
    ]
