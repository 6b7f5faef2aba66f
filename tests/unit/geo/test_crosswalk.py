"""Crosswalks on the real 2019 and 2024 gemeente boundaries (with the real 2024 inhabitants as
population weights), hand-made layouts for the weight rules, and carrying values across them.
The national buurt crosswalk is checked on the pipeline's own output in
tests/integration/test_crosswalk_real.py."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from veerkracht.geo import embedded
from veerkracht.geo.crosswalk import carry, crosswalk
from veerkracht.geo.crosswalk import input_key as crosswalk_input_key
from veerkracht.ingest.snapshot import list_snapshots, read_snapshot
from veerkracht.paths import EMBEDDED_DIR


def _layer(year: int, level: str) -> gpd.GeoDataFrame:
    return embedded.read_year(year, (level,), embedded_dir=EMBEDDED_DIR)[level]


def _inhabitants_2024() -> pd.Series:
    """Inhabitants per code from the newest embedded KWB 2024 vintage (key AantalInwoners_5)."""
    data = read_snapshot(list_snapshots(EMBEDDED_DIR / "kwb", "85984NED")[-1]).data
    return data.set_index(data["Codering_3"].str.strip())["AantalInwoners_5"].dropna().astype(float)


@pytest.fixture(scope="module")
def gm_cw() -> pd.DataFrame:
    return crosswalk(
        _layer(2019, "gemeente"), _layer(2024, "gemeente"), target_population=_inhabitants_2024()
    )


def _boxes(codes_boxes: dict) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": list(codes_boxes)},
        geometry=[shapely.box(*b) for b in codes_boxes.values()],
        crs="EPSG:28992",
    )


def test_known_mergers(gm_cw):
    cw = gm_cw.set_index("source_code")
    # Appingedam, Delfzijl and Loppersum -> Eemsdelta (2021); Weesp -> Amsterdam (2022).
    for old, new in [("GM0003", "GM1979"), ("GM0010", "GM1979"), ("GM0024", "GM1979"), ("GM0457", "GM0363")]:
        assert cw.loc[[old], "target_code"].tolist() == [new]
        assert cw.loc[old, "weight_area"] == pytest.approx(1.0)
        assert not cw.loc[old, "unchanged"]
    # Haarlemmermeer (GM0394) was not redrawn: 1:1.
    assert cw.loc[["GM0394"], "target_code"].tolist() == ["GM0394"] and cw.loc["GM0394", "unchanged"]


def test_weights_sum_to_one_per_source(gm_cw):
    # Population weights really differ from area weights here (real inhabitants), so both
    # halves of the check can fail.
    assert (gm_cw["weight_pop"] - gm_cw["weight_area"]).abs().max() > 0.01
    sums = gm_cw.groupby("source_code")[["weight_area", "weight_pop"]].sum()
    assert (sums - 1).abs().max().max() < 1e-9
    assert gm_cw[["weight_area", "weight_pop", "coverage_source"]].stack().between(0, 1).all()


def test_a_target_without_inhabitants_keeps_the_source_on_area_weights():
    """The defect found on the real buurten: one target without a count got its area weight
    while the others shared the whole of 1 (sums up to 1.97)."""
    src = _boxes({"S": (0, 0, 3, 1)})
    tgt = _boxes({"A": (0, 0, 1, 1), "B": (1, 0, 2, 1), "C": (2, 0, 3, 1)})
    cw = crosswalk(src, tgt, target_population=pd.Series({"A": 30.0, "B": 10.0}))
    assert cw["weight_pop"].sum() == pytest.approx(1.0)
    assert cw["weight_pop"].tolist() == pytest.approx(cw["weight_area"].tolist())


def test_coverage_counts_overlapping_targets_once():
    """Targets that overlap each other (generalised boundaries) must not cover more than 100 %."""
    src = _boxes({"S": (0, 0, 2, 1)})
    tgt = _boxes({"A": (0, 0, 1.5, 1), "B": (0.5, 0, 2, 1)})  # 1.5 + 1.5 of a 2 m2 source
    cw = crosswalk(src, tgt)
    assert cw["coverage_source"].tolist() == pytest.approx([1.0, 1.0])
    half = crosswalk(src, _boxes({"A": (0, 0, 0.5, 1), "B": (0.25, 0, 1, 1)}))
    assert half["coverage_source"].tolist() == pytest.approx([0.5, 0.5])


def test_coverage_of_pieces_apart_is_their_summed_area():
    """Pieces whose bounding boxes do not overlap are not unioned (their areas add up): a gap
    between the targets shows as coverage below 1, touching targets cover all."""
    src = _boxes({"S": (0, 0, 2, 1)})
    gap = crosswalk(src, _boxes({"A": (0, 0, 0.9, 1), "B": (1.1, 0, 2, 1)}))
    assert gap["coverage_source"].tolist() == pytest.approx([0.9, 0.9])
    touching = crosswalk(src, _boxes({"A": (0, 0, 1, 1), "B": (1, 0, 2, 1)}))
    assert touching["coverage_source"].tolist() == pytest.approx([1.0, 1.0])


def test_coverage_is_the_union_of_the_pieces_on_real_boundaries(gm_cw):
    """coverage_source = area(source ∩ union of its targets) / area(source), checked directly
    for every real 2019 gemeente that changed (an unchanged one keeps only its own code's row)
    against the 2024 ones, whichever way it was computed."""
    src = _layer(2019, "gemeente").set_index("code").geometry
    tgt = _layer(2024, "gemeente").set_index("code").geometry
    changed = gm_cw[~gm_cw["unchanged"]]
    assert changed["source_code"].nunique() >= 15  # 18: the mergers of 2019-2024
    for code, rows in changed.groupby("source_code"):
        s = src[code]
        union = shapely.union_all([shapely.intersection(s, tgt[t]) for t in rows["target_code"]])
        want = min(shapely.area(union) / shapely.area(s), 1.0)
        assert rows["coverage_source"].tolist() == pytest.approx([want] * len(rows), rel=1e-12)


def test_identical_areas_map_one_to_one():
    layer = _layer(2024, "gemeente")
    cw = crosswalk(layer, layer)
    assert cw["unchanged"].all() and (cw["source_code"] == cw["target_code"]).all()
    assert (cw["weight_area"] == 1).all() and len(cw) == len(layer)


def test_an_area_without_a_code_is_a_clear_error():
    """A polygon without a code cannot be named in a crosswalk row: the error says which layer."""
    src = _boxes({"S": (0, 0, 2, 1)})
    tgt = _boxes({"A": (0, 0, 1, 1), "B": (1, 0, 2, 1)})
    tgt.loc[1, "code"] = None
    with pytest.raises(ValueError, match="target layer has areas without a code"):
        crosswalk(src, tgt)
    # Without a polygon it is left out, code or not (the rule above: no boundary, no row).
    tgt.loc[1, "geometry"] = None
    assert crosswalk(src, tgt)["target_code"].tolist() == ["A"]


def test_population_weights_follow_target_density():
    src = gpd.GeoDataFrame({"code": ["S"]}, geometry=[shapely.box(0, 0, 2, 1)], crs="EPSG:28992")
    tgt = gpd.GeoDataFrame(
        {"code": ["A", "B"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:28992"
    )
    cw = crosswalk(src, tgt, target_population=pd.Series({"A": 30.0, "B": 10.0})).set_index("target_code")
    assert cw.loc["A", "weight_area"] == pytest.approx(0.5)
    assert cw.loc["A", "weight_pop"] == pytest.approx(0.75) and cw.loc["B", "weight_pop"] == pytest.approx(
        0.25
    )


def test_carry_rate_uses_denominators_and_skips_nulls():
    cw = pd.DataFrame(
        {
            "source_code": ["S1", "S2", "S3"],
            "target_code": ["T", "T", "T"],
            "weight_area": [1.0, 1.0, 1.0],
            "overlap_m2": [50.0, 50.0, 0.0],
        }
    )
    rates = pd.DataFrame({"code": ["S1", "S2", "S3"], "value": [10.0, 40.0, None]})
    out = carry(
        rates,
        cw,
        kind="rate",
        denominator=pd.Series({"S1": 300, "S2": 100, "S3": 5000}),
        target_area=pd.Series({"T": 200.0}),
    ).set_index("target_code")
    # (10*300 + 40*100) / 400 = 17.5; S3 has no value and is left out, not counted as 0.
    assert out.loc["T", "value"] == pytest.approx(17.5) and out.loc["T", "n_sources"] == 2
    assert out.loc["T", "covered_share"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="denominator"):
        carry(rates, cw, kind="rate")


def test_input_key_changes_with_what_the_crosswalk_is_computed_from():
    """A stored crosswalk is reused only for the same boundaries, inhabitants and code: the key is
    the same for the same inputs, and changes with one moved boundary, one renamed code, one
    area's geometry source, one target's inhabitants or another code version."""
    source, target, people = _layer(2019, "gemeente"), _layer(2024, "gemeente"), _inhabitants_2024()

    def input_key(*args, code="c1"):
        return crosswalk_input_key(*args, code=code)

    key = input_key(source, target, people)
    assert input_key(source.copy(), target.copy(), people.copy()) == key
    moved = target.copy()
    moved.loc[moved.index[0], "geometry"] = shapely.affinity.translate(moved.geometry.iloc[0], 5.0)
    renamed = source.copy()
    renamed.loc[renamed.index[0], "code"] = "GM9999"
    redrawn = source.copy()
    redrawn.loc[redrawn.index[0], "geometry_source"] = "reconstructed_approximate"
    counted = people.copy()
    counted.iloc[0] += 1
    others = {
        input_key(source, moved, people),
        input_key(renamed, target, people),
        input_key(redrawn, target, people),
        input_key(source, target, counted),
        input_key(source, target, None),
        input_key(source, target, people, code="c2"),
    }
    assert key not in others and len(others) == 6
