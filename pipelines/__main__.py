"""Run the main job from the command line: ``python -m pipelines [--year 2024] [--source embedded]``.

Uses the Dagster instance in ``$DAGSTER_HOME`` (default: ``data/dagster_home`` in a checkout,
``./veerkracht-dagster-home`` for an installed package; it gets a fresh copy of the project's
dagster.yaml), so the run also shows up in the UI. ``python -m pipelines --ui`` starts
``dagster dev`` on the same instance instead. Source and year choices come from the registries
(:mod:`veerkracht.sources`, :mod:`veerkracht.registry`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from veerkracht import sources
from veerkracht.method.spec import DEFAULT_SPEC
from veerkracht.paths import DAGSTER_YAML, DEFAULT_DAGSTER_HOME, output_dir_from_env
from veerkracht.registry import EMBEDDED_YEARS, KWB_TABLES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--year",
        action="append",
        type=int,
        help="KWB year to run (repeatable; default: the embedded years "
        f"{', '.join(map(str, EMBEDDED_YEARS))})",
    )
    parser.add_argument(
        "--source",
        choices=sources.names("statistics"),
        default=os.environ.get("VEERKRACHT_SOURCE", "embedded"),
    )
    parser.add_argument(
        "--geometry-source",
        choices=sources.names("geometry"),
        default=os.environ.get("VEERKRACHT_GEOMETRY_SOURCE", "embedded"),
    )
    parser.add_argument("--output-dir", default=str(output_dir_from_env()))
    parser.add_argument(
        "--method",
        default=os.environ.get("VEERKRACHT_METHOD_SPEC", str(DEFAULT_SPEC)),
        help="method spec file (TOML); see methods/ and docs/methodology.md",
    )
    parser.add_argument(
        "--executor",
        choices=["in_process", "multiprocess"],
        default="in_process",
        help="multiprocess: every step in its own process, as `dagster dev` runs them",
    )
    parser.add_argument("--ui", action="store_true", help="start the Dagster UI (dagster dev) instead")
    args = parser.parse_args(argv)
    from veerkracht.method.spec import SpecError, load_spec

    try:
        load_spec(args.method)
    except SpecError as exc:
        parser.error(str(exc))

    years = sorted(set(args.year or EMBEDDED_YEARS), reverse=True)  # newest first: the one users look at
    unknown = [y for y in years if y not in KWB_TABLES]
    if unknown:
        parser.error(f"no KWB table known for {unknown}; known years: {', '.join(map(str, KWB_TABLES))}")

    os.environ["VEERKRACHT_SOURCE"] = args.source
    os.environ["VEERKRACHT_GEOMETRY_SOURCE"] = args.geometry_source
    os.environ["VEERKRACHT_OUTPUT_DIR"] = str(Path(args.output_dir).resolve())
    os.environ["VEERKRACHT_METHOD_SPEC"] = str(Path(args.method).resolve())
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME))).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    # Dagster reads dagster.yaml only from $DAGSTER_HOME: keep that copy equal to the project's.
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    if args.ui:
        os.execvp("dagster", ["dagster", "dev", "-m", "pipelines.definitions"])

    import dagster as dg

    from pipelines.definitions import veerkracht_job_def
    from veerkracht.paths import OutputLayout

    layout = OutputLayout(Path(os.environ["VEERKRACHT_OUTPUT_DIR"]))
    with dg.DagsterInstance.get() as instance:
        for year in years:
            started = time.perf_counter()
            if args.executor == "multiprocess":
                result = dg.execute_job(
                    dg.reconstructable(veerkracht_job_def),
                    instance=instance,
                    tags={"dagster/partition": str(year)},
                    raise_on_error=False,
                )
            else:
                result = veerkracht_job_def().execute_in_process(
                    partition_key=str(year), instance=instance, raise_on_error=False
                )
            if not result.success:
                print(f"Run for {year} failed; outputs of earlier runs are untouched.", file=sys.stderr)
                return 1
            print(f"KWB {year} ({args.source}): done in {time.perf_counter() - started:.1f} s")
    print("Outputs:")
    print(f"  layers (GeoParquet, GeoPackage): {layout.layers}")
    print(f"  dashboard warehouse (DuckDB):    {layout.warehouse_db}")
    print(f"  map previews (PNG):              {layout.previews}")
    print(f"  web map: python -m veerkracht.publish.serve {layout.web}  ->  http://127.0.0.1:8000/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
