"""The Dagster instance of the project's dagster.yaml (pipelines/instance.py): runs and their
events are recorded in Dagster's own files, readable by Dagster's own storages both ways, in
``$DAGSTER_HOME`` and in ``dagster dev``'s temporary folder, and every database file is opened
through one SQLAlchemy engine however often it is used, which keeps a connection open between
uses without keeping other processes out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from sqlalchemy import event
from sqlalchemy.pool import Pool
from testpaths import REPO

from pipelines import instance as project_instance


@dg.asset
def numbers() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


JOB = dg.define_asset_job("numbers_job", selection=[numbers])
DEFS = dg.Definitions(assets=[numbers], jobs=[JOB])


def _home(tmp_path, name: str, yaml_text: str):
    home = tmp_path / name
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml_text)
    return home


def _materialise(instance: dg.DagsterInstance) -> str:
    result = DEFS.resolve_job_def("numbers_job").execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def _rows_seen(instance: dg.DagsterInstance, run_id: str) -> int:
    """The run's materialisation as the instance reads it back: from the runs file, the run's own
    event file, and the asset index (which lists it among the asset's materialisations)."""
    assert instance.get_run_by_id(run_id).is_success
    (event,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    indexed = instance.fetch_materializations(dg.AssetKey("numbers"), limit=100).records
    assert run_id in {r.run_id for r in indexed}
    return event.asset_materialization.metadata["rows"].value


# Dagster's own defaults: the project's dagster.yaml without its instance class.
DAGSTERS_OWN = (REPO / "dagster.yaml").read_text().split("\ninstance_class:")[0]


def test_the_projects_instance_and_dagsters_read_each_others_runs(tmp_path, monkeypatch):
    """An instance made before the class (Dagster's default storages) reads on, and the files the
    class writes are Dagster's: each reads the runs, events and asset index the other wrote."""
    assert "instance_class" not in DAGSTERS_OWN and "concurrency" in DAGSTERS_OWN
    ours = _home(tmp_path, "ours", (REPO / "dagster.yaml").read_text())
    theirs = _home(tmp_path, "theirs", DAGSTERS_OWN)
    monkeypatch.setenv("DAGSTER_HOME", str(ours))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance, project_instance.Instance)
        assert isinstance(instance.event_log_storage, project_instance.EventLogStorage)
        assert isinstance(instance.run_storage, project_instance.RunStorage)
        assert instance.event_log_storage.supports_global_concurrency_limits  # the duckdb pool
        run_id = _materialise(instance)
    shutil.copy(theirs / "dagster.yaml", ours / "dagster.yaml")  # the same folder, Dagster's storages
    with dg.DagsterInstance.get() as instance:
        assert type(instance) is dg.DagsterInstance
        assert _rows_seen(instance, run_id) == 3
        older = _materialise(instance)  # a run recorded by Dagster's storages ...
    shutil.copy(REPO / "dagster.yaml", ours / "dagster.yaml")
    with dg.DagsterInstance.get() as instance:  # ... which the class reads on
        assert {r.run_id for r in instance.get_runs()} == {run_id, older}
        assert _rows_seen(instance, older) == 3


def test_dagster_dev_without_dagster_home_uses_the_class_in_its_temporary_folder(tmp_path, monkeypatch):
    """``dagster dev`` run in the checkout without DAGSTER_HOME reads the checkout's dagster.yaml
    and keeps its storage in a temporary folder: the class puts the files there."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path), config_dir=str(REPO))) as instance:
        assert isinstance(instance.event_log_storage, project_instance.EventLogStorage)
        run_id = _materialise(instance)
        assert _rows_seen(instance, run_id) == 3
    assert (tmp_path / "history" / "runs.db").is_file()
    assert (tmp_path / "history" / "runs" / f"{run_id}.db").is_file()


def test_each_database_file_is_opened_through_one_engine(tmp_path, monkeypatch):
    """Dagster's storages made an engine per connection (~100 a run); the class one per file."""
    made: list[str] = []
    real = project_instance.create_engine

    def counted(url, **kwargs):
        made.append(str(url))
        return real(url, **kwargs)

    monkeypatch.setattr(project_instance, "create_engine", counted)
    monkeypatch.setenv("DAGSTER_HOME", str(_home(tmp_path, "home", (REPO / "dagster.yaml").read_text())))
    with dg.DagsterInstance.get() as instance:
        run_ids = [_materialise(instance) for _ in range(3)]
        for run_id in run_ids:
            assert _rows_seen(instance, run_id) == 3
            assert len(instance.all_logs(run_id)) > 10
    # The runs file, the event index, the schedules file and each run's event file: one engine each.
    assert len(made) == len(set(made)) == 3 + len(run_ids), made


def test_a_long_lived_process_keeps_the_engines_of_the_files_it_used_last(tmp_path, monkeypatch):
    """A webserver reads many runs' files: it keeps the engines of the last few, and reads on."""
    keep = 2
    monkeypatch.setattr(project_instance, "KEEP_ENGINES", keep)
    monkeypatch.setenv("DAGSTER_HOME", str(_home(tmp_path, "home", (REPO / "dagster.yaml").read_text())))
    with dg.DagsterInstance.get() as instance:
        run_ids = [_materialise(instance) for _ in range(3)]
        for run_id in run_ids:  # every run's events still read, engines made again as needed
            assert _rows_seen(instance, run_id) == 3
        assert len(instance.event_log_storage._engines) == keep


def test_a_step_waiting_for_the_duckdb_slot_asks_again_within_a_fifth_of_a_second(tmp_path, monkeypatch):
    """The one-writer pool: a second run's step is refused while the first holds the slot, told to
    ask again after CLAIM_RETRY_S (Dagster's executor otherwise waits 1 s and more), and gets the
    slot once the first step frees it."""
    monkeypatch.setenv("DAGSTER_HOME", str(_home(tmp_path, "home", (REPO / "dagster.yaml").read_text())))
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("duckdb")
        assert storage.get_concurrency_info("duckdb").slot_count == 1  # dagster.yaml's default_limit
        assert storage.claim_concurrency_slot("duckdb", "run_a", "warehouse_core").is_claimed
        waiting = storage.claim_concurrency_slot("duckdb", "run_b", "warehouse_core")
        assert not waiting.is_claimed and waiting.sleep_interval == project_instance.CLAIM_RETRY_S <= 0.2
        storage.free_concurrency_slot_for_step("run_a", "warehouse_core")
        assert storage.claim_concurrency_slot("duckdb", "run_b", "warehouse_core").is_claimed


def test_a_database_file_is_opened_once_and_other_processes_still_write_it(tmp_path, monkeypatch):
    """Dagster's storages opened a SQLite file for every use (~500 times in a run of the small
    Utrecht year; 134 times for the three runs here); the class keeps one connection per file
    between uses, and a new run's file is opened twice (Dagster creates it through an engine of
    its own). The connections it keeps lock nothing: another process records a run in the same
    folder meanwhile, and this process then reads that run and its events as they are now."""
    opened: list[int] = []

    def count(dbapi_connection, record):
        opened.append(1)

    home = _home(tmp_path, "home", (REPO / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        first = _materialise(instance)  # the instance's files made and checked
        event.listen(Pool, "connect", count)
        try:
            run_ids = [_materialise(instance) for _ in range(3)]
            for run_id in [first, *run_ids]:
                assert _rows_seen(instance, run_id) == 3
        finally:
            event.remove(Pool, "connect", count)
        assert len(opened) <= 3 * len(run_ids), len(opened)
        storages = [instance.run_storage, instance.schedule_storage]
        engines = [s._engine for s in storages] + list(instance.event_log_storage._engines.values())
        pools = [engine.pool for engine in engines]
        assert [pool.checkedin() for pool in pools] == [1] * len(pools)  # each kept open, idle
        other = subprocess.run(
            [sys.executable, "-c", OTHER_PROCESS],
            env={**os.environ, "DAGSTER_HOME": str(home)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert other.returncode == 0, other.stderr[-2000:]
        theirs = other.stdout.split()[-1]
        assert _rows_seen(instance, theirs) == 3  # a new run, read through the open connections
        assert {r.run_id for r in instance.get_runs()} == {first, *run_ids, theirs}
    assert [pool.checkedin() for pool in pools] == [0] * len(pools)  # the instance disposed: closed


# Another process materialises the same asset in the same Dagster home (as a run from the UI or a
# second terminal does) while the test's process holds its idle connections open.
OTHER_PROCESS = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
sys.path.insert(0, {str(REPO / "tests" / "unit")!r})
sys.path.insert(0, {str(REPO / "tests" / "helpers")!r})
import dagster as dg
from test_instance import _materialise
with dg.DagsterInstance.get() as instance:
    print(_materialise(instance))
"""


def test_a_forked_child_opens_its_own_connections(tmp_path, monkeypatch):
    """A process forked while the instance holds open connections: the child does not use (or
    close) the parent's, it opens its own and reads; the parent reads on through its own."""
    monkeypatch.setenv("DAGSTER_HOME", str(_home(tmp_path, "home", (REPO / "dagster.yaml").read_text())))
    with dg.DagsterInstance.get() as instance:
        run_id = _materialise(instance)
        engine = instance.run_storage._engine
        assert engine.pool.checkedin() == 1
        child = os.fork()
        if child == 0:  # the child: report through the exit code only
            code = 1
            try:
                fresh = engine.pool.checkedin() == 0  # the parent's connection is not in its pool
                code = 0 if fresh and _rows_seen(instance, run_id) == 3 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert engine.pool.checkedin() == 1 and _rows_seen(instance, run_id) == 3
