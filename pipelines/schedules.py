"""Schedules: a monthly re-run against the live CBS API (stopped by default: offline is the default)."""

import dagster as dg

from pipelines.jobs import LIVE_RUN_CONFIG, veerkracht_job
from veerkracht.registry import KWB_TABLES


@dg.schedule(job=veerkracht_job, cron_schedule="0 6 1 * *", default_status=dg.DefaultScheduleStatus.STOPPED)
def monthly_cbs_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Re-download the newest KWB year from CBS on the 1st of every month (KWB is revised in phases)."""
    year = str(max(KWB_TABLES))
    return dg.RunRequest(
        run_key=f"{year}-{context.scheduled_execution_time:%Y-%m}",
        partition_key=year,
        run_config=LIVE_RUN_CONFIG,
    )
