"""The pipeline's stages, timed one by one on staged inputs (real or SYNTHETIC), plus the I/O floor
and the dashboard latency. The same domain functions the Dagster assets call, minus Dagster."""

from __future__ import annotations

import multiprocessing as mp
import resource
import shutil
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd

from veerkracht import fingerprint, warehouse
from veerkracht.geo.crosswalk import crosswalk
from veerkracht.method import residents
from veerkracht.method import scoring as method
from veerkracht.method.spec import load_spec
from veerkracht.paths import EMBEDDED_DIR
from veerkracht.publish import layers

#: The code version the resident estimates are keyed by (as the assets' ``CODE_VERSION``).
CODE = fingerprint.code_version()

DASHBOARD_QUERY = (
    "SELECT code, name, inwoners, score, score_class, score_within_gemeente, top_indicator "
    "FROM marts.area WHERE year = ? AND gemeente_code = ? AND level = 'buurt' "
    "ORDER BY score DESC NULLS LAST"
)


class Timer:
    """Wall-clock seconds per named stage (summed when a stage runs once per year), and the
    process's peak RSS (GB) when each stage ended: the first stage that raises it is the culprit."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss_gb: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        yield
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
        self.peak_rss_gb[stage] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def run_pipeline(staged: dict[int, Path], work: Path, timer: Timer) -> Path:
    """Warehouse, scores (+ Monte Carlo), marts and GeoParquet layers for every staged year; publish."""
    spec = load_spec()
    work.mkdir(parents=True, exist_ok=True)
    db = work / "build.duckdb"
    truth = residents.load_buurt_truth(EMBEDDED_DIR)
    # As the assets run: every year's statistics, then each later stage over all years, each
    # step on a connection of its own (an asset opens one and closes it, and DuckDB's memory
    # goes with it: one connection held over every stage kept 30x's buffers to the end).
    with warehouse.connection(db) as con:  # warehouse_core
        warehouse.ensure_crosswalk_table(con)
        for year, folder in sorted(staged.items()):
            with timer("ingest (staged Parquet -> DuckDB)"):
                warehouse.load_staged_year(con, year, folder)
            with timer("warehouse SQL"):
                warehouse.build_core(con, year, folder)
    years = sorted(staged)
    with warehouse.connection(db) as con:  # resident_estimates
        for year in years:
            with timer("resident counts (model + buurt validation)"):
                residents.estimate_year(con, year, truth, code=CODE)
    with warehouse.connection(db) as con:  # veerkracht_scores
        with timer("score (SQL models)"):
            method.score_years(con, spec, years, with_uncertainty=False)
        for year in years:
            with timer("Monte Carlo (1,000 runs)"):
                method.store_uncertainty(con, spec, year)
    with warehouse.connection(db) as con:  # area_layers
        with timer("layers: marts (SQL)"):
            layers.build_marts(con, years, spec)
        for year in years:
            for level in ("gemeente", "wijk", "buurt"):
                with timer("layers: read the mart's rows"):
                    gdf = layers.read_level(con, year, level)
                with timer("layers: write GeoParquet x2 + GPKG"):
                    layers.write_layer(gdf, work / "layers", year, level)
    with timer("publish (atomic copy)"):
        warehouse.publish_copy(db, work / "warehouse.duckdb")
    return work / "warehouse.duckdb"


def dagster_steps(home: Path, top: int = 10, newest: int | None = None) -> list[tuple[str, float]]:
    """Seconds per Dagster step (summed over the runs, e.g. one per year) in the instance at
    ``home``, the largest first: where a job's time went. ``newest``: of that many runs, the
    newest (1: the last run alone)."""
    from dagster import DagsterInstance

    instance = DagsterInstance.from_config(str(home))
    seconds: dict[str, float] = {}
    for run in instance.get_runs(limit=newest):  # newest first
        for step in instance.get_run_step_stats(run.run_id):
            if step.start_time and step.end_time:
                seconds[step.step_key] = seconds.get(step.step_key, 0.0) + step.end_time - step.start_time
    return sorted(seconds.items(), key=lambda kv: -kv[1])[:top]


def run_crosswalk(source: gpd.GeoDataFrame, target: gpd.GeoDataFrame, timer: Timer) -> int:
    with timer("crosswalk (buurten, two years)"):
        return len(crosswalk(source, target))


def io_floor(staged: dict[int, Path], work: Path, timer: Timer) -> None:
    """DuckDB reading the same inputs and writing the same outputs with no transformation."""
    out = work / "floor"
    out.mkdir(parents=True, exist_ok=True)
    with warehouse.connection(out / "floor.duckdb") as con:
        for year, folder in staged.items():
            with timer("I/O floor"):
                for name in ("kwb_region", "kwb_indicator", "kwb_value"):
                    con.execute(
                        f"CREATE OR REPLACE TABLE {name}_{year} AS "
                        f"SELECT * FROM read_parquet({warehouse.sql_string(f'{folder / name}.parquet')})"
                    )
                for level in ("gemeente", "wijk", "buurt"):
                    src = folder / f"geometry_{level}.parquet"
                    # The layers: one GeoParquet per level in each of two CRSs, plus a GeoPackage's
                    # worth of bytes (a second Parquet copy stands in for it).
                    for k in range(3):
                        con.execute(
                            f"COPY (SELECT * FROM read_parquet({warehouse.sql_string(src)})) TO "
                            f"{warehouse.sql_string(out / f'{level}_{year}_{k}.parquet')} "
                            "(FORMAT parquet, COMPRESSION zstd)"
                        )
    with timer("I/O floor"):
        shutil.copy(out / "floor.duckdb", out / "floor_published.duckdb")


def _publish_loop(build: str, target: str, stop) -> None:
    while not stop.is_set():
        warehouse.publish_copy(Path(build), Path(target))


def dashboard_latency(
    db: Path, year: int, gemeenten: list[str], n: int = 300, build: Path | None = None
) -> dict[str, float]:
    """p50/p95 ms of one dashboard query on a read-only connection, as a dashboard keeps one open
    (reopened every 50 queries to pick up new publications), and the p50 of opening one (DuckDB
    + spatial). With ``build``, a second process re-publishes ``build`` onto ``db`` in a loop
    (temp file + atomic rename) while the queries run."""
    stop, writer = None, None
    if build is not None:
        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        writer = ctx.Process(target=_publish_loop, args=(str(build), str(db), stop))
        writer.start()
        time.sleep(2.0)
    times, opens = [], []
    try:
        con = None
        for i in range(n):
            if i % 50 == 0:
                if con is not None:
                    con.close()
                start = time.perf_counter()
                con = warehouse.connect(db, read_only=True)
                opens.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            con.execute(DASHBOARD_QUERY, [year, gemeenten[i % len(gemeenten)]]).fetchall()
            times.append((time.perf_counter() - start) * 1000)
        con.close()
    finally:
        if writer is not None:
            stop.set()
            writer.join(60)
    return {
        "p50": statistics.median(times),
        "p95": statistics.quantiles(times, n=20)[18],
        "open_p50": statistics.median(opens),
    }
