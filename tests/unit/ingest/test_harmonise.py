"""Key harmonisation and value parsing on the real KWB 2024 vintages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veerkracht.codes import normalise_code, parent_codes
from veerkracht.ingest import harmonise
from veerkracht.ingest.kwb import catalogues, derive_indicator_map, drift_report, load_indicator_map
from veerkracht.ingest.snapshot import list_snapshots, read_snapshot
from veerkracht.paths import EMBEDDED_DIR
from veerkracht.registry import table_for_year

APRIL_2025, REVISION_2026 = (read_snapshot(p) for p in list_snapshots(EMBEDDED_DIR / "kwb", "85984NED"))


def test_canonical_names_strip_suffix_and_disambiguate_real_duplicates():
    cat = harmonise.indicator_catalogue(APRIL_2025.data_properties).set_index("source_key")
    assert cat.loc["GemiddeldInkomenPerInwoner_83", "canonical"] == "GemiddeldInkomenPerInwoner"
    assert cat.loc["GemiddeldInkomenPerInwoner_83", "unit"] == "x 1 000 euro"
    # The same stem twice in one table: told apart by the topic group.
    assert cat.loc["Nederland_17", "canonical"] == "Nederland__herkomstland"
    assert cat.loc["Nederland_20", "canonical"] == "Nederland__geboren_in_nederland"
    assert cat.loc["Appartement_54", "canonical"] == "Appartement__gemiddelde_elektriciteitslevering"
    assert cat.loc["Appartement_62", "canonical"] == "Appartement__gemiddeld_aardgasverbruik"
    assert cat["canonical"].is_unique
    assert "Codering_3" not in cat.index  # strings are region attributes, not indicators


def test_drift_between_the_two_real_vintages():
    drift = drift_report(catalogues([APRIL_2025, REVISION_2026]))
    renamed = {d["canonical"]: (d["old_key"], d["new_key"]) for d in drift if d["change"] == "key_renamed"}
    assert renamed["GemiddeldInkomenPerInwoner"] == (
        "GemiddeldInkomenPerInwoner_83",
        "GemiddeldInkomenPerInwoner_78",
    )
    assert renamed["MateVanStedelijkheid"] == ("MateVanStedelijkheid_127", "MateVanStedelijkheid_120")
    assert len(renamed) == 8
    # The revision copy holds 18 of the 130 columns: the rest are reported, not invented.
    vanished = {d["canonical"] for d in drift if d["change"] == "vanished"}
    assert "Eenpersoonshuishoudens" in vanished and "AantalInwoners" not in vanished
    assert not [d for d in drift if d["change"] in ("appeared", "title_changed", "unit_changed")]
    # A suffix number means different things in different vintages: _78 was
    # Nettoarbeidsparticipatie in April 2025 and is income in the revision.
    cat25 = harmonise.indicator_catalogue(APRIL_2025.data_properties).set_index("source_key")
    assert cat25.loc["Nettoarbeidsparticipatie_78", "canonical"] == "Nettoarbeidsparticipatie"


def _with_props(snap, edit):
    props = [dict(p) for p in snap.data_properties]
    edit(props)
    return type(snap)(snap.table_id, snap.vintage, snap.data, props, snap.table_infos, snap.manifest)


def test_unit_change_is_kept_apart_and_reported():
    """If a revision published income in euro instead of x 1 000 euro, vintages must not mix."""

    def to_euro(props):
        next(p for p in props if p.get("Key") == "GemiddeldInkomenPerInwoner_78")["Unit"] = "euro"

    revised = _with_props(REVISION_2026, to_euro)
    cats = catalogues([APRIL_2025, revised])
    old = cats[0].set_index("source_key").at["GemiddeldInkomenPerInwoner_83", "canonical"]
    assert old == "GemiddeldInkomenPerInwoner__unit_x_1_000_euro"
    assert (
        cats[1].set_index("source_key").at["GemiddeldInkomenPerInwoner_78", "canonical"]
        == "GemiddeldInkomenPerInwoner"
    )
    changes = [d for d in drift_report(cats) if d["canonical"].startswith("GemiddeldInkomenPerInwoner")]
    assert [(d["change"], d["old"], d["new"]) for d in changes] == [("unit_changed", "x 1 000 euro", "euro")]


def test_title_change_is_reported_and_combined():
    def retitle(props):
        next(p for p in props if p.get("Key") == "MateVanStedelijkheid_120")["Title"] = "Stedelijkheid"

    cats = catalogues([APRIL_2025, _with_props(REVISION_2026, retitle)])
    changes = [d for d in drift_report(cats) if d["canonical"] == "MateVanStedelijkheid"]
    assert {d["change"] for d in changes} == {"key_renamed", "title_changed"}


def test_indicator_map_rows_are_the_vintages_own_keys_titles_and_units():
    """Checked against the vintages' own DataProperties, not against the code that wrote the file:
    every row names a real numeric Topic key with its title and unit, every one has exactly one row,
    and no two keys of one vintage share a canonical name."""
    committed = load_indicator_map()
    for snap in (APRIL_2025, REVISION_2026):
        # Numeric topics are indicators; string topics (codes, names, postcode) are region labels.
        topics = {
            t["Key"]: t
            for t in snap.data_properties
            if t.get("Type") == "Topic" and t["Datatype"] != "String"
        }
        rows = committed[(committed["table_id"] == snap.table_id) & (committed["vintage"] == snap.vintage)]
        assert sorted(rows["source_key"]) == sorted(topics)
        for r in rows.itertuples():
            assert (r.title, r.unit) == (
                topics[r.source_key]["Title"].strip(),
                (topics[r.source_key]["Unit"] or "").strip(),
            )
        assert rows["canonical"].is_unique


def test_indicator_map_file_is_what_harmonisation_derives():
    """A diff here is drift between the reviewed file and the key rules: review it, then rebuild
    the file with scripts/write_indicator_map.py."""
    derived = derive_indicator_map([APRIL_2025, REVISION_2026])
    committed = load_indicator_map()
    pd.testing.assert_frame_equal(
        derived.astype(str).reset_index(drop=True),
        committed[derived.columns].astype(str).reset_index(drop=True),
    )


def test_mapping_file_overrides_the_stem():
    mapping = load_indicator_map()
    mapping.loc[mapping["source_key"] == "Koopwoningen_47", "canonical"] = "Eigenwoningbezit"
    cats = catalogues([APRIL_2025, REVISION_2026], mapping)
    assert all(
        c.set_index("source_key").at["Koopwoningen_47", "canonical"] == "Eigenwoningbezit" for c in cats
    )
    assert cats[0]["mapped"].all()


def test_parse_values_markers_become_null_with_reason_never_zero():
    col = pd.Series(["12", " . ", "", None, "-99997", "-99999999", "-99995", "0", "3.5"], dtype="string")
    value, reason = harmonise.parse_values(col, "X_1")
    assert list(reason) == [
        None,
        "suppressed",
        "empty",
        "empty",
        "sentinel_99997",
        "sentinel_99999999",
        "sentinel_99995",
        None,
        None,
    ]
    assert np.isnan(value[1:7]).all()
    assert value[0] == 12 and value[7] == 0 and value[8] == 3.5  # a real 0 stays 0


@pytest.mark.parametrize("text", ["n/a", "nan", "1,5"])
def test_parse_values_rejects_unknown_text(text):
    # "nan" is a float to Arrow's parser too: it must not become a NULL without a reason.
    with pytest.raises(ValueError, match=f"X_1.*'{text}'"):
        harmonise.parse_values(pd.Series(["1", text]), "X_1")


def test_parse_values_reads_text_and_numbers_mixed_in_one_column():
    # A spreadsheet column with numbers and text cells: objects of both kinds.
    value, reason = harmonise.parse_values(pd.Series([1, "2.5", ".", None], dtype=object), "X_1")
    assert value[0] == 1 and value[1] == 2.5 and np.isnan(value[2:]).all()
    assert list(reason) == [None, None, "suppressed", "empty"]


def test_not_published_columns_are_marked():
    values = harmonise.long_values(APRIL_2025)
    income = values[values["source_key"] == "GemiddeldInkomenPerInwoner_83"]
    assert income["value"].isna().all() and (income["null_reason"] == "not_published").all()


def test_revision_nulls_flagged_as_possible_zeros():
    values = harmonise.long_values(REVISION_2026)
    pop = values[values["source_key"] == "AantalInwoners_5"]
    assert set(pop.loc[pop["value"].isna(), "null_reason"]) == {"missing_or_zero_in_copy"}


def test_region_codes_and_parents():
    assert normalise_code("GM0363    ") == "GM0363"
    assert parent_codes("BU0363AA01") == ("WK0363AA", "GM0363")
    with pytest.raises(ValueError):
        normalise_code("Amsterdam")
    with pytest.raises(ValueError, match="known years: 2019"):
        table_for_year(2018)
    regions = harmonise.regions(APRIL_2025)
    assert regions["code"].is_unique
    assert regions.set_index("code").loc["GM1680", "name"] == "Aa en Hunze"
