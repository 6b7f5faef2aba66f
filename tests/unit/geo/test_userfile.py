"""Bring your own boundaries: real municipal and CBS files (excerpts, tests/fixtures/boundaries)
read into our shape, each with the defect it is known for; and put over the embedded polygons."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from testpaths import FIXTURES

from veerkracht.geo import embedded
from veerkracht.geo.userfile import BoundaryFileError, normalise_codes, overlay, read_boundary_file
from veerkracht.paths import EMBEDDED_DIR

FILES = FIXTURES / "boundaries"


def test_amsterdam_crs84_alphanumeric_codes_found_by_name():
    gdf, report = read_boundary_file(FILES / "amsterdam_buurten_excerpt.geojson")
    # The file also has a `code` field (AA01 ...): not CBS codes, so cbsCode is chosen.
    assert (report.code_field, report.found_by) == ("cbsCode", "by name")
    assert report.crs == "OGC:CRS84" and not report.crs_detected
    assert gdf["code"].str.match(r"^BU0363A[AB]\d{2}$").all() and len(gdf) == 12
    assert gdf.crs.to_epsg() == 28992 and gdf["name"].notna().all()
    assert set(gdf["geometry_source"]) == {"file:amsterdam_buurten_excerpt.geojson"}


def test_eindhoven_city_numbers_are_not_taken_for_cbs_codes():
    gdf, report = read_boundary_file(FILES / "eindhoven_buurten_excerpt.gpkg")
    assert report.code_field == "bu_code"  # buurtcode holds 544, the city's own number
    assert gdf["code"].str.match(r"^BU0772\d{4}$").all()
    with pytest.raises(BoundaryFileError, match="'buurtcode' holds no CBS codes"):
        read_boundary_file(FILES / "eindhoven_buurten_excerpt.gpkg", code_field="buurtcode", level="buurt")


def test_rotterdam_invalid_polygons_are_repaired_and_counted():
    raw = gpd.read_file(FILES / "rotterdam_buurten_excerpt.geojson")
    gdf, report = read_boundary_file(FILES / "rotterdam_buurten_excerpt.geojson")
    assert report.repaired_invalid == int((~raw.geometry.is_valid).sum()) == 8
    assert gdf.geometry.is_valid.all() and report.code_field == "id"
    # Repair keeps the area: every buurt within 1 % of its original (RD New) area.
    original = raw.set_index("id").to_crs("EPSG:28992").geometry.area
    repaired = gdf.set_index("code").geometry.area
    assert ((repaired / original[repaired.index] - 1).abs() < 0.01).all()


def test_delft_names_only_is_refused_listing_the_fields():
    with pytest.raises(BoundaryFileError, match=r"no field holds CBS region codes .* fields: BU_NAAM"):
        read_boundary_file(FILES / "delft_buurten_names_excerpt.geojson")


def test_ermelo_geopackage_water_and_sentinels():
    raw = gpd.read_file(FILES / "ermelo_buurten_2021.gpkg")
    gdf, report = read_boundary_file(FILES / "ermelo_buurten_2021.gpkg")
    assert report.dropped_water == int((raw["water"] == "JA").sum()) == 1
    numeric = raw.select_dtypes("number")
    assert report.sentinels_nulled == int(numeric.isin([-99999999, -99997, -99995]).to_numpy().sum()) > 0
    assert report.crs == "EPSG:28992" and report.per_level == {"buurt": 16}


def test_topojson_without_crs_is_recognised_as_wgs84():
    gdf, report = read_boundary_file(FILES / "baarn_buurten_2014_excerpt.topojson")
    assert report.crs_detected and report.crs == "EPSG:4326" and report.code_field == "statcode"
    assert gdf["code"].str.startswith("BU0308").all()
    # Lands in Baarn: every buurt's inner point inside the embedded 2024 Baarn polygon (RD New).
    baarn = embedded.read_year(2024, ("gemeente",), embedded_dir=EMBEDDED_DIR)["gemeente"]
    outline = baarn.loc[baarn["code"] == "GM0308"].geometry.iloc[0]
    assert gdf.representative_point().within(outline).all()


def test_unrecognisable_coordinates_are_refused(tmp_path):
    square = shapely.box(600_000, 6_800_000, 601_000, 6_801_000)  # web mercator metres
    frame = gpd.GeoDataFrame({"code": ["BU03080101"]}, geometry=[square])
    frame.to_file(tmp_path / "no_crs.gpkg")  # no CRS declared, not RD New or WGS84 ranges
    with pytest.raises(BoundaryFileError, match="declares no CRS and its coordinates .* are neither RD New"):
        read_boundary_file(tmp_path / "no_crs.gpkg")
    frame.to_file(tmp_path / "says_wgs84.geojson", driver="GeoJSON")  # GeoJSON implies WGS84: wrong
    with pytest.raises(BoundaryFileError, match="lie outside the Netherlands"):
        read_boundary_file(tmp_path / "says_wgs84.geojson")


def test_duplicate_codes_are_dissolved(tmp_path):
    path = tmp_path / "dup.gpkg"
    parts = [shapely.box(150_000, 450_000, 151_000, 451_000), shapely.box(151_000, 450_000, 152_000, 451_000)]
    gpd.GeoDataFrame({"buurtcode": ["BU03080101", "BU03080101"]}, geometry=parts, crs="EPSG:28992").to_file(
        path
    )
    gdf, report = read_boundary_file(path)
    assert report.dissolved_duplicates == 1 and len(gdf) == 1
    assert gdf.geometry.iloc[0].area == pytest.approx(2_000_000)


def test_numeric_codes_get_prefix_and_padding_from_the_level():
    got = normalise_codes(gpd.pd.Series(["BU03630001 ", "bu0363aa01", 3080101, "544", None]), "buurt")
    assert got.tolist()[:3] == ["BU03630001", "BU0363AA01", "BU03080101"]
    assert got.isna().tolist()[3:] == [True, True]  # 544 pads to gemeente 0000: not a code


def test_overlay_replaces_the_covered_areas_and_keeps_the_rest():
    base = embedded.read_year(2024, ("buurt",), embedded_dir=EMBEDDED_DIR)
    files = [read_boundary_file(FILES / "rotterdam_buurten_excerpt.geojson")]
    out = overlay(base, files)["buurt"]
    codes = set(files[0][0]["code"])
    assert len(out) == len(base["buurt"]) + files[0][1].added["buurt"]
    assert set(out.loc[out["code"].isin(codes), "geometry_source"]) == {
        "file:rotterdam_buurten_excerpt.geojson"
    }
    assert out["code"].is_unique
    untouched = out[~out["code"].isin(codes)].set_index("code")
    assert untouched.geometry.equals(base["buurt"].set_index("code").loc[untouched.index].geometry)
    assert files[0][1].replaced["buurt"] + files[0][1].added["buurt"] == len(codes)


def test_a_polygon_geos_cannot_repair_whole_is_repaired_by_structure():
    """BU03030550 (Dronten) in the coarse 2014 TopoJSON has a part collapsed to nothing: GEOS's
    default repair raises "mixed-dimension" on it; the buurt must survive as a polygon."""
    gdf, report = read_boundary_file(FILES / "dronten_buurten_2014_collapsed_part.topojson")
    assert gdf["code"].tolist() == ["BU03030550"] and report.repaired_invalid == 1
    assert gdf.geometry.iloc[0].geom_type == "MultiPolygon" and gdf.geometry.iloc[0].area > 1e5
