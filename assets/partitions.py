"""Yearly partitions, for the assets whose data arrive per year (KWB statistics, boundaries and
their warehouse rows), and how the assets read the years of a run.

Everything downstream of them is one asset over every year in the build warehouse (as PUDL
processes all years in one pass): goalposts, change classes and carried figures read several
years, so a result never depends on the order in which years were materialised.
"""

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from veerkracht.registry import KWB_TABLES

YEARS = dg.StaticPartitionsDefinition([str(y) for y in sorted(KWB_TABLES)])

#: A backfill of several years is one run, and one step per asset reads them all (a DuckDB
#: spatial load and a step start per asset, not per year and asset).
ONE_RUN = dg.BackfillPolicy.single_run()
# Beta in Dagster 1.13, and said once per asset on every import of the code location.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message="Function `observable_source_asset`", category=dg.BetaWarning)


def run_years(context: dg.AssetExecutionContext) -> list[int]:
    """The years (partition keys) this step materialises, oldest first."""
    return sorted(int(k) for k in context.partition_keys)


def stage_years(
    context: dg.AssetExecutionContext, stage: Callable[[int], dict], threads: int = 2
) -> dict[int, dict]:
    """``stage(year)`` for every year of the step, on ``threads`` threads, the newest (largest)
    year first so the others fit beside it; the results by year, oldest first. A year's staging
    is its own files, and reading, writing and downloading them release the GIL, so one year's
    I/O overlaps another's pandas (the embedded years, paired cold runs: kwb_statistics 2.53 ->
    2.24 s, region_geometries 0.83 -> 0.71 s). The first year that failed (oldest first) raises,
    after the others ended."""
    years = run_years(context)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(years)))) as pool:
        staged = {y: pool.submit(stage, y) for y in sorted(years, reverse=True)}
        return {y: staged[y].result() for y in years}


def per_year(metadata: dict[int, dict]) -> dict:
    """One step's metadata of several years: keys prefixed with the year ("2024 rows …"); the
    keys of a single year stay as they are."""
    if len(metadata) == 1:
        return next(iter(metadata.values()))
    return {
        f"{year} {key}": value for year, entries in sorted(metadata.items()) for key, value in entries.items()
    }
