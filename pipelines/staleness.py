"""What a command must run, decided by Dagster's own versions (no bookkeeping beside the graph).

The command line observes the three source assets (``kwb_inputs`` of its years, ``method_spec``,
``validation_inputs``; :mod:`assets.versions`) and asks Dagster which assets are stale or
missing: the statistics of a year whose inputs changed, the scores after a new spec, the
validation after new criteria, everything after new code, and whatever a killed run did not
materialise, or whose last planned materialisation failed (its tables may be half written). It
runs those and everything downstream of them, or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.definitions.data_version import (
    DATA_VERSION_TAG,
    CachingStaleStatusResolver,
    StaleStatus,
)
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.loader import LoadingContext

from veerkracht import fingerprint
from veerkracht.method.spec import load_spec
from veerkracht.paths import OutputLayout

#: A cause's dependency, as the "Why:" line names it.
CAUSES = {
    "kwb_inputs": "inputs changed",
    "method_spec": "spec changed",
    "validation_inputs": "criteria changed",
}


class _Loading(LoadingContext):
    """The batch-loading scope Dagster's stale-status resolver needs outside the webserver."""

    def __init__(self, instance: dg.DagsterInstance):
        self._instance, self._loaders = instance, {}

    @property
    def instance(self) -> dg.DagsterInstance:
        return self._instance

    @property
    def loaders(self) -> dict:
        return self._loaders


@dataclass
class Decision:
    """``stale``: the asset keys to run ("all" for the whole job over the years); ``why``: per
    reason, the assets or years it applies to."""

    stale: set[str] | str | None
    why: dict[str, list[str]] = field(default_factory=dict)


def observe(instance: dg.DagsterInstance, settings: dict, years: list[int], cbs_modified) -> None:
    """Record the current versions of the run's inputs and spec in the instance (what the UI's
    "Observe sources" records from the same functions)."""
    for year in years:
        version = fingerprint.inputs_version(settings, year, cbs_modified)
        instance.report_runless_asset_event(
            dg.AssetObservation("kwb_inputs", partition=str(year), tags={DATA_VERSION_TAG: version})
        )
    spec = load_spec(settings["method_spec"])
    version = fingerprint.spec_version(spec.spec_hash, settings["output_dir"])
    instance.report_runless_asset_event(dg.AssetObservation("method_spec", tags={DATA_VERSION_TAG: version}))
    version = fingerprint.criteria_version(settings)
    instance.report_runless_asset_event(
        dg.AssetObservation("validation_inputs", tags={DATA_VERSION_TAG: version})
    )


def _unfinished(resolver: CachingStaleStatusResolver, key: dg.AssetKey, partition: str | None) -> bool:
    """A run planned to materialise ``key`` after its latest materialisation and did not: it failed
    or was killed in that step, which may have left its tables half written (Dagster's versions
    still name the materialisation before). The latest materialisation is the one the resolver
    read for the status (its queryer keeps it), not asked for again."""
    instance = resolver.instance_queryer.instance
    planned = instance.get_latest_planned_materialization_info(key, partition)
    if planned is None:
        return False
    done = resolver.instance_queryer.get_latest_materialization_or_observation_record(
        AssetKeyPartitionKey(key, partition)
    )
    if done and done.storage_id > planned.storage_id:
        return False
    run = instance.get_run_by_id(planned.run_id)
    return run is None or run.is_finished


def _why(resolver: CachingStaleStatusResolver, key: dg.AssetKey, partition: str | None):
    """Why ``key`` (of ``partition``) must run, or None when it is up to date."""
    status = resolver.get_status(key, partition)
    if status == StaleStatus.FRESH:
        return "a run did not finish" if _unfinished(resolver, key, partition) else None
    if status == StaleStatus.MISSING:
        return "not built with this Dagster instance yet"
    for cause in resolver.get_stale_root_causes(key, partition):
        for end in (cause.key, cause.dependency):
            name = getattr(end, "asset_key", end)
            if name is not None and name.to_user_string() in CAUSES:
                return CAUSES[name.to_user_string()]
        if cause.category.value == "CODE":
            return "code or libraries changed"
    return "an upstream asset changed"


def decide(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: dict, years: list[int], cbs_modified
) -> Decision:
    """Observe, then what must run: the whole job when a year's statistics or polygons are stale
    or missing (or the outputs were deleted), else the stale assets and what is downstream of
    them, else nothing."""
    layout = OutputLayout(Path(settings["output_dir"]))
    observe(instance, settings, years, cbs_modified)
    graph = defs.resolve_asset_graph()
    resolver = CachingStaleStatusResolver(instance, graph, _Loading(instance))
    why: dict[str, list[str]] = {}
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    # Every asset's record in one query, not one query per asset as the resolver asks for them
    # (nothing changed, the embedded years, 6 runs each alternating: 1.98-2.07 -> 1.75-1.97 s).
    resolver.instance_queryer.prefetch_asset_records(graph.get_all_asset_keys())
    partitioned = [k for k in keys if graph.get(k).partitions_def is not None]
    for year in years:
        for key in partitioned:
            reason = _why(resolver, key, str(year))
            if reason:
                why.setdefault(reason, []).append(str(year))
                break
    if why:
        return Decision("all", why)
    stale = set()
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        reason = None if key in partitioned else _why(resolver, key, None)
        if reason:
            why.setdefault(reason, []).append(key.to_user_string())
            stale.add(key.to_user_string())
    if not stale:
        if fingerprint.outputs_present(layout, years):
            return Decision(None)
        return Decision("all", {"outputs missing": [str(y) for y in years]})
    closure = dg.AssetSelection.assets(*stale).downstream().resolve(graph)
    return Decision({k.to_user_string() for k in closure}, why)
