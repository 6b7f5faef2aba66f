"""The code location loads, and the asset graph is the one we mean to ship."""

from __future__ import annotations

import dagster as dg
import pydantic
import pytest

from assets.resources import PipelineSettings
from pipelines.definitions import build_defs
from veerkracht import checks
from veerkracht.registry import KWB_TABLES

# Reviewed snapshot of the graph: a change here is a deliberate change of the product.
defs = build_defs()

EXPECTED_DEPS = {
    "kwb_inputs": set(),
    "method_spec": set(),
    "validation_inputs": set(),
    "kwb_statistics": {"kwb_inputs"},
    "region_geometries": {"kwb_inputs"},
    "warehouse_core": {"kwb_statistics", "region_geometries"},
    "veerkracht_scores": {"warehouse_core", "boundary_crosswalk", "method_spec"},
    "resident_estimates": {"warehouse_core", "boundary_crosswalk"},
    "area_layers": {"veerkracht_scores", "resident_estimates"},
    "boundary_crosswalk": {"warehouse_core"},
    "validation_criteria": {"warehouse_core", "boundary_crosswalk", "validation_inputs"},
    "score_validation": {"veerkracht_scores", "resident_estimates", "validation_criteria"},
    "dashboard_warehouse": {"area_layers", "boundary_crosswalk", "score_validation"},
    "web_map": {"area_layers"},
}


def test_asset_graph_snapshot():
    graph = defs.resolve_asset_graph()
    deps = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert deps == EXPECTED_DEPS
    # Partitions only where data arrive per year; everything after them is one pass over every
    # year in the build warehouse, so no result depends on the order years were materialised in.
    partitioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def}
    assert partitioned == {"kwb_inputs", "kwb_statistics", "region_geometries", "warehouse_core"}
    for key in partitioned - {"kwb_inputs"}:
        policy = graph.get(dg.AssetKey(key)).backfill_policy
        assert policy is not None and policy.max_partitions_per_run is None  # a backfill is one run
    years = graph.get(dg.AssetKey("kwb_statistics")).partitions_def.get_partition_keys()
    assert years == [str(y) for y in sorted(KWB_TABLES)]


EXPECTED_CHECKS = {
    "warehouse_core": {
        "region_codes",
        "geometry_valid",
        "buurten_cover_gemeente",
        "coverage_no_sharp_drop",
        "percentages_in_range",
        "buurt_sums_match_gemeente",
        "year_over_year_continuity",
        "indicators_published",
    },
    "veerkracht_scores": {"scores_in_range"},
    "resident_estimates": {"resident_counts_consistent"},
}


def test_asset_checks_snapshot():
    graph = defs.resolve_asset_graph()
    found: dict[str, set[str]] = {}
    for key in graph.asset_check_keys:
        found.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
    assert found == EXPECTED_CHECKS
    # Built from the check rows: ERROR checks block the assets downstream, WARN checks report.
    for key in graph.asset_check_keys:
        spec, row = graph.get_check_spec(key), checks.get(key.name)
        assert spec.blocking == (row.severity == "ERROR") and spec.description == row.text
    assert {k.name for k in graph.asset_check_keys if graph.get_check_spec(k).blocking} == {
        "region_codes",
        "geometry_valid",
        "coverage_no_sharp_drop",
        "percentages_in_range",
        "scores_in_range",
        "resident_counts_consistent",
    }


def test_duckdb_writers_share_one_pool():
    graph = defs.resolve_asset_graph()
    pools = {k.to_user_string(): graph.get(k).pools for k in graph.get_all_asset_keys()}
    writers = {
        "warehouse_core",
        "veerkracht_scores",
        "resident_estimates",
        "area_layers",
        "dashboard_warehouse",
        "boundary_crosswalk",
        "validation_criteria",
        "score_validation",
    }
    assert all(pools[w] == {"duckdb"} for w in writers)


def test_helper_processes_import_what_the_selected_steps_hand_them():
    """Every asset that takes the helper processes says what its pieces import (a run of it alone
    would else start none), and those modules import; a run gets the modules of its selection
    only: a run with another spec (the steps the spec feeds) no scikit-learn, one that hands the
    helpers nothing no helper at all."""
    import importlib

    from assets.resources import HELPER_IMPORTS, helper_preload

    graph = defs.resolve_asset_graph()
    users = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable and "helpers" in defs.get_assets_def(k).required_resource_keys
    }
    # web_map takes them only to stop the tiling ahead that warehouse_core started (if any).
    assert users == set(HELPER_IMPORTS) | {"web_map"}
    everything = helper_preload(None)
    assert helper_preload(frozenset()) == everything  # how Dagster records a run of the whole job
    assert everything[0] == "pandas"
    assert {"sklearn.linear_model", "matplotlib.pyplot", "veerkracht.method.validation"} <= set(everything)
    for module in everything:
        importlib.import_module(module)
    spec_run = {dg.AssetKey(k) for k in ("veerkracht_scores", "area_layers", "score_validation", "web_map")}
    modules = helper_preload(spec_run)
    assert "veerkracht.method.validation" in modules and "matplotlib.pyplot" in modules
    assert not any(m.startswith(("sklearn", "scipy")) for m in modules)
    assert helper_preload({dg.AssetKey("web_map"), dg.AssetKey("dashboard_warehouse")}) is None


def test_job_and_schedule():
    job = defs.resolve_job_def("veerkracht_job")
    assert len(job.asset_layer.executable_asset_keys) == len(EXPECTED_DEPS) - 3  # not the three sources
    # Every asset carries the code version: a code change makes everything stale.
    graph = defs.resolve_asset_graph()
    from assets.versions import CODE_VERSION

    for key in job.asset_layer.executable_asset_keys:
        assert graph.get(key).code_version == CODE_VERSION
    # One job: the CLI, the UI, the schedule and the sensor launch the same one.
    assert [j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")] == ["veerkracht_job"]
    from pipelines.jobs import INGEST

    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in INGEST.resolve(graph)} == {
        "kwb_statistics",
        "region_geometries",
        "warehouse_core",
    }
    sensor = defs.resolve_sensor_def("kwb_revision_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    schedule = defs.resolve_schedule_def("monthly_cbs_refresh")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "0 6 1 * *"


def test_unknown_source_is_a_clear_error():
    with pytest.raises(
        pydantic.ValidationError, match="Unknown statistics source 'csb'; choose one of embedded, cbs"
    ):
        PipelineSettings(source="csb")
    with pytest.raises(
        pydantic.ValidationError, match="Unknown geometry source 'pdk'; choose one of embedded, pdok"
    ):
        PipelineSettings(geometry_source="pdk")


def test_unwritable_output_directory_is_a_clear_error():
    with pytest.raises(dg.DagsterInvalidConfigError, match="/proc/veerkracht is not writable"):
        with dg.build_resources({"settings": PipelineSettings(output_dir="/proc/veerkracht")}):
            pass


def test_cli_rejects_unknown_year(capsys):
    from pipelines.__main__ import main

    with pytest.raises(SystemExit):
        main(["--year", "2018"])
    assert "no KWB table known for [2018]; known years: 2019" in capsys.readouterr().err


def test_live_statistics_take_their_polygons_from_pdok_unless_told():
    from pipelines.__main__ import default_geometry_source
    from pipelines.jobs import LIVE_RUN_CONFIG

    assert default_geometry_source("cbs", None) == "pdok"
    assert default_geometry_source("cbs", "embedded") == "embedded"
    assert default_geometry_source("embedded", None) == "embedded"
    settings = LIVE_RUN_CONFIG["resources"]["settings"]["config"]
    assert (settings["source"], settings["geometry_source"]) == ("cbs", "pdok")
    schedule = defs.resolve_schedule_def("monthly_cbs_refresh")
    when = __import__("datetime").datetime(2026, 12, 1, 6)
    context = dg.build_schedule_context(
        scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.run_config == LIVE_RUN_CONFIG and request.partition_key == "2025"


def test_every_launch_forks_its_step_processes_from_a_preloaded_server():
    """The UI's launch of a partition (the job's default config) and the schedule's and sensor's
    (their run config replaces it) run each step in a process forked from a server that imported
    the code location and the libraries once; the config is one the job accepts."""
    import importlib

    from pipelines.jobs import LIVE_RUN_CONFIG, MULTIPROCESS, PRELOAD

    job = defs.resolve_job_def("veerkracht_job")
    for config in (job.partitioned_config.get_run_config_for_partition_key("2024"), LIVE_RUN_CONFIG):
        assert config["execution"] == {"config": MULTIPROCESS}
        dg.validate_run_config(job, config)  # raises on a config the job does not accept
    server = MULTIPROCESS["multiprocess"]["start_method"]["forkserver"]
    assert server["preload_modules"] == PRELOAD and "pipelines.definitions" in PRELOAD
    # The fork server skips a module it cannot import without a word: each one must import.
    for module in PRELOAD:
        importlib.import_module(module)


def test_loading_the_code_location_imports_no_data_libraries():
    """What every command, the UI and the daemon load before any step (and all a run with nothing
    to do needs) imports neither pandas, geopandas nor the CBS client: the steps import them where
    they run. (Each was ~0.1-0.3 s of a "nothing to do" run of ~1.6 s.)"""
    import subprocess
    import sys

    code = """
import sys
import assets.versions, pipelines.__main__, pipelines.definitions, pipelines.staleness
from assets.resources import PipelineSettings
from veerkracht.method.spec import DEFAULT_SPEC
PipelineSettings(method_spec=str(DEFAULT_SPEC))  # the spec is checked against the sources
heavy = ("pandas", "geopandas", "cbsodata", "sklearn", "matplotlib")
print(sorted(m for m in heavy if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_cli_runs_nothing_on_a_damaged_snapshot(tmp_path, monkeypatch, capsys):
    """Issue 26.2: the whole embedded snapshot is checked before any year runs (a damaged
    kwb-2022.csv was found only when 2022 ran, after the other years were published)."""
    import shutil

    from pipelines.__main__ import main
    from veerkracht import paths

    copy = tmp_path / "embedded"
    shutil.copytree(paths.EMBEDDED_DIR, copy)
    csv = copy / "kwb_files" / "kwb-2022.csv"
    csv.write_bytes(csv.read_bytes().replace(b";", b",", 1))
    monkeypatch.setattr(paths, "EMBEDDED_DIR", copy)
    for name in ("SOURCE", "GEOMETRY_SOURCE", "KWB_FILE", "GEOMETRY_FILES", "GEOMETRY_CODE_FIELD",
                 "GEOMETRY_NAME_FIELD", "GEOMETRY_LEVEL", "OUTPUT_DIR", "METHOD_SPEC"):  # fmt: skip
        monkeypatch.delenv(f"VEERKRACHT_{name}", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    assert main(["--year", "2024", "--output-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Nothing was run" in err and "kwb_files/kwb-2022.csv does not match its SHA-256" in err
    assert not out.exists() or not any(out.rglob("*.parquet"))


def test_cli_help_says_defaults_choices_and_environment(capsys):
    """Issue 29: --source and --output-dir had no help or default, --level showed an empty choice,
    the VEERKRACHT_* variables were not in --help, and there was no --version."""
    from pipelines.__main__ import main

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0
    assert "--level {gemeente,wijk,buurt}" in text and "{,gemeente" not in text
    assert "(default: embedded)" in text and "--output-dir DIR" in text and "``" not in text
    for name in ("VEERKRACHT_SOURCE", "VEERKRACHT_OUTPUT_DIR", "VEERKRACHT_METHOD_SPEC", "DAGSTER_HOME"):
        assert name in text
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("python -m pipelines (veerkracht 0.1.0)")


@pytest.mark.parametrize("given", [None, "2"])
def test_the_code_location_runs_openblas_on_one_thread_unless_told(given):
    """Importing the code location (the CLI, `dagster dev`, a step process) before numpy loads
    puts OpenBLAS on one thread (pipelines/__init__.py says why); a value the user set is kept."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if given:
        env["OPENBLAS_NUM_THREADS"] = given
    probe = (
        "import pipelines.definitions, numpy, scipy.linalg\n"
        "from threadpoolctl import threadpool_info\n"
        "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"[{given or 1}]"
