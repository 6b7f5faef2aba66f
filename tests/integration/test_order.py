"""One graph, one truth: however the years are materialised, the published numbers are those of a
clean run of the command line.

The clean run is README's first command (``years_run``). Here the same years are built as a
Dagster backfill of the partitions one run each, newest year first, through Dagster's API; then
one year's statistics change and only that year is refreshed (as the sensor does after a CBS
revision), and its dependent year's change class moves; then the year is refreshed back. After the
backfill and after the refresh back, ``marts.area`` and every GeoParquet layer equal the clean
run's, row for row (EXCEPT ALL both ways).
"""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from assets.resources import PipelineSettings, resources_for
from pipelines.definitions import build_defs
from pipelines.jobs import veerkracht_job
from veerkracht.codes import LEVELS
from veerkracht.paths import EMBEDDED_DIR, OutputLayout
from veerkracht.publish.layers import layer_paths

YEARS = (2021, 2022, 2023, 2024)
#: The web map and the dashboard copy are built from the layers and the build warehouse compared
#: here (test_webmap draws the map of the clean run), the validation from the scores compared
#: here; left out to keep the five runs short.
SKIPPED = {"web_map", "dashboard_warehouse", "validation_criteria", "score_validation"}
WIJK = "WK001400"  # Groningen Centrum: in KWB 2022 and 2024, compared through the crosswalk


def _differences(con: duckdb.DuckDBPyConnection, left: str, right: str) -> int:
    """Rows of ``left`` not in ``right`` plus rows of ``right`` not in ``left`` (EXCEPT ALL)."""
    one = con.execute(f"SELECT count(*) FROM ({left} EXCEPT ALL {right})").fetchone()[0]
    two = con.execute(f"SELECT count(*) FROM ({right} EXCEPT ALL {left})").fetchone()[0]
    return one + two


def _compare(clean: OutputLayout, built: OutputLayout) -> dict[str, int]:
    """Per table and layer file: rows that differ between the clean run and ``built``."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{clean.build_db}' AS clean (READ_ONLY)")
    con.execute(f"ATTACH '{built.build_db}' AS built (READ_ONLY)")
    # Geometry as WKB: the same polygons, byte for byte.
    cols = [
        f'ST_AsWKB("{c}")' if t.startswith("GEOMETRY") else f'"{c}"'
        for c, t in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = 'clean' "
            "AND table_schema = 'marts' AND table_name = 'area' ORDER BY ordinal_position"
        ).fetchall()
    ]
    select = ", ".join(cols)
    found = {
        "marts.area": _differences(
            con, f"SELECT {select} FROM clean.marts.area", f"SELECT {select} FROM built.marts.area"
        )
    }
    if found["marts.area"]:  # which columns, to say why
        for c in cols:
            name = c.split('"')[1]
            n = con.execute(
                f"SELECT count(*) FROM clean.marts.area a JOIN built.marts.area b USING (year, level, code) "
                f'WHERE a."{name}" IS DISTINCT FROM b."{name}"'
            ).fetchone()[0]
            if n:
                found[f"marts.area.{name}"] = n
    for year in YEARS:
        for level in LEVELS:
            path = layer_paths(clean.layers, year, level)["parquet_4326"]
            other = layer_paths(built.layers, year, level)["parquet_4326"]
            assert path.exists() == other.exists(), f"{other.name}: exists in one build only"
            if path.exists():
                found[path.name] = _differences(
                    con, f"SELECT * FROM read_parquet('{path}')", f"SELECT * FROM read_parquet('{other}')"
                )
    con.close()
    return found


def _assert_equal(clean: OutputLayout, built: OutputLayout) -> None:
    """``marts.area`` and every layer file of the clean run (the same files exist in both, which
    ``_compare`` asserts) have no row that differs in ``built``."""
    found = _compare(clean, built)
    # At least every year's gemeenten and wijken and 2024's buurten (2021/2022 have no buurten).
    compared = {"marts.area", "buurt_2024_4326.parquet"}
    compared |= {f"{level}_{year}_4326.parquet" for year in YEARS for level in ("gemeente", "wijk")}
    assert compared <= set(found), found
    assert not any(found.values()), {name: n for name, n in found.items() if n}


def _change(layout: OutputLayout, year: int, code: str) -> tuple:
    with duckdb.connect(str(layout.build_db), read_only=True) as con:
        return con.execute(
            "SELECT change_class, round(d_kwetsbaarheid, 3) FROM marts.area WHERE year = ? AND code = ?",
            [year, code],
        ).fetchone()


@pytest.fixture(scope="module")
def backfilled(years_run, embedded_run, tmp_path_factory, dagster_home):
    """The embedded years as a backfill through Dagster's API, one run per partition, newest first.
    The 2024 run is the shared ``embedded_run`` (the whole job for partition 2024), copied."""
    out = tmp_path_factory.mktemp("backfill")
    shutil.copytree(
        embedded_run.root, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("web", "warehouse")
    )
    defs = build_defs(resources_for(PipelineSettings(output_dir=str(out))))
    job = defs.resolve_job_def(veerkracht_job.name)
    keys = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.to_user_string() not in SKIPPED]
    with dg.DagsterInstance.get() as instance:
        for year in (2023, 2022, 2021):
            result = job.execute_in_process(partition_key=str(year), instance=instance, asset_selection=keys)
            assert result.success
    return years_run[0], OutputLayout(out), defs, keys


def test_a_backfill_newest_year_first_publishes_the_clean_runs_numbers(backfilled):
    clean, built, _, _ = backfilled
    _assert_equal(clean, built)


def test_a_one_year_refresh_updates_the_years_that_depend_on_it(backfilled, tmp_path):
    """The sensor's run after a revision of KWB 2022: the 2022 partition alone, with the revised
    statistics. 2024's change class compares with 2022, so it moves; refreshed back with the
    published statistics, every number is the clean run's again."""
    clean, built, defs, keys = backfilled
    before = _change(clean, 2024, WIJK)
    revised = tmp_path / "kwb-2022.csv"
    lines = (EMBEDDED_DIR / "kwb_files" / "kwb-2022.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(";")
    for i, line in enumerate(lines):
        if line.startswith(WIJK + ";"):
            fields = line.split(";")
            fields[header.index("p_wcorpw")] = "95"  # corporation homes 26 % -> 95 %
            fields[header.index("p_koopw")] = "2"
            lines[i] = ";".join(fields)
    revised.write_text("\n".join(lines) + "\n", encoding="utf-8")
    job = defs.resolve_job_def(veerkracht_job.name)
    # Run config replaces the settings resource's whole config: the output folder is given again,
    # or the run's files (staging, layers) went to the default one ($VEERKRACHT_OUTPUT_DIR: in CI
    # README's own outputs, which then showed this test's revised 2022 figures).
    settings = {"source": "file", "kwb_file": str(revised), "output_dir": str(built.root)}
    file_source = {"resources": {"settings": {"config": settings}}}
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key="2022", instance=instance, asset_selection=keys, run_config=file_source
        )
        assert result.success
        # Resident estimates: the revised year's are made again, the years its statistics do not
        # reach are kept (their inputs and code are those they were made from); the comparison
        # below shows the kept ones equal the clean run's.
        shown = result.asset_materializations_for_node("resident_estimates")[0].metadata
        assert shown["2022 estimates"].value == "computed"
        assert {shown[f"{y} estimates"].value for y in (2021, 2023, 2024)} == {
            "reused (same inputs and code)"
        }
        moved = _change(built, 2024, WIJK)
        assert moved != before, f"2024's change class of {WIJK} did not follow the revised 2022: {moved}"
        result = job.execute_in_process(partition_key="2022", instance=instance, asset_selection=keys)
        assert result.success
    assert _change(built, 2024, WIJK) == before
    _assert_equal(clean, built)
