"""The Dagster instance the project's ``dagster.yaml`` names (``instance_class``): Dagster's own,
on its SQLite storages, but opening each database file through one SQLAlchemy engine.

Why: Dagster's SQLite run and event log storages create a new SQLAlchemy engine for every
connection they open (``create_engine``, then the dialect's first-connect checks), 1-1.5 ms each
on this machine against 0.15 ms for a connection of an engine already made. A run stores ~100
events, most with a connection to its run's file and one to the index; deciding that nothing
changed on the embedded years made 263 engines. Here every storage keeps one engine per file.

What stays as Dagster has it: connections are not pooled (``NullPool``): every use opens the
file and closes it again, so the CLI, ``dagster dev``, its daemon and the step processes share the
files as before, each database is created and checked (Alembic) the first time a process opens it,
and the files are where Dagster's defaults put them under the instance's folder (``history/``,
``history/runs/``, ``schedules/``), so an instance made before this class reads on. Only the
storage defaults change: every setting in dagster.yaml (telemetry, pools, ...) applies as before,
and a ``storage`` block there still replaces these storages. The folder is the one Dagster gives
(``$DAGSTER_HOME``, or ``dagster dev``'s temporary folder when it is unset).
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from functools import cached_property

import dagster as dg
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

#: Seconds a step waiting for a pool's slot (the ``duckdb`` pool: one writer at a time) waits
#: before asking again whether the slot was handed to it. Dagster's SQLite storage names no
#: interval, and its executor then waits 1 s, growing to 15 s: a step of the multiprocess executor
#: started up to a second after the step before it had released the build file. A claim asks
#: two or three indexed queries of the index file.
CLAIM_RETRY_S = 0.2
#: Event log files whose engines a process keeps (the index and the runs it read last): a
#: webserver reads many runs' files over its life.
KEEP_ENGINES = 64


class RunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage, its connections from one engine."""

    @cached_property
    def _engine(self):
        return create_engine(self._conn_string, poolclass=NullPool)

    @contextmanager
    def connect(self):
        with self._engine.connect() as conn, conn.begin():
            yield conn


class EventLogStorage(sqlite_event_log.SqliteEventLogStorage):
    """Dagster's SQLite event log storage (a file per run and an index), its connections to each
    file from one engine, and a step waiting for a pool's slot told to ask again soon."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict = OrderedDict()  # by file (shard), the one used last at the end
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str):
        with self._db_lock:
            engine = self._engine_for(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def claim_concurrency_slot(self, concurrency_key: str, run_id: str, step_key: str, priority=None):
        status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        if status.is_claimed or status.sleep_interval is not None:
            return status
        return status.with_sleep_interval(CLAIM_RETRY_S)

    def _engine_for(self, shard: str):
        engines = self._engines
        if shard in engines:
            engines.move_to_end(shard)
        else:
            engines[shard] = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=NullPool,
                connect_args={"timeout": sqlite_event_log.SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            if len(engines) > KEEP_ENGINES:
                engines.popitem(last=False)
        return engines[shard]


class SqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, event logs, schedules under one folder) on the storages
    above; the schedule storage is Dagster's."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        self._run_storage = RunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = EventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> SqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


class Instance(dg.DagsterInstance):
    """Dagster's instance, on :class:`SqliteStorage` unless dagster.yaml configures storage."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> dict:
        storage = ConfigurableClassData(__name__, SqliteStorage.__name__, yaml.dump({"base_dir": base_dir}))
        return {**InstanceRef.config_defaults(base_dir), "storage": storage}
