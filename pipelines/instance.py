"""The Dagster instance the project's ``dagster.yaml`` names (``instance_class``): Dagster's own,
on its SQLite storages, but opening each database file through one SQLAlchemy engine that keeps
a connection open between uses.

Why: Dagster's SQLite run, event log and schedule storages create a new SQLAlchemy engine for every
connection they open (``create_engine``, then the dialect's first-connect checks), 1-1.5 ms each
on this machine against 0.15 ms for a connection of an engine already made. A run stores ~100
events, most with a connection to its run's file and one to the index; deciding that nothing
changed on the embedded years made 263 engines. Here every storage keeps one engine per file.
And Dagster's engines pool nothing (``NullPool``): every use opened the file (SQLite then reads its
schema anew) and closed it again, ~500 times in a run of the small Utrecht year. Here each engine
keeps one idle connection (more at once are opened and closed as before): Utrecht 2023 from the
command line 6.2-7.9 -> 5.5-5.9 s wall, four runs each, alternating. An idle SQLite connection
holds no lock (the pool ends every use with a rollback), so the CLI, ``dagster dev``, its daemon
and the step processes share the files as before; a process forked with open connections drops them
in the child (SQLAlchemy's ``dispose(close=False)``), and disposing of the instance closes them.

What stays as Dagster has it: each database is created and checked (Alembic) the first time a
process opens it, and the files are where Dagster's defaults put them under the instance's folder
(``history/``, ``history/runs/``, ``schedules/``), so an instance made before this class reads
on. Only the storage defaults change: every setting in dagster.yaml (telemetry, pools, ...)
applies as before, and a ``storage`` block there still replaces these storages. The folder is
the one Dagster gives (``$DAGSTER_HOME``, or ``dagster dev``'s temporary folder when it is
unset).
"""

from __future__ import annotations

import os
import weakref
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
from sqlalchemy.pool import QueuePool

#: Seconds a step waiting for a pool's slot (the ``duckdb`` pool: one writer at a time) waits
#: before asking again whether the slot was handed to it. Dagster's SQLite storage names no
#: interval, and its executor then waits 1 s, growing to 15 s: a step of the multiprocess executor
#: started up to a second after the step before it had released the build file. A claim asks
#: two or three indexed queries of the index file.
CLAIM_RETRY_S = 0.2
#: Event log files whose engines a process keeps (the index and the runs it read last): a
#: webserver reads many runs' files over its life.
KEEP_ENGINES = 64

#: Every engine made here that still exists: a forked child drops their connections.
_ENGINES: weakref.WeakSet = weakref.WeakSet()


def _pooled_engine(url: str, **connect_args):
    """An engine for the SQLite file at ``url`` that keeps one connection open between uses
    (``max_overflow=-1``: any number at once, the ones beyond the first closed after use)."""
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=-1,
        connect_args={"check_same_thread": False, **connect_args},  # a pool hands them to any thread
    )
    _ENGINES.add(engine)
    return engine


def _after_fork_in_child() -> None:
    # A connection open in the parent must not be used (or closed) by a forked child: SQLite's
    # state would be shared by two processes. The child forgets them; the parent keeps them.
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


class _OneEngine:
    """A Dagster SQLite storage of one file (``_conn_string``), its connections from one engine."""

    @cached_property
    def _engine(self):
        return _pooled_engine(self._conn_string)

    @contextmanager
    def connect(self):
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        if "_engine" in self.__dict__:  # made: its open connection is closed
            self.__dict__.pop("_engine").dispose()


class RunStorage(_OneEngine, SqliteRunStorage):
    """Dagster's SQLite run storage, its connections from one engine."""


class ScheduleStorage(_OneEngine, SqliteScheduleStorage):
    """Dagster's SQLite schedule storage (ticks and cursors; runs read it too: 11 times for the three
    tiny runs of tests/unit/test_instance.py), its connections from one engine."""


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

    def dispose(self) -> None:
        super().dispose()
        while self._engines:
            self._engines.popitem()[1].dispose()

    def _engine_for(self, shard: str):
        engines = self._engines
        if shard in engines:
            engines.move_to_end(shard)
        else:
            engines[shard] = _pooled_engine(
                self.conn_string_for_shard(shard), timeout=sqlite_event_log.SQLITE_BUSY_TIMEOUT_SECONDS
            )
            if len(engines) > KEEP_ENGINES:
                engines.popitem(last=False)[1].dispose()  # its open connection is closed
        return engines[shard]


class SqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, event logs, schedules under one folder) on the storages
    above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        self._run_storage = RunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = EventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = ScheduleStorage.from_local(_schedule_directory(base_dir))
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

    def dispose(self) -> None:
        super().dispose()
        if self.schedule_storage is not None:  # Dagster's dispose leaves it out: its connection too
            self.schedule_storage.dispose()
