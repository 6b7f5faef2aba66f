"""Key harmonisation and value parsing on the real KWB 2024 vintages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veerkracht import harmonise
from veerkracht.ingest import drift_report
from veerkracht.paths import EMBEDDED_DIR
from veerkracht.registry import normalise_code, parent_codes, table_for_year
from veerkracht.snapshot import list_snapshots, read_snapshot

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
    drift = {d["canonical"]: d for d in drift_report([APRIL_2025, REVISION_2026])}
    assert drift["GemiddeldInkomenPerInwoner"]["keys"] == (
        "2025-03-27=GemiddeldInkomenPerInwoner_83; 2026-07-19=GemiddeldInkomenPerInwoner_78")
    assert drift["MateVanStedelijkheid"]["keys"] == (
        "2025-03-27=MateVanStedelijkheid_127; 2026-07-19=MateVanStedelijkheid_120")
    # A suffix number means different things in different vintages: _78 was
    # Nettoarbeidsparticipatie in April 2025 and is income in the revision.
    cat25 = harmonise.indicator_catalogue(APRIL_2025.data_properties).set_index("source_key")
    assert cat25.loc["Nettoarbeidsparticipatie_78", "canonical"] == "Nettoarbeidsparticipatie"
    # Same key, title and unit in both vintages: no drift to report.
    assert "AantalInwoners" not in drift
    # Keys of the April release that the revision lacks are reported as present in one vintage.
    assert drift["Eenpersoonshuishoudens"]["in_vintages"] == 1


def test_parse_values_markers_become_null_with_reason_never_zero():
    col = pd.Series(["12", " . ", "", None, "-99997", "-99999999", "-99995", "0", "3.5"], dtype="string")
    value, reason = harmonise.parse_values(col, "X_1")
    assert list(reason) == [None, "suppressed", "empty", "empty", "sentinel_99997",
                            "sentinel_99999999", "sentinel_99995", None, None]
    assert np.isnan(value[1:7]).all()
    assert value[0] == 12 and value[7] == 0 and value[8] == 3.5  # a real 0 stays 0


def test_parse_values_rejects_unknown_text():
    with pytest.raises(ValueError, match="X_1.*'n/a'"):
        harmonise.parse_values(pd.Series(["1", "n/a"]), "X_1")


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
