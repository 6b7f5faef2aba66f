"""File paths reach SQL quoted: an output folder such as ``o'neil/out`` (a real surname) works for
staging, loading and publishing the warehouse (it was a DuckDB ParserException)."""

from __future__ import annotations

from veerkracht import warehouse
from veerkracht.codes import LEVELS
from veerkracht.geo.stage import stage_geometries
from veerkracht.ingest import kwb, pressure
from veerkracht.paths import EMBEDDED_DIR


def test_an_apostrophe_in_the_output_folder(tmp_path):
    staged = tmp_path / "o'neil" / "out" / "staging" / "2024"
    got = kwb.kwb_snapshots(2024, "embedded", embedded_dir=EMBEDDED_DIR, raw_dir=tmp_path / "raw")
    counts = kwb.stage_kwb(got.snapshots, staged, extra=pressure.crime_tables(EMBEDDED_DIR / "extra", 2024))
    stage_geometries(2024, LEVELS, EMBEDDED_DIR, staged)
    build = tmp_path / "o'neil" / "out" / "work" / "build.duckdb"
    build.parent.mkdir(parents=True)
    con = warehouse.connect(build)
    rows = warehouse.load_staged_year(con, 2024, staged)
    assert rows["staging.geometry"] > 18_000
    # The values reach core.fact_indicator from the staged Parquet (a path parameter): one row per
    # area and indicator over the vintages.
    values = str(staged / "kwb_value.parquet")
    staged_rows, areas_indicators = con.execute(
        "SELECT count(*), count(DISTINCT (code, canonical)) FROM read_parquet($p)", {"p": values}
    ).fetchone()
    assert staged_rows == counts["kwb_value"]
    facts = warehouse.build_core(con, 2024, staged)["core.fact_indicator"]
    assert facts == areas_indicators > 1_000_000
    con.close()
    published = warehouse.publish_copy(build, tmp_path / "o'neil" / "out" / "warehouse" / "veerkracht.duckdb")
    # The other publishing path (a build file with a WAL) copies through ATTACH '<path>'.
    copied = tmp_path / "o'neil" / "copy.duckdb"
    warehouse._copy_by_duckdb(build, copied)
    for db in (published, copied):
        with warehouse.connection(db, read_only=True) as reader:
            assert reader.execute("SELECT count(*) FROM core.fact_indicator").fetchone()[0] == facts
    assert warehouse.sql_string("o'neil") == "'o''neil'"
