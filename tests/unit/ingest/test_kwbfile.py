"""The `file` statistics source on CBS's own download file and on the 2021 re-export (real excerpts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from testpaths import FIXTURES

from veerkracht.ingest import harmonise, kwb, kwbfile
from veerkracht.paths import EMBEDDED_DIR

KWB_FILES = FIXTURES / "kwb_files"
UTRECHT_2024 = KWB_FILES / "CBS-Utrecht-kwb-2024.xlsx"
REEXPORT = KWB_FILES / "reexport_2021_2022_NL_utrecht_baarn.csv"
EMBEDDED_2021 = EMBEDDED_DIR / "kwb_files" / "kwb-2021.csv"


def _values(snapshot) -> pd.DataFrame:
    return harmonise.long_values(snapshot).set_index(["code", "canonical"])


def test_cbs_xlsx_reads_as_a_snapshot_with_canonical_names():
    snap = kwbfile.read_file(UTRECHT_2024, 2024)
    assert snap.table_id == "85984NED" and snap.vintage.startswith("file-")
    regions = harmonise.regions(snap)
    assert regions["level"].value_counts().to_dict() == {"buurt": 111, "wijk": 10, "gemeente": 1}
    buurt = regions.set_index("code").loc["BU03440111"]
    assert (buurt["name"], buurt["wijk_code"], buurt["gemeente_code"]) == (
        "Welgelegen, Den Hommel",
        "WK034401",
        "GM0344",
    )
    v = _values(snap)
    # The cells of CBS's own file, read by hand: a_inw 374238 and g_hhgro 1.9 for the gemeente,
    # a_hh 1100 and a_1p_hh 685 for BU03440111.
    assert v.at[("GM0344", "AantalInwoners"), "value"] == 374238
    assert v.at[("GM0344", "GemiddeldeHuishoudensgrootte"), "value"] == pytest.approx(1.9)
    assert v.at[("BU03440111", "HuishoudensTotaal"), "value"] == 1100
    assert v.at[("BU03440111", "Eenpersoonshuishoudens"), "value"] == 685
    assert snap.manifest["unknown_columns"] == []


def test_dot_is_null_with_the_suppressed_reason_never_zero():
    v = _values(kwbfile.read_file(UTRECHT_2024, 2024))
    koop = v.xs("Koopwoningen", level="canonical")
    # This early release has '.' in every p_koopw cell: not published, NULL, never 0.
    assert koop["value"].isna().all()
    assert set(koop["null_reason"]) == {"not_published"}
    wmo = v.xs("WmoClienten", level="canonical")
    assert wmo["value"].isna().all() and not (wmo["value"] == 0).any()
    inw = v.xs("AantalInwoners", level="canonical")
    assert inw["value"].notna().all() and inw["null_reason"].isna().all()


def test_a_single_dot_among_values_is_suppressed(tmp_path):
    frame = kwbfile.read_table(UTRECHT_2024)
    frame.loc[frame["gwb_code_10"] == "BU03440111", "a_inw"] = "."
    path = tmp_path / "kwb-2024.csv"
    frame.to_csv(path, sep=";", index=False)  # CBS's csv: ';'-separated
    v = _values(kwbfile.read_file(path, 2024))
    assert np.isnan(v.at[("BU03440111", "AantalInwoners"), "value"])
    assert v.at[("BU03440111", "AantalInwoners"), "null_reason"] == "suppressed"
    assert v.at[("BU03440112", "AantalInwoners"), "value"] > 0


def test_unknown_columns_are_reported_not_scored():
    snap = kwbfile.read_file(REEXPORT, 2021)
    # The re-exporter joined CBS "Jeugdzorg per wijk" columns on: not KWB, not mapped.
    assert "TotaalJongerenMetJeugdzorgInNatura_1" in snap.manifest["unknown_columns"]
    assert "VormenVanJeugdzorg" in snap.manifest["unknown_columns"]
    keys = {p["Key"] for p in snap.data_properties}
    assert "TotaalJongerenMetJeugdzorgInNatura_1" not in keys and "AantalInwoners" in keys


def test_canonical_names_match_the_odata_catalogue():
    """Every mapped canonical name the 2024 OData table also has means the same there (title)."""
    fmap = kwbfile.load_file_map()
    odata = kwb.load_indicator_map()
    odata = odata[odata["table_id"] == "85984NED"].drop_duplicates("canonical").set_index("canonical")
    shared = fmap[fmap["canonical"].isin(odata.index)]
    assert len(shared) >= 100
    for row in shared.itertuples():
        assert odata.at[row.canonical, "unit"] == row.unit, row.short_name
    assert fmap["short_name"].is_unique and fmap["canonical"].is_unique
    # The method's sources are all mapped: a download file can feed every indicator it publishes.
    assert {
        "HuishoudensMetEenLaagInkomen",
        "PersonenPerSoortUitkeringBijstand",
        "WmoClientenRelatief",
    } <= set(fmap["canonical"])


def test_the_reexport_decimal_defect_is_repaired_per_field_and_cell():
    raw = kwbfile.read_table(REEXPORT)
    rows = raw[raw["year"] == "2021"]
    fmap = kwbfile.load_file_map()
    fixed, decisions = kwbfile.repair_dropped_decimals(
        rows, dict(zip(fmap["short_name"], fmap["decimals"], strict=True))
    )
    nl = fixed[fixed["gwb_code_10"].str.strip() == "NL00"].iloc[0]
    # The Nederland row, as PROVENANCE.txt reads it: 2.1 persons, 29.2 x 1,000 EUR, 40.0 %.
    assert (float(nl["g_hhgro"]), float(nl["g_ink_pi"]), float(nl["p_hh_li"])) == (2.1, 29.2, 40.0)
    assert float(nl["p_hh_lkk"]) == 6.8
    assert decisions["g_hhgro"].startswith("divided by 10")
    assert decisions["p_stadsv"].startswith("kept") or decisions["p_stadsv"] == "empty"
    # Integer fields stay as they are.
    assert fixed["a_inw"].equals(rows["a_inw"]) and fixed["p_koopw"].equals(rows["p_koopw"])
    # 2022 rows were exported right: nothing to repair where values carry decimals.
    _, d2022 = kwbfile.repair_dropped_decimals(
        raw[raw["year"] == "2022"], dict(zip(fmap["short_name"], fmap["decimals"], strict=True))
    )
    assert d2022["g_hhgro"].startswith("kept")


def test_a_cell_that_kept_its_separator_is_not_divided():
    frame = pd.DataFrame({"p_ink_li": ["400", "39.3", "363", ""]})
    fixed, decision = kwbfile.repair_dropped_decimals(frame, {"p_ink_li": 1})
    assert fixed["p_ink_li"].tolist() == ["40.0", "39.3", "36.3", ""]
    assert decision["p_ink_li"] == "divided by 10: 2 of 3 values had no fraction"


@pytest.fixture(scope="module")
def kwb2021():
    snap = kwbfile.read_file(EMBEDDED_2021, 2021)
    values = harmonise.long_values(snap)
    wide = values.pivot(index="code", columns="canonical", values="value")
    return harmonise.regions(snap).set_index("code"), wide, kwbfile.load_file_map()


def test_embedded_2021_percentages_are_at_most_100(kwb2021):
    _, wide, fmap = kwb2021
    pct = [c for c in fmap.loc[fmap["unit"] == "%", "canonical"] if c in wide]
    top = wide[pct].max().dropna()  # (p_jz_tn is empty in 2021)
    assert len(top) > 20 and (top <= 100).all(), top[top > 100]
    assert wide["GemiddeldeHuishoudensgrootte"].dropna().between(1, 6).all()


def test_embedded_2021_national_values_match_the_gemeenten(kwb2021):
    regions, wide, _ = kwb2021
    gm = wide.loc[regions.index[regions["level"] == "gemeente"]]
    nl = wide.loc["NL00"]
    # Income per inhabitant: the national figure is the inhabitant-weighted mean of the gemeenten.
    ok = gm["GemiddeldInkomenPerInwoner"].notna()
    mean = np.average(gm.loc[ok, "GemiddeldInkomenPerInwoner"], weights=gm.loc[ok, "AantalInwoners"])
    assert nl["GemiddeldInkomenPerInwoner"] == pytest.approx(29.2)
    assert mean == pytest.approx(nl["GemiddeldInkomenPerInwoner"], rel=0.03)
    # Low-income households: the national share is the household-weighted mean.
    ok = gm["HuishoudensMetEenLaagInkomen"].notna()
    mean = np.average(gm.loc[ok, "HuishoudensMetEenLaagInkomen"], weights=gm.loc[ok, "HuishoudensTotaal"])
    assert mean == pytest.approx(nl["HuishoudensMetEenLaagInkomen"], abs=0.3)


def test_embedded_2021_wijken_sum_to_their_gemeente(kwb2021):
    regions, wide, _ = kwb2021
    wk = wide.loc[regions.index[regions["level"] == "wijk"]].join(regions["gemeente_code"])
    summed = wk.groupby("gemeente_code")["AantalInwoners"].sum()
    own = wide.loc[summed.index, "AantalInwoners"]
    # CBS rounds wijk counts; the sums agree within 1 % for (almost) every gemeente.
    rel = (summed / own - 1).abs()
    assert (rel <= 0.01).mean() > 0.98, rel.sort_values().tail()
    # One-decimal shares: the households-weighted mean of the wijken is near the gemeente's own.
    share = wk.dropna(subset=["HuishoudensMetEenLaagInkomen", "HuishoudensTotaal"])
    weighted = share.groupby("gemeente_code").apply(
        lambda g: np.average(g["HuishoudensMetEenLaagInkomen"], weights=g["HuishoudensTotaal"])
    )
    diff = (weighted - wide.loc[weighted.index, "HuishoudensMetEenLaagInkomen"]).abs()
    assert diff.median() < 0.3, diff.describe()


def test_bad_files_get_a_clear_error(tmp_path):
    with pytest.raises(kwbfile.KwbFileError, match="No KWB download file"):
        kwbfile.read_file(tmp_path / "kwb-2023.xlsx", 2023)
    other = tmp_path / "other.csv"
    other.write_text("a;b\n1;2\n")
    with pytest.raises(kwbfile.KwbFileError, match="not a KWB download file: no"):
        kwbfile.read_file(other, 2023)
    frame = kwbfile.read_table(UTRECHT_2024)
    frame.loc[0, "recs"] = "Provincie"
    bad = tmp_path / "kwb-bad.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(kwbfile.KwbFileError, match="recs holds"):
        kwbfile.read_file(bad, 2024)
    with pytest.raises(kwbfile.KwbFileError, match="--kwb-file"):
        kwbfile.snapshots(2024)
