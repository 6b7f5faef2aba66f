"""Recovering from killed runs before a new one starts, whoever started either.

A run killed with ``kill -9`` (or by the OOM killer, or a reboot) cannot release what it held:
its run stays "started" and its claim on the ``duckdb`` pool's only slot stays taken, so every
later run waits for that slot for ever (an in-process run spinning at 100 % CPU). So every run
says which process runs it (tags: host and process id) and, before its steps start, frees what
dead runs hold: a run so tagged whose process is gone is marked failed and its slots released;
slots still held by runs that have ended (failed, canceled) are released too.

Who tags and releases, for each way to start a run: the CLI (its tags, and a release before it
decides anything, also when there is nothing to do); runs launched by Dagster (UI,
schedule, sensor, backfill) through :data:`recovering_executor`, which does both in the
orchestrating process before any step; ``execute_in_process`` (which ignores a job's executor)
through the ``settings`` resource's setup (:func:`tag_this_run`) and the release when
``pipelines.definitions`` loads.
"""

from __future__ import annotations

import logging
import os
import socket

import dagster as dg
from dagster._core.executor.base import Executor  # the interface an executor implements

from veerkracht.atomic import process_alive

PID_TAG = "veerkracht/pid"
HOST_TAG = "veerkracht/host"
ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def run_tags() -> dict[str, str]:
    """Tags that let a later run see whether this process is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def tag_this_run(instance: dg.DagsterInstance, run_id: str) -> None:
    """Tag ``run_id`` with this process unless it is tagged already (by the CLI, or by the
    executor in the orchestrating process: a multiprocess step's own process must not count)."""
    run = instance.get_run_by_id(run_id)
    if run is not None and PID_TAG not in run.tags:
        instance.add_run_tags(run_id, run_tags())


#: The instances (their folders) this process has released already: the CLI releases before it
#: imports the code location, whose import would otherwise open the instance again to do the same.
_RELEASED: set[str] = set()


def release_on_start(instance: dg.DagsterInstance | None = None) -> list[str]:
    """:func:`release_dead_runs` on ``instance`` (default: ``$DAGSTER_HOME``'s, if set, unless this
    process released it already); never raises: recovery must not stop a run, or the loading of
    the code location."""
    try:
        if instance is None:
            home = os.environ.get("DAGSTER_HOME")
            if not home or os.path.realpath(home) in _RELEASED:
                return []
            with dg.DagsterInstance.get() as got:
                return release_on_start(got)
        if instance.root_directory:
            _RELEASED.add(os.path.realpath(instance.root_directory))
        return release_dead_runs(instance)
    except Exception as exc:  # noqa: BLE001 - a failed recovery is logged, the run goes on
        logging.getLogger(__name__).warning("Could not release the slots of dead runs: %s", exc)
        return []


class _RecoveringExecutor(Executor):
    """Dagster's executor, after tagging the run and releasing dead runs' slots."""

    def __init__(self, inner: Executor):
        self._inner = inner

    def execute(self, plan_context, execution_plan):
        tag_this_run(plan_context.instance, plan_context.run_id)
        for line in release_on_start(plan_context.instance):
            plan_context.log.warning(f"Recovered from a killed run: {line}")
        yield from self._inner.execute(plan_context, execution_plan)

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config


_BASE = dg.multi_or_in_process_executor
#: The code location's executor: Dagster's default (multiprocess, or in-process when configured),
#: run after tagging the run and releasing what dead runs hold.
recovering_executor = dg.ExecutorDefinition(
    name=_BASE.name,
    config_schema=_BASE.config_schema,
    requirements=_BASE.get_requirements,
    executor_creation_fn=lambda init_context: _RecoveringExecutor(_BASE.executor_creation_fn(init_context)),
    description="Dagster's default executor, releasing the pool slots of killed runs first.",
)


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
