"""Crime counts (Politie/CBS 47022NED, embedded extract on KWB 2024 boundaries) as KWB-shaped rows."""

from __future__ import annotations

import pandas as pd
import pytest

from veerkracht.ingest import pressure
from veerkracht.paths import EMBEDDED_DIR
from veerkracht.registry import year_info

EXTRA = EMBEDDED_DIR / "extra"


def _raw() -> pd.DataFrame:
    return pd.read_parquet(EXTRA / year_info(2024).crime_extract)


def test_buurt_and_gemeente_counts_are_the_extract_and_wijken_sum_complete_buurten():
    indicators, values = pressure.crime_tables(EXTRA, 2024)
    raw = _raw()
    got = values.set_index("code")["value"]
    # Buurt and gemeente values are the extract's own.
    own = raw[raw["level"] != "wijk"].set_index("code")["misdrijven_2024"].astype(float)
    assert got[own.index].tolist() == pytest.approx(own.tolist(), nan_ok=True)
    # Wijken: the sum of their buurten, computed here from the code structure (WK = BU[2:8]).
    buurt = raw[raw["level"] == "buurt"].assign(wijk=lambda d: "WK" + d["code"].str[2:8])
    per_wijk = buurt.groupby("wijk")["misdrijven_2024"]
    complete = per_wijk.apply(lambda s: s.notna().all())
    sums = per_wijk.sum()[complete].astype(float)
    assert (got[sums.index] == sums).all()
    # A wijk with one buurt without a count is NULL with its reason, never a partial sum.
    incomplete = complete[~complete].index
    assert len(incomplete) > 0
    rows = values.set_index("code").loc[incomplete]
    assert rows["value"].isna().all() and (rows["null_reason"] == "incomplete_buurt_sum").all()
    empty = values[values["value"].isna() & values["code"].str.startswith("BU")]
    assert len(empty) == int(raw.loc[raw["level"] == "buurt", "misdrijven_2024"].isna().sum())
    assert (empty["null_reason"] == "empty").all()
    assert indicators[["canonical", "unit", "table_id"]].iloc[0].tolist() == [
        "Misdrijven",
        "aantal",
        "47022NED",
    ]


def test_no_extract_for_the_year_gives_no_rows():
    assert year_info(2023).crime_extract is None
    indicators, values = pressure.crime_tables(EXTRA, 2023)
    assert indicators.empty and values.empty
