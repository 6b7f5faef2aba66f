"""Pressure ("druk") data: registered crime per KWB area (Politie/CBS 47022NED).

Belongs here: turning the crime extract into the same long form as KWB values (canonical
indicator ``Misdrijven``: crimes registered in the calendar year, on that KWB year's
boundaries), so the warehouse and the method treat it like any other indicator. Wijk counts are
the sum of their buurten, and only when every buurt of the wijk has a count: a partial sum would
be a silent undercount.

What is *not* here: a live download. Which extract in ``data/embedded/extra`` covers which KWB
year is the year registry's ``crime_extract`` (today 2024 only); for other years there is no
pressure data and the druk axis is NULL with reason ``not_published``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from veerkracht.codes import parent_codes
from veerkracht.ingest.canonicals import CRIME_CANONICAL
from veerkracht.integrity import verify_embedded
from veerkracht.registry import year_info

TABLE_ID = "47022NED"


def crime_tables(extra_dir: Path, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(indicator rows, value rows) shaped like ``staging.kwb_indicator`` / ``kwb_value``.

    Both are empty when no extract covers ``year``.
    """
    name = year_info(year).crime_extract
    path = Path(extra_dir) / name if name else None
    if path is None or not path.is_file():
        return pd.DataFrame(), pd.DataFrame()
    verify_embedded(path, Path(extra_dir).parent)
    raw = pd.read_parquet(path)
    column = f"misdrijven_{year}"
    if column not in raw:
        raise ValueError(f"{path} has no column {column!r} (columns: {list(raw.columns)})")
    vintage = f"{TABLE_ID}-{path.stem}"
    counts = raw[["code", "level", column]].rename(columns={column: "value"})
    counts = counts[counts["level"] != "wijk"].copy()  # wijk rows are empty in 47022NED
    buurt = counts[counts["level"] == "buurt"].assign(
        wijk=lambda d: d["code"].map(lambda c: parent_codes(c)[0])
    )
    # Vectorised per wijk (a Python function per group took 0.3 s of the 2024 staging).
    total = buurt.groupby("wijk")["value"].sum()
    complete = buurt["value"].notna().groupby(buurt["wijk"]).all()
    wijk = pd.DataFrame(
        {"code": total.index, "level": "wijk", "value": total.where(complete).astype("Float64")}
    )
    values = pd.concat([counts, wijk], ignore_index=True)
    value = values["value"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    reason = np.where(np.isnan(value), "empty", None).astype(object)
    reason[(values["level"] == "wijk").to_numpy() & np.isnan(value)] = "incomplete_buurt_sum"
    value_rows = pd.DataFrame(
        {
            "code": values["code"].astype("string"),
            "canonical": CRIME_CANONICAL,
            "source_key": column,
            "vintage": vintage,
            "value": value,
            "null_reason": pd.array(reason, dtype="string"),
        }
    )
    indicator_rows = pd.DataFrame(
        [
            {
                "source_key": column,
                "stem": CRIME_CANONICAL,
                "title": f"Geregistreerde misdrijven {year}",
                "unit": "aantal",
                "decimals": 0,
                "datatype": "Long",
                "topic_group": "Veiligheid (Politie/CBS 47022NED)",
                "canonical": CRIME_CANONICAL,
                "mapped": True,
                "table_id": TABLE_ID,
                "vintage": vintage,
            }
        ]
    )
    return indicator_rows, value_rows
