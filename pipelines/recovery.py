"""Recovering from killed runs before a new one starts.

A run killed with ``kill -9`` (or by the OOM killer, or a reboot) cannot release what it held:
its run stays "started" and its claim on the ``duckdb`` pool's only slot stays taken, so every
later run waits for that slot for ever. The CLI tags its runs with its host and process id; a
run so tagged whose process is gone is marked failed and its slots are released. Slots still held
by runs that have ended (failed, canceled) are released too. Runs launched by ``dagster dev`` are
left to Dagster's own run monitoring.
"""

from __future__ import annotations

import os
import socket

import dagster as dg

from veerkracht.atomic import process_alive

PID_TAG = "veerkracht/pid"
HOST_TAG = "veerkracht/host"
ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def run_tags() -> dict[str, str]:
    """Tags that let a later CLI run see whether this process is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark this host's runs whose process is gone as failed and free the slots they (or any ended
    run) still hold; return a line per run released."""
    released = []
    host = socket.gethostname()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE)):
        pid = run.tags.get(PID_TAG)
        if run.tags.get(HOST_TAG) != host or not pid or process_alive(int(pid)):
            continue
        instance.report_run_failed(
            run, message=f"Its process {pid} is gone (killed); released by the next run"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(f"run {run.run_id[:8]} (process {pid} is gone): marked failed, pool slots released")
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for key in storage.get_concurrency_keys():
            info = storage.get_concurrency_info(key)
            holders = {slot.run_id for slot in info.claimed_slots} | {
                step.run_id for step in info.pending_steps
            }
            for run_id in sorted(holders):
                run = instance.get_run_by_id(run_id)
                if run is None or run.is_finished:
                    storage.free_concurrency_slots_for_run(run_id)
                    released.append(
                        f"run {run_id[:8]} ({run.status.value.lower() if run else 'unknown'}): "
                        f"its {key!r} slot released"
                    )
    return released
