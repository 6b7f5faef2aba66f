"""The command line as a user runs it: a real municipal boundary file replaces its gemeente's
buurten in the layers and the web map, the default output is a one-screen summary, and a bad file
fails with its cause in the last line."""

from __future__ import annotations

import hashlib
import json
import subprocess

import duckdb
import geopandas as gpd
import pandas as pd
import pytest
from cli import cli_in_process, run_cli
from testpaths import FIXTURES

from veerkracht.method.spec import load_spec
from veerkracht.paths import METHODS_DIR, OutputLayout

ROTTERDAM = FIXTURES / "boundaries" / "rotterdam_buurten_excerpt.geojson"
#: Last decade's map: most Baarn buurt codes of 2014 still exist in 2024, two do not.
BAARN_2014 = FIXTURES / "boundaries" / "baarn_buurten_2014_excerpt.topojson"


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(tmp_path / "home", tmp_path / "out", *args)


@pytest.fixture(scope="module")
def rotterdam_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    return tmp, _cli(
        tmp, "--year", "2024", "--geometry-file", str(ROTTERDAM), "--geometry-file", str(BAARN_2014)
    )


def test_summary_fits_on_one_screen(rotterdam_run):
    _, proc = rotterdam_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) <= 25, proc.stdout
    steps = (
        "kwb_statistics",
        "region_geometries",
        "warehouse_core",
        "veerkracht_scores",
        "area_layers",
        "dashboard_warehouse",
        "web_map",
        "boundary_crosswalk",
    )
    for step in steps:
        assert sum(line.strip().startswith(step) for line in lines) == 1, step
    # The warnings that matter: repaired input, a file without a CRS, codes the statistics lack.
    assert any("8 invalid polygons repaired" in line for line in lines)
    assert any("no CRS declared; read as EPSG:4326" in line for line in lines)
    assert any("2 buurt codes the KWB 2024 statistics do not list" in line for line in lines)
    assert lines[-1].strip().startswith("web map: python -m veerkracht.publish.serve")
    assert "DEBUG" not in proc.stdout + proc.stderr and "STEP_START" not in proc.stdout


def test_the_file_replaces_its_buurten_in_layers_and_web_map(rotterdam_run):
    tmp, proc = rotterdam_run
    assert proc.returncode == 0
    source = "file:rotterdam_buurten_excerpt.geojson"
    file_polygons = gpd.read_file(ROTTERDAM).to_crs("EPSG:28992").set_index("id")
    layer = gpd.read_parquet(tmp / "out" / "layers" / "2024" / "buurt_2024_28992.parquet").set_index("code")
    mine = layer[layer["geometry_source"] == source]
    # Every file buurt the 2024 statistics list is drawn with the file's (repaired) polygon.
    assert len(mine) >= 12 and set(mine.index) <= set(file_polygons.index)
    for code in mine.index:
        assert mine.geometry[code].symmetric_difference(file_polygons.geometry[code].buffer(0)).area < 1.0
    # The rest of Rotterdam keeps its embedded polygons.
    others = layer[layer.index.str.startswith("BU0599") & ~layer.index.isin(mine.index)]
    assert len(others) > 50 and (others["geometry_source"] != source).all()
    # The web map is built from these layers: its search index has the file's extent.
    index = json.loads((tmp / "out" / "web" / "search_2024.json").read_text())
    entry = next(i for i in index if i["c"] == mine.index[0])
    wgs = gpd.GeoSeries([mine.geometry.iloc[0]], crs="EPSG:28992").to_crs("EPSG:4326").total_bounds
    assert entry["b"] == pytest.approx(list(wgs), abs=1e-4)


def test_a_file_without_codes_fails_with_its_cause_last(tmp_path):
    proc = _cli(
        tmp_path, "--geometry-file", str(FIXTURES / "boundaries" / "delft_buurten_names_excerpt.geojson")
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Run for 2021, 2022, 2023, 2024 failed at region_geometries (")
    assert "no field holds CBS region codes" in last and "BU_NAAM" in last and "untouched" in last
    assert "Traceback" not in proc.stdout


def test_missing_file_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    missing = str(tmp_path / "nope.gpkg")
    where = (monkeypatch, capsys, tmp_path / "home", tmp_path / "out")
    proc = cli_in_process(*where, "--geometry-file", missing)
    assert proc.returncode == 2 and "no boundary file at" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_summary_numbers_match_the_outputs(rotterdam_run):
    tmp, proc = rotterdam_run
    line = next(x for x in proc.stdout.splitlines() if x.strip().startswith("veerkracht_scores"))
    mart = pd.read_parquet(tmp / "out" / "layers" / "2024" / "gemeente_2024_28992.parquet")
    assert f"gemeenten {mart['score'].notna().sum():,}" in line


def test_codes_unknown_to_the_statistics_are_reported_not_drawn(rotterdam_run):
    tmp, proc = rotterdam_run
    import duckdb

    with duckdb.connect(str(tmp / "out" / "warehouse" / "veerkracht.duckdb"), read_only=True) as con:
        kwb = {r[0] for r in con.execute("SELECT code FROM core.dim_region WHERE year = 2024").fetchall()}
    file_codes = set(gpd.read_file(BAARN_2014)["statcode"])
    unknown = file_codes - kwb
    assert len(unknown) == 2
    layer = gpd.read_parquet(tmp / "out" / "layers" / "2024" / "buurt_2024_28992.parquet")
    assert not set(layer["code"]) & unknown
    drawn = layer[layer["geometry_source"] == "file:baarn_buurten_2014_excerpt.topojson"]
    # Drawn: exactly the file's areas (after repair) that the statistics list.
    from veerkracht.geo.userfile import read_boundary_file

    read, _ = read_boundary_file(BAARN_2014)
    assert set(drawn["code"]) == set(read["code"]) & kwb


def test_a_kwb_download_file_is_a_source(tmp_path):
    """CBS's own kwb-2023.xlsx of one city, alone in a fresh output folder: scored among its own
    areas (there is no national 2024 to place it in), and every row says so."""
    from veerkracht.paths import EMBEDDED_DIR

    xlsx = EMBEDDED_DIR / "kwb_files" / "kwb-2023-GM0344-utrecht.xlsx"
    proc = _cli(tmp_path, "--source", "file", "--kwb-file", str(xlsx), "--year", "2023")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "source file" in proc.stdout
    import duckdb

    con = duckdb.connect(str(tmp_path / "out" / "warehouse" / "veerkracht.duckdb"), read_only=True)
    level, n, coverage = con.execute(
        "SELECT level, count(score), any_value(coverage) FROM marts.area WHERE level = 'buurt' GROUP BY level"
    ).fetchone()
    assert n > 100 and coverage.startswith("partial: 1 of 342 gemeenten (Utrecht); ranked among its own")


def test_the_file_source_needs_a_file_and_one_year(tmp_path, monkeypatch, capsys):
    where = (monkeypatch, capsys, tmp_path / "home", tmp_path / "out")
    proc = cli_in_process(*where, "--source", "file", "--year", "2023")
    assert proc.returncode == 2 and "--kwb-file" in proc.stderr
    two_years = ("--year", "2023", "--year", "2024")
    proc = cli_in_process(*where, "--source", "file", "--kwb-file", __file__, *two_years)
    assert proc.returncode == 2 and "one --year" in proc.stderr


def _digests(paths) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_nothing_new_does_nothing_and_a_new_spec_only_scores_again(rotterdam_run):
    """Last in this module: it rescores the module's output folder with another spec."""
    tmp, first = rotterdam_run
    assert first.returncode == 0
    args = ("--year", "2024", "--geometry-file", str(ROTTERDAM), "--geometry-file", str(BAARN_2014))
    layout = OutputLayout(tmp / "out")
    published = [layout.warehouse_db, *sorted((layout.layers / "2024").iterdir())]
    staged = sorted(layout.staging(2024).rglob("*.parquet"))
    before, staged_before = _digests(published), {p: p.stat().st_mtime_ns for p in staged}

    again = _cli(tmp, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("Nothing to do: KWB 2024 in "), again.stdout
    assert len(again.stdout.splitlines()) == 1
    assert _digests(published) == before

    v1 = _cli(tmp, *args, "--method", str(METHODS_DIR / "veerkracht-v1.toml"))
    assert v1.returncode == 0, v1.stdout + v1.stderr
    lines = v1.stdout.splitlines()
    assert lines[0] == "Why: spec changed (veerkracht_scores)"
    steps = {line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("    ")}
    # Scored again from the build warehouse: nothing read or staged again, no crosswalk, resident
    # count or criterion matched again (none depends on the spec).
    assert {"veerkracht_scores", "area_layers", "score_validation", "dashboard_warehouse", "web_map"} <= steps
    spec_free = {"kwb_statistics", "region_geometries", "warehouse_core", "boundary_crosswalk"}
    assert not steps & (spec_free | {"resident_estimates", "validation_criteria"}), steps
    assert {p: p.stat().st_mtime_ns for p in staged} == staged_before
    with duckdb.connect(str(layout.warehouse_db), read_only=True) as con:
        hashes = con.execute("SELECT DISTINCT spec_hash FROM marts.area WHERE year = 2024").fetchall()
    assert hashes == [(load_spec(METHODS_DIR / "veerkracht-v1.toml").spec_hash,)]
    # And v1 again: nothing to do.
    assert _cli(tmp, *args, "--method", str(METHODS_DIR / "veerkracht-v1.toml")).stdout.startswith(
        "Nothing to do"
    )
