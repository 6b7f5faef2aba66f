"""The crosswalk the pipeline stored, and carrying real inhabitants across it."""

from __future__ import annotations

import pandas as pd
import pytest

from veerkracht.geo import embedded
from veerkracht.geo.crosswalk import carry, crosswalk
from veerkracht.paths import EMBEDDED_DIR


def _layer(year: int, level: str):
    return embedded.read_year(year, (level,), embedded_dir=EMBEDDED_DIR)[level]


def test_carry_counts_conserves_totals_on_real_data(embedded_run):
    """2024 buurt inhabitants carried onto the 2019 buurten keep the national total."""
    from veerkracht import warehouse

    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        pop = con.execute(
            "SELECT code, value FROM core.fact_indicator WHERE year = 2024 "
            "AND canonical = 'AantalInwoners' AND code LIKE 'BU%'"
        ).df()
    cw = crosswalk(_layer(2024, "buurt"), _layer(2019, "buurt"))
    out = carry(pop, cw, kind="count")
    carried_sources = pop.dropna()[pop.dropna()["code"].isin(cw["source_code"])]
    assert out["value"].sum() == pytest.approx(carried_sources["value"].sum(), rel=1e-9)
    assert out["value"].min() >= 0 and len(out) > 13_000


def test_crosswalk_and_both_years_polygons_in_the_warehouse(embedded_run):
    from veerkracht import warehouse

    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        boundaries = dict(
            ((y, lv), n)
            for y, lv, n in con.execute(
                "SELECT year, level, count(*) FROM core.boundary GROUP BY ALL"
            ).fetchall()
        )
        weights = con.execute(
            "SELECT max(abs(s - 1)) FROM (SELECT sum(weight_area) AS s FROM core.crosswalk "
            "GROUP BY from_year, level, source_code)"
        ).fetchone()[0]
        eems = con.execute(
            "SELECT target_code FROM core.crosswalk WHERE from_year = 2019 AND source_code = 'GM0024'"
        ).fetchall()
        # 2021 -> 2024 (the KWB 2021 criteria's way onto 2024's areas): 2021's wijken with a
        # polygon (253 have none: their boundary changed and is unknown) and its gemeenten.
        pairs = dict(
            ((y, lv), n)
            for y, lv, n in con.execute(
                "SELECT from_year, level, count(DISTINCT source_code) FROM core.crosswalk GROUP BY ALL"
            ).fetchall()
        )
    assert boundaries == {
        (2019, "gemeente"): 356,
        (2019, "buurt"): 13594,
        (2021, "gemeente"): 352,
        (2021, "wijk"): 3248,
        (2024, "gemeente"): 343,
        (2024, "wijk"): 3475,
        (2024, "buurt"): 14566,
    }
    assert weights < 1e-6 and eems == [("GM1979",)]
    assert pairs[(2021, "gemeente")] == 352 and pairs[(2021, "wijk")] == 3248 - 253


def test_stored_buurt_crosswalk_weights_and_coverage(embedded_run):
    """core.crosswalk as the pipeline stored it, with real 2024 inhabitants as population weights:
    both weights sum to 1 per source and coverage never exceeds 1 (91 buurten summed to up to
    1.97 and 1,543 covered more than 100 % before the fix)."""
    from veerkracht import warehouse

    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        cw = con.execute("SELECT * FROM core.crosswalk WHERE level = 'buurt'").df()
    sums = cw.groupby("source_code")[["weight_area", "weight_pop"]].sum()
    assert (sums - 1).abs().max().max() < 1e-9
    assert (cw["weight_pop"] - cw["weight_area"]).abs().max() > 0.1  # population weights in use
    assert cw["coverage_source"].between(0, 1).all()
    sources = cw.groupby("source_code")["unchanged"].first()
    assert len(sources) > 13_500
    # Most buurten kept code and boundary; a real minority was redrawn or recoded.
    assert 0.6 < sources.mean() < 0.9 and (~sources).sum() > 1_000


def test_another_output_folder_takes_the_crosswalk_from_the_cache(embedded_run, tmp_path, dagster_home):
    """Two new output folders on the embedded 2024 build and one cache: the first overlays the
    country and keeps the result, the second copies it (no overlay); both warehouses hold the
    same crosswalk, equal to the embedded run's."""
    import shutil

    import dagster as dg

    from assets.crosswalk import boundary_crosswalk
    from assets.resources import PipelineSettings, resources_for
    from veerkracht import warehouse
    from veerkracht.paths import OutputLayout

    query = "SELECT * FROM core.crosswalk ORDER BY ALL"
    with warehouse.connection(embedded_run.build_db, read_only=True, spatial=False) as con:
        want = con.execute(query).df()

    def build(name: str):
        layout = OutputLayout(tmp_path / name)
        layout.build_db.parent.mkdir(parents=True)
        shutil.copy(embedded_run.build_db, layout.build_db)  # its crosswalk files are not copied
        settings = PipelineSettings(output_dir=str(layout.root), cache_dir=str(tmp_path / "cache"))
        result = dg.materialize([boundary_crosswalk], resources=resources_for(settings))
        shown = result.asset_materializations_for_node("boundary_crosswalk")[0].metadata
        with warehouse.connection(layout.build_db, read_only=True, spatial=False) as con:
            return {k: v.value for k, v in shown.items() if k.endswith("overlay")}, con.execute(query).df()

    first, one = build("one")
    second, two = build("two")
    assert first == {"2019: overlay": "computed", "2021: overlay": "computed"}
    cached = "from the cache (same boundaries, inhabitants and code)"
    assert second == {"2019: overlay": cached, "2021: overlay": cached}
    pd.testing.assert_frame_equal(one, want)
    pd.testing.assert_frame_equal(two, want)
