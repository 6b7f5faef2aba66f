"""Run the main job from the command line: ``python -m pipelines [--year 2024] [--source embedded]``.

Uses the Dagster instance in ``$DAGSTER_HOME`` (default: ``data/dagster_home`` in a checkout,
``./veerkracht-dagster-home`` for an installed package; it gets a fresh copy of the project's
dagster.yaml), so the run also shows up in the UI. ``python -m pipelines --ui`` starts
``dagster dev`` on the same instance instead. Source and year choices come from the registries
(:mod:`veerkracht.sources`, :mod:`veerkracht.registry`).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import json
import os
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from veerkracht import sources
from veerkracht.codes import LEVELS
from veerkracht.method.spec import DEFAULT_SPEC
from veerkracht.paths import DAGSTER_YAML, DEFAULT_DAGSTER_HOME, output_dir_from_env
from veerkracht.registry import EMBEDDED_YEARS, KWB_TABLES

#: The environment variables the command line honours, for --help.
ENV_HELP = """environment:
  VEERKRACHT_SOURCE            default of --source
  VEERKRACHT_GEOMETRY_SOURCE   default of --geometry-source
  VEERKRACHT_KWB_FILE          default of --kwb-file
  VEERKRACHT_OUTPUT_DIR        default of --output-dir
  VEERKRACHT_METHOD_SPEC       default of --method
  VEERKRACHT_DUCKDB_MEMORY_LIMIT  DuckDB's memory limit (default 2GB)
  VEERKRACHT_HELPERS           helper processes of a run in one process (default: one per core beyond
                               the first, at most 2; 0: none), where steps do GIL-bound work beside
                               their own (veerkracht/helpers.py), and with them one at the lowest
                               priority that tiles the web map ahead; the numbers are the same
  OPENBLAS_NUM_THREADS         OpenBLAS threads of numpy/scikit-learn (default 1: their work here is
                               many small products, where a second thread spins more than it saves)
  DAGSTER_HOME                 the Dagster instance the runs are recorded in (default
                               data/dagster_home in a checkout, ./veerkracht-dagster-home installed)

exit codes: 0 done (or nothing to do), 1 a run failed or an input is damaged, 2 bad arguments.
docs/operations.md says what each failure prints and what to do."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("veerkracht")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None, prog: str = "python -m pipelines", mode: str = "run") -> int:
    """The command line; ``mode`` ``plan`` says what a run would do and writes nothing,
    ``validate`` builds the validation report from the build warehouse only."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build the veerkracht maps: KWB statistics and boundaries -> DuckDB warehouse ->\n"
        "scores -> GeoParquet/GeoPackage layers and the web map, for every year asked. A year\n"
        "whose inputs, spec and code are those of its last run is not run again.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (veerkracht {_version()})")
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
        help="where the KWB statistics come from: the snapshot shipped with the package, CBS's "
        "OData API, or a KWB download file (default: %(default)s)",
    )
    parser.add_argument(
        "--kwb-file",
        default=os.environ.get("VEERKRACHT_KWB_FILE", ""),
        metavar="PATH",
        help="a CBS KWB download file (kwb-YYYY.xls/.xlsx/.csv) for --source file; name its --year",
    )
    parser.add_argument(
        "--geometry-source",
        choices=sources.names("geometry"),
        default=os.environ.get("VEERKRACHT_GEOMETRY_SOURCE"),
        help="where polygons come from (default: pdok with --source cbs, else embedded)",
    )
    parser.add_argument(
        "--geometry-file",
        action="append",
        default=[],
        metavar="PATH",
        help="your own boundary file (any GDAL format; repeatable): its polygons replace those of "
        "the areas it covers",
    )
    parser.add_argument("--code-field", default="", help="field of --geometry-file with CBS codes")
    parser.add_argument("--name-field", default="", help="field of --geometry-file with area names")
    parser.add_argument(
        "--level", default="", choices=list(LEVELS), help="keep one level of --geometry-file (default: all)"
    )
    parser.add_argument(
        "--output-dir",
        default=str(output_dir_from_env()),
        metavar="DIR",
        help="where layers, warehouse, web map and work files go (default: %(default)s)",
    )
    parser.add_argument(
        "--method",
        default=os.environ.get("VEERKRACHT_METHOD_SPEC", str(DEFAULT_SPEC)),
        metavar="SPEC",
        help="method spec file (TOML); see methods/ and docs/methodology.md (default: %(default)s)",
    )
    parser.add_argument(
        "--executor",
        choices=["in_process", "multiprocess"],
        default="in_process",
        help="multiprocess: every step in its own process, as `dagster dev` runs them (default: %(default)s)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run every year whole, even when its inputs, spec and code are those of the last run",
    )
    parser.add_argument("--ui", action="store_true", help="start the Dagster UI (dagster dev) instead")
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the run's summary as JSON to PATH: years, runs and their steps with "
        "seconds and key numbers, warnings, outputs, the failure and the exit code "
        "(docs/operations.md)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="Dagster's full event log instead of a summary"
    )
    args = parser.parse_args(argv)
    from veerkracht.ingest.canonicals import known_canonicals
    from veerkracht.method.spec import SpecError, check_sources, load_spec

    try:
        check_sources(load_spec(args.method), known_canonicals())
    except SpecError as exc:
        parser.error(str(exc))

    years = sorted(set(args.year or EMBEDDED_YEARS), reverse=True)
    unknown = [y for y in years if y not in KWB_TABLES]
    if unknown:
        parser.error(f"no KWB table known for {unknown}; known years: {', '.join(map(str, KWB_TABLES))}")

    if args.source == "file":
        if not args.kwb_file or not Path(args.kwb_file).is_file():
            parser.error(
                f"--source file needs --kwb-file PATH of a KWB download file (got {args.kwb_file!r})"
            )
        if len(args.year or []) != 1:
            parser.error("--source file reads one year's download file: name that year with one --year")
    elif args.kwb_file:
        parser.error("--kwb-file is read by --source file only")
    missing = [f for f in args.geometry_file if not Path(f).exists()]
    if missing:
        parser.error(f"no boundary file at {', '.join(missing)}")
    geometry_source = default_geometry_source(args.source, args.geometry_source)
    run_config = settings_run_config(args, geometry_source)
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME))).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    if mode != "plan":
        home.mkdir(parents=True, exist_ok=True)
        # Dagster reads dagster.yaml only from $DAGSTER_HOME: keep that copy equal to the project's.
        shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    if args.ui:
        # `dagster dev` loads the Definitions, whose settings default to these variables.
        from assets.resources import settings_env

        os.environ.update(settings_env(run_config["resources"]["settings"]["config"]))
        os.execv(sys.executable, [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions"])

    from veerkracht.paths import OutputLayout

    layout = OutputLayout(Path(args.output_dir).resolve())
    report = RunReport(args.json, mode, years, layout.root)
    if "embedded" in (args.source, geometry_source):
        # The whole snapshot before anything runs: a damaged file of a later year used to be found
        # when that year ran, after the earlier years were published.
        from veerkracht.integrity import IntegrityError, verify_snapshot
        from veerkracht.paths import EMBEDDED_DIR

        try:
            verify_snapshot(EMBEDDED_DIR)
        except IntegrityError as exc:
            print(f"Nothing was run: {exc}", file=sys.stderr)
            return report.done(1, failure=str(exc))
    if mode == "validate":
        return report.done(_validate(layout, report, run_config))
    if mode == "run":
        for line in _recover(layout):  # also when there is nothing to do
            print(f"Recovered from a killed run: {line}")
    decision = _decide(years, run_config, args.force, home)
    if decision.stale is None:
        print(
            f"Nothing {'would run' if mode == 'plan' else 'to do'}: KWB {', '.join(map(str, sorted(years)))} "
            f"in {layout.root}: every asset is up to date with these inputs, this spec and this code "
            "(Dagster's versions); --force runs them again."
        )
        return report.done(0, nothing_to_do=True)
    if decision.why:
        print("Why: " + "; ".join(f"{why} ({', '.join(ys)})" for why, ys in decision.why.items()))
    runs = _runs(years, decision.stale)
    if mode == "plan":
        print(f"Would run veerkracht_job into {layout.root}:")
        for run in runs:
            print(f"  {run.describe()}")
        report.data["plan"] = [run.as_dict() for run in runs]
        return report.done(0)
    code = _run(runs, args.source, args.executor, args.verbose, report, run_config)
    return report.done(code)


def _decide(years: list[int], run_config: dict, force: bool, home: Path):
    """What to run (:mod:`pipelines.staleness`); the inputs and spec are observed first, so that
    what runs records their versions. Everything with ``--force`` or into a new output folder; a
    plan without a Dagster instance creates none (it would run everything)."""
    from pipelines.staleness import Decision

    settings = run_config["resources"]["settings"]["config"]
    if not (home / "dagster.yaml").is_file():
        return Decision("all")
    from assets.versions import cbs_modified
    from pipelines.definitions import build_defs
    from pipelines.staleness import decide, observe

    new_folder = not Path(run_config["resources"]["build_db"]["config"]["database"]).is_file()
    instance = _instance()
    if force or new_folder:
        observe(instance, settings, years, cbs_modified)
        return Decision("all")
    return decide(build_defs(), instance, settings, years, cbs_modified)


def settings_run_config(args, geometry_source: str) -> dict:
    """The run's settings as Dagster run config of the ``settings`` and ``build_db`` resources:
    the CLI, the UI's launchpad, the schedule and the sensor configure the one job the same way."""
    from veerkracht.paths import OutputLayout

    output_dir = Path(args.output_dir).resolve()
    settings = {
        "source": args.source,
        "geometry_source": geometry_source,
        "kwb_file": str(Path(args.kwb_file).resolve()) if args.kwb_file else "",
        "geometry_files": [str(Path(f).resolve()) for f in args.geometry_file],
        "geometry_code_field": args.code_field,
        "geometry_name_field": args.name_field,
        "geometry_level": args.level,
        "output_dir": str(output_dir),
        "method_spec": str(Path(args.method).resolve()),
    }
    database = str(OutputLayout(output_dir).build_db)
    return {"resources": {"settings": {"config": settings}, "build_db": {"config": {"database": database}}}}


@dataclass(frozen=True)
class PlannedRun:
    """One Dagster run of ``veerkracht_job``: the partitions (years) it loads, and ``assets``:
    ``all``, ``ingest`` (statistics of a range of years whose next run builds the rest), or the
    stale assets and what is downstream of them (names)."""

    years: tuple[int, ...]
    assets: str | frozenset[str]

    def describe(self) -> str:
        if self.assets == "all":
            what = (
                f"statistics and polygons of KWB {', '.join(map(str, self.years))}, then scores, resident "
                "counts, validation, layers and web map of every year in the build warehouse"
            )
        elif self.assets == "ingest":
            years = ", ".join(map(str, self.years))
            what = f"statistics and polygons of KWB {years} (the next run builds the rest)"
        else:
            names = ", ".join(sorted(self.assets))
            what = f"{names} of every year again (stale); nothing is read again"
        return "one Dagster run: " + what

    def as_dict(self) -> dict:
        assets = self.assets if isinstance(self.assets, str) else sorted(self.assets)
        return {"job": "veerkracht_job", "years": list(self.years), "assets": assets}

    def selection(self):
        """The run's asset selection (None: the whole job)."""
        import dagster as dg

        from pipelines.jobs import INGEST

        if self.assets == "all":
            return None
        return INGEST if self.assets == "ingest" else dg.AssetSelection.assets(*self.assets)

    def tags(self) -> dict[str, str]:
        """The partition tags: one year, or a range of consecutive years (one run, one step per asset)."""
        if not self.years:
            return {}
        if len(self.years) == 1:
            return {"dagster/partition": str(self.years[0])}
        return {
            "dagster/asset_partition_range_start": str(self.years[0]),
            "dagster/asset_partition_range_end": str(self.years[-1]),
        }


def _runs(years: list[int], stale: str | set[str]) -> list[PlannedRun]:
    """The Dagster runs of ``veerkracht_job`` a command needs: one, unless the years asked are not
    consecutive partitions (a run loads a range of them); then the earlier ranges load their
    statistics only, and the last run builds everything after them, for every year."""
    if stale != "all":
        return [PlannedRun((), frozenset(stale))]
    from veerkracht.registry import KWB_TABLES

    keys = sorted(KWB_TABLES)
    spans: list[list[int]] = []
    for year in sorted(years):
        if spans and keys.index(year) == keys.index(spans[-1][-1]) + 1:
            spans[-1].append(year)
        else:
            spans.append([year])
    return [
        PlannedRun(tuple(span), "all" if i == len(spans) - 1 else "ingest") for i, span in enumerate(spans)
    ]


class RunReport:
    """The machine-readable summary of one command (``--json PATH``), written when it ends."""

    def __init__(self, path: str | None, mode: str, years: list[int], output_dir: Path):
        self.path = Path(path) if path else None
        self.data: dict = {
            "veerkracht": _version(),
            "command": mode,
            "years": sorted(years),
            "output_dir": str(output_dir),
            "nothing_to_do": False,
            "runs": [],
            "warnings": [],
            "failure": None,
            "outputs": {},
        }

    def done(self, code: int, failure: str | None = None, nothing_to_do: bool = False) -> int:
        """Record the exit code (and a failure), write the file; return ``code``."""
        self.data.update(exit_code=code, nothing_to_do=nothing_to_do)
        if failure:
            self.data["failure"] = failure
        if self.path is not None:
            from veerkracht.atomic import atomic_path

            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps(self.data, indent=1, ensure_ascii=False))
        return code


def _instance():
    """The Dagster instance of ``$DAGSTER_HOME``, one per CLI process and home: the recovery, the
    plan and the runs share it (creating one costs ~0.3 s: its storage is opened and checked each
    time). Disposed when the process exits."""
    return _instance_at(os.environ["DAGSTER_HOME"])


@functools.cache
def _instance_at(home: str):
    import dagster as dg

    instance = dg.DagsterInstance.get()  # of $DAGSTER_HOME, which is `home`
    atexit.register(instance.dispose)
    return instance


def _recover(layout) -> list[str]:
    """Free what killed runs left: their pool slots and runs (:mod:`assets.recovery`), and their
    ``.partial-…`` files and folders anywhere in the output folder."""
    from assets.recovery import release_on_start
    from veerkracht.atomic import sweep_tree

    lines = release_on_start(_instance())
    swept = sweep_tree(layout.root)
    if swept:
        lines.append(
            f"{len(swept)} leftover file(s) and folder(s) removed ({', '.join(p.name for p in swept[:3])}…)"
        )
    return lines


def default_geometry_source(source: str, given: str | None) -> str:
    """The geometry source a run uses: the one given, else PDOK for a live statistics run (the
    embedded polygons exist for 2024 and 2019 only), else the embedded polygons."""
    return given or ("pdok" if source == "cbs" else "embedded")


def _run(
    runs: list[PlannedRun], source: str, executor: str, verbose: bool, report: RunReport, run_config: dict
) -> int:
    """Launch ``runs`` of ``veerkracht_job`` (one, unless the years are not consecutive); a summary
    line per step unless ``verbose``."""
    import logging

    import dagster as dg

    from assets.recovery import run_tags
    from pipelines import definitions
    from pipelines.definitions import build_defs
    from pipelines.jobs import MULTIPROCESS
    from pipelines.summary import FOLLOW_TAG, SummaryHandler, follow_run, make_summary_logger
    from veerkracht.paths import OutputLayout

    if not verbose:
        logging.getLogger("dagster").setLevel(logging.WARNING)  # the summary logger says the rest
    sys.stdout.reconfigure(line_buffering=True)  # each line as it happens, also into a pipe or a log
    layout = OutputLayout(Path(run_config["resources"]["settings"]["config"]["output_dir"]))
    started_all = time.perf_counter()
    handler = SummaryHandler(sys.stdout)
    defs = build_defs(loggers={"summary": make_summary_logger(handler)})
    graph = defs.resolve_asset_graph()
    instance = _instance()
    tags = run_tags()
    for run in runs:
        started = time.perf_counter()
        first_record = len(handler.records)
        chosen = run.selection()
        keys = sorted(chosen.resolve(graph), key=str) if chosen is not None else None
        print(f"{run.describe()} ({source}) -> {layout.root}")
        if executor == "multiprocess":
            # Its steps log in processes of their own: the summary reads their events from the
            # instance (follow_run), and Dagster's console log of every event stays off.
            config = {**run_config, "execution": {"config": MULTIPROCESS}}
            token = uuid.uuid4().hex
            if not verbose:
                config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
            with follow_run(instance, handler, token) if not verbose else contextlib.nullcontext():
                result = dg.execute_job(
                    dg.reconstructable(definitions.veerkracht_job_def),
                    instance=instance,
                    run_config=config,
                    tags={**run.tags(), **tags, FOLLOW_TAG: token},
                    asset_selection=keys,
                    raise_on_error=False,
                )
        else:
            config = _in_process(run_config)
            config = config if verbose else {**config, "loggers": {"summary": {}}}
            job = (definitions.defs if verbose else defs).resolve_job_def("veerkracht_job")
            result = job.execute_in_process(
                run_config=config,
                instance=instance,
                raise_on_error=False,
                tags={**run.tags(), **tags},
                asset_selection=keys,
            )
        report.data["runs"].append(
            {
                **run.as_dict(),
                "run_id": result.run_id,
                "success": result.success,
                "seconds": round(time.perf_counter() - started, 2),
                "steps": handler.records[first_record:],
            }
        )
        report.data["warnings"] = handler.warnings
        if not result.success:
            years = ", ".join(map(str, run.years)) or "every year"
            failure = f"Run for {years} failed at {_failure(result)}; {_published_note(handler)}"
            print(failure, file=sys.stderr)  # the cause, where errors go; stdout keeps the steps
            report.data["failure"] = failure
            return 1
    print(f"Done in {time.perf_counter() - started_all:.1f} s")
    _print_outputs(layout, report)
    return 0


def helper_processes() -> int:
    """Helper processes of a run in this process (:class:`assets.resources.HelperProcesses`):
    ``$VEERKRACHT_HELPERS``, else one per core beyond the first, at most two (the steps hand
    them two pieces at a time at most)."""
    given = os.environ.get("VEERKRACHT_HELPERS", "").strip()
    if given:
        if not given.isdigit():
            message = f"VEERKRACHT_HELPERS must be a number of processes (0 or more), not {given!r}"
            print(message, file=sys.stderr)
            raise SystemExit(2)
        return int(given)
    return max(0, min(2, (os.cpu_count() or 1) - 1))


def _in_process(run_config: dict) -> dict:
    """``run_config`` for a run of every step in this process: with its helper processes, which
    do the pieces of a step's work that hold the GIL on the cores the step leaves idle."""
    helpers = {"helpers": {"config": {"processes": helper_processes()}}}
    return {**run_config, "resources": {**run_config["resources"], **helpers}}


def _print_outputs(layout, report: RunReport) -> None:
    report.data["outputs"] = {
        "layers": str(layout.layers),
        "warehouse": str(layout.warehouse_db),
        "previews": str(layout.previews),
        "web": str(layout.web),
        "validation": str(layout.root / "validation"),
    }
    print("Outputs:")
    print(f"  layers (GeoParquet, GeoPackage): {layout.layers}")
    print(f"  dashboard warehouse (DuckDB):    {layout.warehouse_db}")
    print(f"  map previews (PNG):              {layout.previews}")
    print(f"  web map: python -m veerkracht.publish.serve {layout.web}  ->  http://127.0.0.1:8000/")


def _validate(layout, report: RunReport, run_config: dict) -> int:
    """The validation report from the build warehouse as it is (no statistics read, nothing
    scored): the criteria matched again (yours may be new) and the scores measured, the
    ``validation_criteria`` and ``score_validation`` assets as one Dagster run."""
    import logging

    import dagster as dg

    from assets.recovery import run_tags
    from pipelines.definitions import build_defs
    from pipelines.summary import SummaryHandler, make_summary_logger

    if not layout.build_db.is_file():
        message = f"Nothing to validate: no build warehouse at {layout.build_db}; run the pipeline first"
        print(message, file=sys.stderr)
        report.data["failure"] = message
        return 1
    logging.getLogger("dagster").setLevel(logging.WARNING)
    handler = SummaryHandler(sys.stdout)
    defs = build_defs(loggers={"summary": make_summary_logger(handler)})
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("validation_criteria"), dg.AssetKey("score_validation")}
    )
    instance = _instance()
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={**_in_process(run_config), "loggers": {"summary": {}}},
        tags=run_tags(),
    )
    report.data["runs"].append(
        {"job": "score_validation", "success": result.success, "steps": handler.records}
    )
    if not result.success:
        failure = f"Validation failed at {_failure(result)}"
        print(failure, file=sys.stderr)
        report.data["failure"] = failure
        return 1
    report.data["outputs"] = {"validation": str(layout.root / "validation")}
    print(f"Validation report: {layout.root / 'validation' / 'validation.md'}")
    return 0


#: The steps that write what users read (layers, web map, dashboard warehouse).
PUBLISHING = ("area_layers", "web_map", "dashboard_warehouse")


def _published_note(handler) -> str:
    """What a failed run left published: nothing before its first publishing step; after it, the
    files it had rewritten (each one whole, renamed into place) beside older ones."""
    if not any(r["step"] in PUBLISHING for r in handler.records):
        return "outputs of earlier runs are untouched."
    return (
        "files it had not rewritten keep their earlier version, the dashboard warehouse its last "
        "good copy; the next run builds every year again."
    )


def _failure(result) -> str:
    """The failed step and its cause in one line (the innermost error's last line)."""
    from pipelines.summary import failure_message

    for event in result.get_step_failure_events():
        return f"{event.step_key} ({failure_message(event.step_failure_data.error).rstrip('.')})"
    return "a step that did not start (see the Dagster UI)"


def exit_now(code: int | None) -> NoReturn:
    """Leave the process with ``code`` the way ``sys.exit`` does, without Python's teardown of
    every imported module: Dagster, pandas, DuckDB and the rest take ~0.5 s to dismantle (measured:
    "nothing to do" 2.67 -> 2.17 s), time a command spends after its work is done and its files
    are closed. What an exit must still do is done first: the exit handlers (the Dagster
    instance's disposal, logging's flush, multiprocessing's clean-up) and flushing the standard
    streams. With another thread still running (none is, after a run), or under a profiler or
    tracer (``python -m cProfile``, coverage: they write their results at the normal exit), it
    exits as usual."""
    others = (t for t in threading.enumerate() if t is not threading.main_thread())
    running = any(t.is_alive() and not t.daemon for t in others)
    if running or sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    atexit._run_exitfuncs()  # what the interpreter runs at exit, before its teardown
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


if __name__ == "__main__":
    exit_now(main())
