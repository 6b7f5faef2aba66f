"""Boundaries for 2021 wijken from the 2024 wijken and the 2019 buurten: Groningen, real polygons."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from veerkracht.geo import derive
from veerkracht.ingest.kwbfile import read_table
from veerkracht.paths import EMBEDDED_DIR


@pytest.fixture(scope="module")
def groningen():
    wk24 = gpd.read_parquet(EMBEDDED_DIR / "geometries" / "2024" / "wijk.parquet")
    bu19 = gpd.read_parquet(EMBEDDED_DIR / "geometries" / "2019" / "buurt.parquet")
    rows = read_table(EMBEDDED_DIR / "kwb_files" / "kwb-2021.csv")
    rows = rows[(rows["recs"] == "Wijk") & rows["gwb_code_10"].str.startswith("WK0014")]
    areas = pd.DataFrame({"code": rows["gwb_code_10"].str.strip(), "name": rows["regio"].str.strip()})
    wk19 = derive.dissolve_buurten(bu19[bu19["code"].str.startswith("BU0014")], "buurten_2019_dissolved")
    wk24 = wk24[wk24["code"].str.startswith("WK0014")]
    got = derive.boundaries_for(areas, wk24, wk19, later_year=2024, earlier_year=2019).set_index("code")
    return got, wk24.set_index("code"), wk19.set_index("code"), areas.set_index("code")


def _iou(a, b) -> float:
    return shapely.intersection(a, b).area / shapely.union(a, b).area


def test_every_area_gets_a_row_and_a_source(groningen):
    got, _, _, areas = groningen
    assert list(got.index) == list(areas.index)
    assert got["geometry_source"].notna().all()
    # A NULL polygon always says why; a polygon never carries a no_boundary source.
    unknown = got.geometry.isna()
    assert got.loc[unknown, "geometry_source"].str.startswith("no_boundary:").all()
    assert not got.loc[~unknown, "geometry_source"].str.startswith("no_boundary:").any()


def test_a_stable_wijk_gets_the_2024_polygon(groningen):
    got, wk24, wk19, _ = groningen
    row = got.loc["WK001400"]
    assert row["geometry_source"].endswith("_same_code_name_stable")
    assert row.geometry.equals(wk24.at["WK001400", "geometry"])
    assert _iou(wk24.at["WK001400", "geometry"], wk19.at["WK001400", "geometry"]) >= derive.MIN_IOU


def test_a_boundary_that_changed_between_2019_and_2024_is_not_drawn(groningen):
    got, wk24, wk19, _ = groningen
    row = got.loc["WK001409"]
    assert row.geometry is None
    assert row["geometry_source"] == "no_boundary:changed_between_2019_and_2024"
    assert _iou(wk24.at["WK001409", "geometry"], wk19.at["WK001409", "geometry"]) < derive.MIN_IOU


def test_a_wijk_created_after_2019_that_kept_code_and_name_gets_the_2024_polygon(groningen):
    got, wk24, wk19, areas = groningen
    row = got.loc["WK001419"]
    assert "WK001419" not in wk19.index
    assert row["geometry_source"].endswith("_same_code_name") and not row["geometry_source"].endswith(
        "stable"
    )
    assert wk24.at["WK001419", "name"] == areas.at["WK001419", "name"]


def test_names_compare_on_letters_and_digits():
    later = gpd.GeoDataFrame(
        {"code": ["GM0820"], "name": ["Nuenen, Gerwen en Nederwetten"], "geometry_source": ["x"]},
        geometry=[shapely.box(0, 0, 1, 1)],
        crs="EPSG:28992",
    )
    areas = pd.DataFrame({"code": ["GM0820", "GM0999"], "name": ["Nuenen Gerwen en Nederwetten", "Elders"]})
    got = derive.same_codes(areas, later).set_index("code")
    assert got.at["GM0820", "geometry_source"] == "x_same_code_name"
    assert got.at["GM0999", "geometry_source"] == "no_boundary:code_or_name_changed"


def test_a_crosswalk_leaves_unknown_boundaries_out(groningen):
    from veerkracht.geo.crosswalk import crosswalk

    got, wk24, _, _ = groningen
    cw = crosswalk(got.reset_index().set_crs("EPSG:28992", allow_override=True), wk24.reset_index())
    assert "WK001409" not in set(cw["source_code"])  # no polygon: no row, never a guessed one
    assert "WK001400" in set(cw["source_code"])
