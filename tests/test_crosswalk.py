"""Crosswalks on the real 2019 and 2024 boundaries, and carrying values across them."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from veerkracht.geo.crosswalk import carry, crosswalk
from veerkracht.geo.geometry import embedded_geometry_path, read_geometries
from veerkracht.paths import EMBEDDED_DIR


def _layer(year: int, level: str) -> gpd.GeoDataFrame:
    return read_geometries(embedded_geometry_path(EMBEDDED_DIR, year, level))


@pytest.fixture(scope="module")
def gm_cw() -> pd.DataFrame:
    return crosswalk(_layer(2019, "gemeente"), _layer(2024, "gemeente"))


@pytest.fixture(scope="module")
def bu_cw() -> pd.DataFrame:
    return crosswalk(_layer(2019, "buurt"), _layer(2024, "buurt"))


def test_known_mergers(gm_cw):
    cw = gm_cw.set_index("source_code")
    # Appingedam, Delfzijl and Loppersum -> Eemsdelta (2021); Weesp -> Amsterdam (2022).
    for old, new in [("GM0003", "GM1979"), ("GM0010", "GM1979"), ("GM0024", "GM1979"), ("GM0457", "GM0363")]:
        assert cw.loc[[old], "target_code"].tolist() == [new]
        assert cw.loc[old, "weight_area"] == pytest.approx(1.0)
        assert not cw.loc[old, "unchanged"]
    # Haarlemmermeer (GM0394) was not redrawn: 1:1.
    assert cw.loc[["GM0394"], "target_code"].tolist() == ["GM0394"] and cw.loc["GM0394", "unchanged"]


@pytest.mark.parametrize("fixture", ["gm_cw", "bu_cw"])
def test_weights_sum_to_one_per_source(request, fixture):
    cw = request.getfixturevalue(fixture)
    sums = cw.groupby("source_code")[["weight_area", "weight_pop"]].sum()
    assert (sums - 1).abs().max().max() < 1e-6
    assert cw["weight_area"].between(0, 1).all()


def test_identical_areas_map_one_to_one():
    layer = _layer(2024, "buurt")
    cw = crosswalk(layer, layer)
    assert cw["unchanged"].all() and (cw["source_code"] == cw["target_code"]).all()
    assert (cw["weight_area"] == 1).all() and len(cw) == len(layer)


def test_buurten_2019_2024_changes(bu_cw):
    sources = bu_cw.groupby("source_code")["unchanged"].first()
    assert len(sources) > 13_500
    # Most buurten kept code and boundary; a real minority was redrawn or recoded.
    assert 0.6 < sources.mean() < 0.9
    assert (~sources).sum() > 1_000


def test_population_weights_follow_target_density():
    src = gpd.GeoDataFrame({"code": ["S"]}, geometry=[shapely.box(0, 0, 2, 1)], crs="EPSG:28992")
    tgt = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
                           crs="EPSG:28992")
    cw = crosswalk(src, tgt, target_population=pd.Series({"A": 30.0, "B": 10.0})).set_index("target_code")
    assert cw.loc["A", "weight_area"] == pytest.approx(0.5)
    assert cw.loc["A", "weight_pop"] == pytest.approx(0.75) and cw.loc["B", "weight_pop"] == pytest.approx(0.25)


def test_carry_counts_conserves_totals_on_real_data(embedded_run):
    """2024 buurt inhabitants carried onto the 2019 buurten keep the national total."""
    from veerkracht import warehouse

    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        pop = con.execute("SELECT code, value FROM core.fact_indicator WHERE year = 2024 "
                          "AND canonical = 'AantalInwoners' AND code LIKE 'BU%'").df()
    cw = crosswalk(_layer(2024, "buurt"), _layer(2019, "buurt"))
    out = carry(pop, cw, kind="count")
    carried_sources = pop.dropna()[pop.dropna()["code"].isin(cw["source_code"])]
    assert out["value"].sum() == pytest.approx(carried_sources["value"].sum(), rel=1e-9)
    assert out["value"].min() >= 0 and len(out) > 13_000


def test_carry_rate_uses_denominators_and_skips_nulls():
    cw = pd.DataFrame({"source_code": ["S1", "S2", "S3"], "target_code": ["T", "T", "T"],
                       "weight_area": [1.0, 1.0, 1.0], "overlap_m2": [50.0, 50.0, 0.0]})
    rates = pd.DataFrame({"code": ["S1", "S2", "S3"], "value": [10.0, 40.0, None]})
    out = carry(rates, cw, kind="rate", denominator=pd.Series({"S1": 300, "S2": 100, "S3": 5000}),
                target_area=pd.Series({"T": 200.0})).set_index("target_code")
    # (10*300 + 40*100) / 400 = 17.5; S3 has no value and is left out, not counted as 0.
    assert out.loc["T", "value"] == pytest.approx(17.5) and out.loc["T", "n_sources"] == 2
    assert out.loc["T", "covered_share"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="denominator"):
        carry(rates, cw, kind="rate")


def test_crosswalk_and_both_years_polygons_in_the_warehouse(embedded_run):
    from veerkracht import warehouse

    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        boundaries = dict(((y, lv), n) for y, lv, n in con.execute(
            "SELECT year, level, count(*) FROM core.boundary GROUP BY ALL").fetchall())
        weights = con.execute("SELECT max(abs(s - 1)) FROM (SELECT sum(weight_area) AS s FROM core.crosswalk "
                              "WHERE level = 'buurt' GROUP BY source_code)").fetchone()[0]
        eems = con.execute("SELECT target_code FROM core.crosswalk WHERE source_code = 'GM0024'").fetchall()
    assert boundaries == {(2019, "gemeente"): 356, (2019, "buurt"): 13594,
                          (2024, "gemeente"): 343, (2024, "buurt"): 14566}
    assert weights < 1e-6 and eems == [("GM1979",)]
