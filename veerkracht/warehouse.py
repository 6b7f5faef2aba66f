"""DuckDB connections and the SQL models in ``sql/``.

Belongs here: opening DuckDB the one right way (spatial loaded from the pip package, never
downloaded; ``storage_compatibility_version='latest'`` so GEOMETRY keeps its CRS), running a
model file for one year, reading a result into pandas (:func:`frame`), and publishing a finished
database file atomically. The models
themselves are plain SQL files, one per table, each a single SELECT parametrised by ``$year``.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import duckdb_extensions

from veerkracht import locks
from veerkracht.atomic import DiskFullError, atomic_path, is_disk_full
from veerkracht.paths import SQL_DIR

#: DuckDB's memory limit for the pipeline's (writing) connections. DuckDB's default is 80 % of
#: RAM, which it will fill as buffer on large inputs; with a limit it spills joins and
#: aggregates to ``<database>.tmp`` instead. 30x the national size scores within 2 GB.
MEMORY_LIMIT = os.environ.get("VEERKRACHT_DUCKDB_MEMORY_LIMIT", "2GB")
#: Checkpoint (rewrite the file from the WAL) at 1 GB of WAL instead of DuckDB's 16 MB: a year's
#: models are rebuilt one after another, and checkpointing after each cost a quarter of the
#: scoring time. Closing the connection still checkpoints; a killed run leaves a WAL that
#: DuckDB replays on the next open.
CONFIG = {
    "storage_compatibility_version": "latest",
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": MEMORY_LIMIT,
    "checkpoint_threshold": "1GB",
}


#: Wall-clock seconds spent in :func:`build_model` and :func:`build_model_years` per model name in
#: this process (the bench prints where the SQL time went from it; nothing else reads it).
MODEL_SECONDS: Counter[str] = Counter()

#: The core models of one year, in order: (table, sql/<model>.sql).
CORE_MODELS = [
    ("core.dim_region", "dim_region"),
    ("core.dim_indicator", "dim_indicator"),
    ("core.fact_indicator", "fact_indicator"),
    ("core.indicator_availability", "indicator_availability"),
]


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    """Load DuckDB spatial from the ``duckdb-extension-spatial`` wheel (no network)."""
    duckdb_extensions.import_extension("spatial", con=con)
    con.execute("LOAD spatial")


class WarehouseBusy(RuntimeError):
    """Another process holds DuckDB's one-writer lock on the file."""


@contextmanager
def writer_turn(path: str | Path, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """This process's turn to write the DuckDB file ``path``: the pipeline's steps write it one
    at a time, whichever run, executor or Dagster instance they belong to.

    Why a lock of our own beside Dagster's ``duckdb`` pool: the pool is a slot row in the
    instance's SQLite storage, claimed by a SELECT and then an UPDATE (SQLite ignores
    ``FOR UPDATE``), so two step processes claiming at the same moment can both get the one slot
    (measured with Dagster 1.13.27: 6 times in 40 such pairs; a CI run met it as "build.duckdb is
    busy" between two concurrent runs). An OS file lock beside the file (:func:`locks.turn`)
    cannot be taken twice, and a killed holder's lock goes with its process. The pool stays: it
    keeps waiting steps out of step processes and shows the queue in the UI.

    ``say`` gets a line for the run's log when another step holds the turn (before this one
    waits for it), or when the folder's filesystem has no ``flock`` (some network shares): the
    step then goes ahead as before this lock existed, guarded by the pool and by DuckDB's own
    lock (a step that meets another writer fails with :class:`WarehouseBusy`), rather than
    failing every run in such a folder.
    """
    name = Path(path).name
    tell = say or (lambda line: None)
    waiting = f"{name}: another run's step is writing it; waiting for its turn"
    with locks.turn(f"{path}.lock", on_wait=lambda: tell(waiting)) as held:
        if not held:  # no wait limit: only a filesystem without flock gets here
            tell(
                f"{name}: this filesystem has no file locks (flock); steps of concurrent runs into this "
                "folder rely on Dagster's pool and DuckDB's own lock"
            )
        yield


def connect(
    path: str | Path = ":memory:", read_only: bool = False, spatial: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open ``path`` with spatial loaded. Dashboards should pass ``read_only=True``.

    ``spatial=False`` for work that needs none of the extension's functions: loading it costs
    0.15-0.2 s a connection, and GEOMETRY columns read and copy without it (a core type since
    DuckDB 1.5, whose core also has ``ST_AsWKB``, ``ST_GeomFromWKB`` and ``ST_AsText``). Creating
    a column typed with a CRS (``GEOMETRY('EPSG:28992')``) and every geometry operation
    (``ST_IsValid``, ``ST_Area``, ...) need it.

    A file another process is writing raises :class:`WarehouseBusy` naming it and that process
    (not DuckDB's raw lock error): the pipeline's own steps take turns (:func:`writer_turn`), so
    that is some other program.
    """
    try:
        if read_only:
            con = duckdb.connect(str(path), read_only=True)
        else:
            con = duckdb.connect(str(path), config=CONFIG)
    except duckdb.IOException as exc:
        if "Could not set lock" not in str(exc):
            raise
        pid = re.search(r"PID (\d+)", str(exc))
        raise WarehouseBusy(
            f"{path} is busy: another process{f' (PID {pid.group(1)})' if pid else ''} is writing it, "
            "a program other than a veerkracht run (runs into one output folder take turns, under "
            "any DAGSTER_HOME): a DuckDB session or notebook with the file open, or an older "
            "version of the pipeline. Close it or wait for it to finish, or use another output folder"
        ) from None  # the cause is said; a summary shows the innermost error's line
    if spatial:
        load_spatial(con)
    return con


@contextmanager
def connection(
    path: str | Path, read_only: bool = False, spatial: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context-managed :func:`connect` that always closes (releasing DuckDB's file lock).

    A write that runs out of space (DuckDB's "Failed to commit: Could not write file
    ….wal: No space left on device", or any ENOSPC inside the block) raises
    :class:`~veerkracht.atomic.DiskFullError` saying what it means, and removes the file's
    write-ahead log: it holds only this block's changes (each connection's close checkpoints),
    and left behind it kept the disk full (24-39 MB). The file is back at its state before the
    block, which failed as a whole.
    """
    con = connect(path, read_only=read_only, spatial=spatial)
    try:
        yield con
    except Exception as exc:
        if read_only or str(path) == ":memory:" or not is_disk_full(exc):
            raise
        try:
            con.close()  # its checkpoint needs room too; failing here is expected
        except duckdb.Error:
            pass
        wal = Path(f"{path}.wal")
        size = wal.stat().st_size if wal.exists() else 0
        wal.unlink(missing_ok=True)
        removed = f", {size / 1e6:.0f} MB of write-ahead log removed" if size >= 1e6 else ""
        raise DiskFullError(
            errno.ENOSPC,
            f"No space left on device (ENOSPC) while writing the build database {path}; this step's "
            f"changes were rolled back{removed}, and it published nothing. Free space under "
            f"{Path(path).parent.parent} and run again",
        ) from exc
    finally:
        con.close()


def sql_string(value) -> str:
    """``value`` as a SQL string literal (single quotes doubled): file paths reach SQL only through
    this, so a folder such as ``o'neil/out`` is a path, not a syntax error."""
    return "'" + str(value).replace("'", "''") + "'"


#: Connections inside :func:`transaction`: a transaction opened within one is part of it.
_IN_TRANSACTION: weakref.WeakSet = weakref.WeakSet()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any error and re-raise that error.

    Within another ``transaction(con)`` it is part of that one (DuckDB has no nested
    transactions): a step that wraps all its models in one commits them together or not at all.

    When DuckDB has already aborted the transaction itself (a full disk, a fatal I/O error),
    ROLLBACK fails with "no transaction is active"; that must not replace the original error.
    """
    if con in _IN_TRANSACTION:
        yield con
        return
    con.execute("BEGIN TRANSACTION")
    _IN_TRANSACTION.add(con)
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the transaction is gone already; the original error says why
        raise
    finally:
        _IN_TRANSACTION.discard(con)


def model_sql(name: str) -> str:
    """Text of ``sql/<name>.sql``."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"No SQL model {name!r} at {path}")
    return path.read_text()


def query(con: duckdb.DuckDBPyConnection, name: str, **params):
    """Rows of the query ``sql/<name>.sql`` (e.g. ``report/null_reasons``) as a DataFrame; of
    ``params`` only those the query names are passed."""
    sql = model_sql(name)
    return frame(con.execute(sql, {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}))


#: The DuckDB types :func:`frame` reads through Arrow (their pandas types checked against
#: ``.df()`` in tests/unit/test_warehouse_frame.py); a result with any other type (a list, a date,
#: a decimal, ...) is fetched with ``.df()`` itself.
FRAME_TYPES = {"BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "VARCHAR", "BLOB"}


def frame(result: duckdb.DuckDBPyConnection):
    """The rows of an executed query as a DataFrame, with the column types ``result.df()`` gives
    (integers and booleans as numpy types, or pandas' nullable ones where a NULL occurs; text as
    pandas strings, or objects where every value is NULL; doubles as floats; bytes as objects,
    NULL as ``pd.NA``), by way of Arrow. ``.df()`` turns every text value into a Python string
    that pandas then turns back into Arrow text. Measured on 30x NL's buurten: their ``marts.area``
    rows 2.1-2.5 s with ``.df()`` against 0.35 s as an Arrow table; the layers' whole read of them
    (polygons decoded) 3.4 s with ``.df()``, 1.5-1.7 s with this."""
    if any(str(column[1]) not in FRAME_TYPES for column in result.description):
        return result.df()
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    table = result.arrow()
    table = table.read_all() if isinstance(table, pa.RecordBatchReader) else table
    out = table.to_pandas(types_mapper=nullable.get)
    for name, column in zip(table.column_names, table.columns, strict=True):
        if column.type in nullable and column.null_count == 0:
            out[name] = out[name].to_numpy(dtype=column.type.to_pandas_dtype())
        elif pa.types.is_string(column.type) and column.null_count == len(column):
            out[name] = pd.Series([None] * len(column), index=out.index, dtype=object)
        elif pa.types.is_binary(column.type) and column.null_count:
            out[name] = out[name].where(out[name].notna(), pd.NA)
    return out


def build_model(con: duckdb.DuckDBPyConnection, table: str, name: str, year: int, **params) -> int:
    """(Re)build the ``year`` slice of ``table`` from ``sql/<name>.sql`` (a model of one year,
    ``$year``); return its row count.

    Delete-then-insert per year keeps other years intact, so yearly partitions and backfills
    can run one at a time against the same file. Of ``params``, only those the model names
    (``$name``) are passed: DuckDB rejects unused parameters, and callers can pass one set.
    """
    return _rebuild(con, table, name, [int(year)], {"year": int(year), **params})[int(year)]


def build_model_years(
    con: duckdb.DuckDBPyConnection, table: str, name: str, run: list[dict], **params
) -> dict[int, int]:
    """(Re)build the slices of ``table`` of every year of ``run`` from ``sql/<name>.sql`` in one
    statement, a model over years: it reads them and their parameters from ``$run``, one record
    per year with its ``year`` (the score models' also carry ``goalpost_year``, ``partial`` and
    ``coverage``: :func:`veerkracht.method.scoring.score_years`). Return the row count per year;
    other years stay as they are, as with :func:`build_model`."""
    return _rebuild(con, table, name, [int(r["year"]) for r in run], {"run": run, **params})


def _rebuild(
    con: duckdb.DuckDBPyConnection, table: str, name: str, years: list[int], params: dict
) -> dict[int, int]:
    """Replace the ``years`` rows of ``table`` by the rows of ``sql/<name>.sql`` in one transaction;
    return the row count per year."""
    start = time.perf_counter()
    query = model_sql(name)
    args = {k: v for k, v in params.items() if re.search(rf"\${k}\b", query)}
    schema = table.split(".")[0]
    # Years are integers: written into the statement, so DuckDB prunes by them as by a constant.
    in_years = f"year IN ({', '.join(str(int(y)) for y in years)})"
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    with transaction(con):
        _drop_if_schema_changed(con, table, f"SELECT * FROM ({query}) LIMIT 0", args)
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM ({query}) LIMIT 0", args)
        con.execute(f"DELETE FROM {table} WHERE {in_years}")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ({query})", args)
    counts = dict(
        con.execute(f"SELECT year, count(*) FROM {table} WHERE {in_years} GROUP BY year").fetchall()
    )
    MODEL_SECONDS[name] += time.perf_counter() - start
    return {y: counts.get(y, 0) for y in years}


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, rows, **key) -> int:
    """Replace the rows of ``table`` matching ``key`` (column = value) by the frame ``rows``, in
    one transaction (the table is created from the frame the first time)."""
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.register("replace_rows_frame", rows)
    try:
        with transaction(con):
            _drop_if_schema_changed(con, table, "SELECT * FROM replace_rows_frame LIMIT 0")
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM replace_rows_frame LIMIT 0")
            where = " AND ".join(f"{k} = ${k}" for k in key) or "true"
            con.execute(f"DELETE FROM {table} WHERE {where}", key)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM replace_rows_frame")
    finally:
        con.unregister("replace_rows_frame")
    return len(rows)


def replace_year(con: duckdb.DuckDBPyConnection, table: str, year: int, relation_sql: str, **objects) -> int:
    """Replace the ``year`` rows of staging ``table`` by ``relation_sql`` (which may name the
    pandas frames passed in ``objects``); return the number of rows inserted."""
    for name, obj in objects.items():
        con.register(name, obj)
    schema = table.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    query = f"SELECT {int(year)}::INTEGER AS year, * FROM ({relation_sql})"
    try:
        with transaction(con):
            _drop_if_schema_changed(con, table, f"{query} LIMIT 0")
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS {query} LIMIT 0")
            con.execute(f"DELETE FROM {table} WHERE year = {int(year)}")
            con.execute(f"INSERT INTO {table} BY NAME {query}")
    finally:
        for name in objects:
            con.unregister(name)
    return con.execute(f"SELECT count(*) FROM {table} WHERE year = {int(year)}").fetchone()[0]


def _drop_if_schema_changed(
    con: duckdb.DuckDBPyConnection, table: str, empty_query: str, args: dict | None = None
) -> None:
    """Drop ``table`` when its columns differ from what the model now produces.

    A new code version may add or rename columns; keeping the old table would fail the insert.
    Its other years are dropped with it (they were built by the old code) and are rebuilt when
    those years run again.
    """
    schema, name = table.split(".")
    old = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    if not old:
        return
    new = con.execute(f"DESCRIBE {empty_query}", args or {}).fetchall()
    if [(c[0], c[1]) for c in new] != old:
        con.execute(f"DROP TABLE {table}")


def load_staged_year(con: duckdb.DuckDBPyConnection, year: int, staged: Path) -> dict[str, int]:
    """Replace the ``year`` rows of ``staging.*`` by the staged Parquet in ``staged``; return the
    row counts.

    The values (``kwb_value.parquet``, 1.56 million rows for 2024) are not copied into the file:
    ``core.fact_indicator``, their one reader, reads the Parquet itself (:func:`build_core`).
    Copying them first cost 0.5-0.8 s for 2024 and a third of the build file's rows; a
    ``staging.kwb_value`` left by an earlier version is dropped.
    """
    rows = {}
    for name in ("kwb_region", "kwb_indicator"):
        rows[f"staging.{name}"] = replace_year(
            con,
            f"staging.{name}",
            year,
            f"SELECT * FROM read_parquet({sql_string(f'{staged / name}.parquet')})",
        )
    rows["staging.geometry"] = replace_year(
        con,
        "staging.geometry",
        year,
        f"SELECT code, level, geometry_source, geometry AS geom FROM "
        f"read_parquet({sql_string(f'{staged}/geometry_*.parquet')})",
    )
    con.execute("DROP TABLE IF EXISTS staging.kwb_value")
    return rows


def build_core(con: duckdb.DuckDBPyConnection, year: int, staged: Path) -> dict[str, int]:
    """Build the ``year`` slice of every :data:`CORE_MODELS` table from the year's staging rows
    and its staged values in ``staged``; return their row counts."""
    values = str(staged / "kwb_value.parquet")
    return {table: build_model(con, table, model, year, kwb_values=values) for table, model in CORE_MODELS}


def ensure_crosswalk_table(con: duckdb.DuckDBPyConnection) -> None:
    """``core.crosswalk``: one row per (years, level, source, target) piece, empty until a
    crosswalk is stored. Created here so the score models can read it before any crosswalk ran."""
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    con.execute(
        "CREATE TABLE IF NOT EXISTS core.crosswalk (from_year INTEGER, to_year INTEGER, "
        "level VARCHAR, source_code VARCHAR, target_code VARCHAR, weight_area DOUBLE, "
        "weight_pop DOUBLE, overlap_m2 DOUBLE, coverage_source DOUBLE, unchanged BOOLEAN)"
    )


def _ensure_crosswalk_inputs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS core.crosswalk_input (from_year INTEGER, to_year INTEGER, "
        "keys VARCHAR, PRIMARY KEY (from_year, to_year))"
    )


def stored_crosswalk_keys(con: duckdb.DuckDBPyConnection, from_year: int, to_year: int) -> str | None:
    """The input keys (:func:`veerkracht.geo.crosswalk.input_key`, per level) of the stored
    ``from_year -> to_year`` crosswalk, or None when none is stored."""
    ensure_crosswalk_table(con)
    _ensure_crosswalk_inputs(con)
    row = con.execute(
        "SELECT keys FROM core.crosswalk_input WHERE from_year = ? AND to_year = ?", [from_year, to_year]
    ).fetchone()
    return row[0] if row else None


def store_crosswalk(con: duckdb.DuckDBPyConnection, cw, from_year: int, to_year: int, keys: str) -> None:
    """Replace the ``from_year -> to_year`` rows of ``core.crosswalk`` by the frame ``cw``
    (columns of :func:`veerkracht.crosswalk.crosswalk` plus ``level``), with the input keys it
    was computed from, in one transaction."""
    ensure_crosswalk_table(con)
    _ensure_crosswalk_inputs(con)
    con.register("cw_rows", cw)
    try:
        with transaction(con):
            years = [from_year, to_year]
            con.execute("DELETE FROM core.crosswalk WHERE from_year = ? AND to_year = ?", years)
            con.execute(
                "INSERT INTO core.crosswalk BY NAME SELECT ? AS from_year, ? AS to_year, * FROM cw_rows",
                years,
            )
            con.execute("INSERT OR REPLACE INTO core.crosswalk_input VALUES (?, ?, ?)", [*years, keys])
    finally:
        con.unregister("cw_rows")


def store_boundaries(con: duckdb.DuckDBPyConnection, year: int, level: str, gdf) -> None:
    """Replace the ``year``/``level`` polygons of ``core.boundary`` (the polygons a crosswalk used,
    so both years' boundaries stay in the warehouse) by the GeoDataFrame ``gdf`` (EPSG:28992).

    Loads the spatial extension into ``con`` if it is not (a column typed with a CRS needs its
    CRS registry; loading it again costs ~1 ms)."""
    load_spatial(con)
    rows = gdf[["code", "geometry_source"]].assign(wkb=gdf.geometry.to_wkb())
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    con.execute(
        "CREATE TABLE IF NOT EXISTS core.boundary (year INTEGER, level VARCHAR, code VARCHAR, "
        "geometry_source VARCHAR, geom GEOMETRY('EPSG:28992'))"
    )
    con.register("boundary_rows", rows)
    try:
        with transaction(con):
            con.execute("DELETE FROM core.boundary WHERE year = ? AND level = ?", [year, level])
            con.execute(
                "INSERT INTO core.boundary SELECT ?, ?, code, geometry_source, "
                "ST_SetCRS(ST_GeomFromWKB(wkb), 'EPSG:28992') FROM boundary_rows",
                [year, level],
            )
    finally:
        con.unregister("boundary_rows")


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``schema.table`` exists (asked without creating anything: read-only connections too)."""
    schema, name = table.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def built_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The years whose statistics are in the build warehouse, oldest first: the years every step
    downstream of the statistics builds, whichever years a run loaded."""
    if not has_table(con, "core.dim_region"):
        return []
    return [
        int(y) for (y,) in con.execute("SELECT DISTINCT year FROM core.dim_region ORDER BY year").fetchall()
    ]


def population(con: duckdb.DuckDBPyConnection, year: int):
    """Inhabitants per area code of ``year`` (a pandas Series), or None before the warehouse has them."""
    if not has_table(con, "core.fact_indicator"):
        return None
    rows = con.execute(model_sql("population"), {"year": int(year)}).df()
    return rows.set_index("code")["value"] if len(rows) else None


def publish_copy(source: Path, target: Path) -> Path:
    """Copy the database ``source`` to ``target`` atomically (temp file + rename).

    A reader that opened ``target`` before keeps reading the previous complete file; a failure
    or kill before the rename leaves ``target`` untouched. When ``source`` is closed and fully
    checkpointed (no ``.wal`` beside it) its bytes are copied, which is several times faster
    than re-encoding; the copy is opened once before the rename, so a damaged copy is never
    published. Otherwise DuckDB copies it table by table (``COPY FROM DATABASE``).
    """
    source, target = Path(source), Path(target)
    with atomic_path(target, verify=_verify_database) as tmp:
        if Path(str(source) + ".wal").exists():
            _copy_by_duckdb(source, tmp)
        else:
            shutil.copyfile(source, tmp)
    return target


def _verify_database(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()
    finally:
        con.close()


def _copy_by_duckdb(source: Path, tmp: Path) -> None:
    con = duckdb.connect(str(tmp), config=CONFIG)
    try:
        load_spatial(con)
        con.execute(f"ATTACH {sql_string(source)} AS src (READ_ONLY)")
        con.execute("COPY FROM DATABASE src TO " + _current_db(con))
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _current_db(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchone()[0]
