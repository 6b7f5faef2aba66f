"""End to end on the embedded real data: counts, codes, NULLs, geometry, layers and marts."""

from __future__ import annotations

import json

import duckdb
import geopandas as gpd
import geoparquet_validator
import pandas as pd
import pyogrio
import pytest
from layer_checks import assert_geoparquet_properties

from veerkracht import warehouse
from veerkracht.ingest.snapshot import list_snapshots, read_snapshot
from veerkracht.paths import EMBEDDED_DIR

LEVELS = ("gemeente", "wijk", "buurt")


@pytest.fixture(scope="module")
def con(embedded_run):
    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as c:
        yield c


def _snapshot_codes() -> pd.DataFrame:
    frames = [read_snapshot(p).data for p in list_snapshots(EMBEDDED_DIR / "kwb", "85984NED")]
    codes = pd.concat(f["Codering_3"].str.strip() for f in frames).drop_duplicates()
    return pd.DataFrame({"code": codes, "prefix": codes.str[:2]})


def test_region_counts_equal_the_snapshot(con):
    expected = _snapshot_codes()["prefix"].value_counts().to_dict()
    got = dict(
        con.execute("SELECT level, count(*) FROM core.dim_region WHERE year = 2024 GROUP BY level").fetchall()
    )
    assert got == {
        "land": expected["NL"],
        "gemeente": expected["GM"],
        "wijk": expected["WK"],
        "buurt": expected["BU"],
    }


def test_codes_are_unique_stripped_and_parents_exist(con):
    dup = con.execute(
        "SELECT code, count(*) FROM core.dim_region GROUP BY year, code HAVING count(*) > 1"
    ).fetchall()
    assert dup == []
    assert con.execute("SELECT count(*) FROM core.dim_region WHERE code <> trim(code)").fetchone()[0] == 0
    orphans = con.execute("""
        SELECT b.code FROM core.dim_region b
        LEFT JOIN core.dim_region w ON w.year = b.year AND w.code = b.wijk_code
        LEFT JOIN core.dim_region g ON g.year = b.year AND g.code = b.gemeente_code
        WHERE b.level = 'buurt' AND (w.code IS NULL OR g.code IS NULL)""").fetchall()
    assert orphans == []
    # Amsterdam's alphanumeric codes survive as they are.
    assert con.execute("SELECT wijk_code FROM core.dim_region WHERE code = 'BU0363AA01'").fetchone() == (
        "WK0363AA",
    )


def test_missing_source_values_are_null_with_reason_never_zero(con):
    """Every value that is empty in every vintage is NULL in the warehouse, with a reason."""
    frames = []
    for folder in list_snapshots(EMBEDDED_DIR / "kwb", "85984NED"):
        snap = read_snapshot(folder)
        data = snap.data.assign(code=snap.data["Codering_3"].str.strip())
        key = next(k for k in data.columns if k.startswith("GemiddeldInkomenPerInwoner_"))
        frames.append(data[["code", key]].rename(columns={key: "v"}))
    both = pd.concat(frames).groupby("code")["v"].apply(lambda s: s.isna().all())
    missing_everywhere = set(both[both].index)
    assert len(missing_everywhere) > 10_000  # income is filled for few buurten in both vintages
    rows = con.execute(
        "SELECT code, value, null_reason FROM core.fact_indicator "
        "WHERE year = 2024 AND canonical = 'GemiddeldInkomenPerInwoner'"
    ).df()
    rows = rows[rows["code"].isin(missing_everywhere)]
    assert len(rows) == len(missing_everywhere)
    assert rows["value"].isna().all()
    assert rows["null_reason"].notna().all()
    assert (
        con.execute(
            "SELECT count(*) FROM core.fact_indicator WHERE value IS NULL AND null_reason IS NULL"
        ).fetchone()[0]
        == 0
    )


def test_vintages_are_combined_newest_value_wins(con):
    """Income comes from the 2026 revision (key _78) where it has a value."""
    rows = con.execute(
        "SELECT vintage, source_key, count(*) FROM core.fact_indicator "
        "WHERE canonical = 'GemiddeldInkomenPerInwoner' AND value IS NOT NULL "
        "GROUP BY ALL"
    ).fetchall()
    assert {(v, k) for v, k, _ in rows} == {("2026-07-19", "GemiddeldInkomenPerInwoner_78")}
    # Single-person households exist only in the April-2025 vintage (key _30).
    n = con.execute(
        "SELECT count(*) FROM core.fact_indicator WHERE canonical = 'Eenpersoonshuishoudens' "
        "AND vintage = '2025-03-27' AND value IS NOT NULL"
    ).fetchone()[0]
    assert n > 9000


def test_geometries_valid_and_in_rd(con):
    bad = con.execute(
        "SELECT count(*) FROM staging.geometry WHERE NOT ST_IsValid(geom) OR ST_IsEmpty(geom)"
    ).fetchone()[0]
    assert bad == 0
    assert "EPSG:28992" in con.execute("SELECT typeof(geom) FROM staging.geometry LIMIT 1").fetchone()[0]
    sources = dict(
        con.execute(
            "SELECT geometry_source, count(*) FROM core.dim_region WHERE level = 'buurt' GROUP BY 1"
        ).fetchall()
    )
    # Derived from the embedded files: each polygon's source as the geometry file states it, and
    # NULL for the KWB buurten no embedded file has a polygon for.
    polygons = gpd.read_parquet(EMBEDDED_DIR / "geometries" / "2024" / "buurt.parquet")
    kwb = set(_snapshot_codes().query("prefix == 'BU'")["code"])
    expected = polygons[polygons["code"].isin(kwb)]["geometry_source"].value_counts().to_dict()
    assert {k: v for k, v in sources.items() if k is not None} == expected
    assert sources[None] == len(kwb - set(polygons["code"])) > 0


@pytest.mark.parametrize("level", LEVELS)
def test_layers_read_back_and_validate(embedded_run, level):
    base = embedded_run.layers / "2024"
    for epsg in (4326, 28992):
        path = base / f"{level}_2024_{epsg}.parquet"
        gdf = gpd.read_parquet(path)
        assert gdf.crs.to_epsg() == epsg
        assert gdf.geometry.is_valid.all() and len(gdf) > 0
        assert {"code", "name", "score", "score_null_reason", "geometry_source"} <= set(gdf.columns)
        report = geoparquet_validator.check(str(path))
        assert geoparquet_validator.failed(report) == [], (path, geoparquet_validator.failed(report))
        # What the validator only reports as "skip": zstd, the bbox covering and Hilbert order.
        assert_geoparquet_properties(path, epsg)
    # Both CRSs hold the rows in the same (Hilbert) order.
    codes = [
        pd.read_parquet(base / f"{level}_2024_{e}.parquet", columns=["code"])["code"] for e in (4326, 28992)
    ]
    assert codes[0].tolist() == codes[1].tolist()
    info = pyogrio.read_info(base / f"{level}_2024.gpkg")
    assert info["crs"] == "EPSG:28992" and info["features"] == len(gdf)


def test_every_area_has_a_score_or_a_reason(con):
    rows = con.execute(
        "SELECT count(*) FROM marts.area WHERE (score IS NULL) = (score_null_reason IS NULL)"
    ).fetchone()
    assert rows[0] == 0
    assert con.execute("SELECT min(score) >= 0 AND max(score) <= 1 FROM marts.area").fetchone()[0]


def test_dashboard_query_one_gemeente(con, embedded_run):
    """The query a dashboard runs (by gemeente name) finds exactly Baarn's KWB buurten, with the
    scores and reasons the GIS layer of the same run has."""
    rows = con.execute("""
        SELECT code, name, inwoners, score, score_null_reason
        FROM marts.area WHERE year = 2024 AND level = 'buurt' AND gemeente_name = 'Baarn'
        ORDER BY score DESC NULLS LAST""").df()
    codes = _snapshot_codes()
    assert set(rows["code"]) == set(codes[codes["code"].str.startswith("BU0308")]["code"])
    layer = gpd.read_parquet(embedded_run.layers / "2024" / "buurt_2024_28992.parquet").set_index("code")
    for r in rows.itertuples():
        if r.code in layer.index:
            assert layer.at[r.code, "score"] == r.score or (
                pd.isna(r.score) and pd.isna(layer.at[r.code, "score"])
            )
    assert (rows["score"].isna() == rows["score_null_reason"].notna()).all()


def test_previous_warehouse_survives_a_failed_publish(embedded_run, tmp_path):
    target = tmp_path / "veerkracht.duckdb"
    warehouse.publish_copy(embedded_run.build_db, target)
    before = target.read_bytes()
    with pytest.raises(FileNotFoundError):
        warehouse.publish_copy(tmp_path / "does-not-exist.duckdb", target)
    assert target.read_bytes() == before
    # A damaged source is copied byte for byte, then fails the check before the rename.
    garbage = tmp_path / "damaged.duckdb"
    garbage.write_bytes(embedded_run.build_db.read_bytes()[:4096] + b"\0" * 100_000)
    with pytest.raises(duckdb.Error):
        warehouse.publish_copy(garbage, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.duckdb", "veerkracht.duckdb"]


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM marts.area").fetchone()[0], flush=True)
sys.stdin.readline()  # the parent republishes meanwhile
print(con.execute("SELECT count(*) FROM marts.area").fetchone()[0], flush=True)
print(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'republished'").fetchone()[0])
"""


def test_a_reader_open_across_a_republish_keeps_reading_the_old_file(writable_build, embedded_run, tmp_path):
    """A dashboard process holds the published file open while a run publishes a new version
    (a build with one more table) over it: the open reader keeps its complete old file, with no
    error; a reader that opens afterwards sees the new one."""
    import subprocess
    import sys

    target = tmp_path / "veerkracht.duckdb"
    warehouse.publish_copy(embedded_run.build_db, target)
    writable_build.execute("CREATE TABLE republished AS SELECT 1 AS x")
    writable_build.execute("DELETE FROM marts.area WHERE level = 'buurt'")
    writable_build.execute("CHECKPOINT")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    before = int(reader.stdout.readline())
    build = writable_build.execute(
        "SELECT file FROM pragma_database_list WHERE name = current_database()"
    ).fetchone()[0]
    writable_build.close()
    warehouse.publish_copy(build, target)
    out, _ = reader.communicate("go\n", timeout=60)
    during, has_new_table = (int(v) for v in out.split())
    assert reader.returncode == 0 and during == before and has_new_table == 0
    with warehouse.connection(target, read_only=True) as con:
        after = con.execute("SELECT count(*) FROM marts.area").fetchone()[0]
        assert con.execute("SELECT count(*) FROM republished").fetchone()[0] == 1
    assert after < before


def test_preview_png_written(embedded_run):
    png = embedded_run.previews / "buurt_2024.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000


def test_year_without_embedded_data_fails_clearly(tmp_path):
    from veerkracht.ingest.kwb import kwb_snapshots

    with pytest.raises(FileNotFoundError, match=r"no KWB 2019 \(84583NED\).*source 'cbs'"):
        kwb_snapshots(2019, "embedded", embedded_dir=EMBEDDED_DIR, raw_dir=tmp_path)


def test_qgis_style_next_to_each_layer(embedded_run):
    import xml.etree.ElementTree as ET

    from veerkracht.publish.styles import CLASS_COLOURS

    root = ET.parse(embedded_run.layers / "2024" / "buurt_2024.qml").getroot()
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "score_class"
    assert [c.get("value") for c in renderer.iter("category")] == ["1", "2", "3", "4", "5", ""]
    fills = [o.get("value") for o in renderer.iter("Option") if o.get("name") == "color"]
    assert fills[:5] == [
        ",".join(str(int(c[i : i + 2], 16)) for i in (1, 3, 5)) + ",255" for c in CLASS_COLOURS
    ]
    # The web map draws with the same classes and colours: its legend file carries styles.py's
    # palette (tests/integration/test_webmap.py checks the colours drawn).
    meta = json.loads((embedded_run.web / "meta_2024.json").read_text())
    assert meta["style"]["classes"] == CLASS_COLOURS
    for level in LEVELS:
        assert (embedded_run.layers / "2024" / f"{level}_2024_4326.qml").is_file()
