"""Static facts about CBS tables and region levels; no I/O.

Which KWB table holds which year, how SoortRegio labels map onto our levels, and how a region
code encodes its parents. Anything that reads or downloads lives elsewhere.
"""

from __future__ import annotations

import re

#: "Kerncijfers wijken en buurten" table per reporting year (CBS OData v3 identifiers).
KWB_TABLES: dict[int, str] = {
    2019: "84583NED",
    2020: "84799NED",
    2021: "85039NED",
    2022: "85318NED",
    2023: "85618NED",
    2024: "85984NED",
    2025: "86165NED",
}

LEVELS: tuple[str, ...] = ("gemeente", "wijk", "buurt")

#: SoortRegio_2 labels (space padded in the feed) -> our level names.
SOORT_REGIO: dict[str, str] = {"land": "land", "gemeente": "gemeente", "wijk": "wijk", "buurt": "buurt"}

_CODE = re.compile(r"^(NL|GM|WK|BU)[0-9A-Z]+$")
_PREFIX_LEVEL = {"NL": "land", "GM": "gemeente", "WK": "wijk", "BU": "buurt"}


def table_for_year(year: int) -> str:
    """Return the KWB table id of ``year`` or raise a ValueError naming the known years."""
    try:
        return KWB_TABLES[int(year)]
    except (KeyError, ValueError):
        known = ", ".join(str(y) for y in KWB_TABLES)
        raise ValueError(f"No KWB table known for year {year!r}; known years: {known}") from None


def normalise_code(code: str) -> str:
    """Strip CBS padding from a region code (``'GM0363    '`` -> ``'GM0363'``) and check it."""
    stripped = str(code).strip().upper()
    if not _CODE.match(stripped):
        raise ValueError(f"Not a CBS region code: {code!r}")
    return stripped


def level_of(code: str) -> str:
    """Level of a normalised region code, from its prefix."""
    return _PREFIX_LEVEL[code[:2]]


def parent_codes(code: str) -> tuple[str | None, str | None]:
    """(wijk code, gemeente code) of a normalised code; codes may be alphanumeric (BU0363AA01)."""
    level = level_of(code)
    if level == "buurt":
        return "WK" + code[2:8], "GM" + code[2:6]
    if level == "wijk":
        return None, "GM" + code[2:6]
    return None, None


def is_pseudo(code: str) -> bool:
    """Code pattern of CBS pseudo areas: Buitenland (GM0998), water wijken (WKxxxx99), water/other
    buurten (…9997/9998/9999). A hint, not proof: WK010699 and WK168199 are real KWB 2024 wijken."""
    return code == "GM0998" or (code.startswith("WK") and code.endswith("99")) or (
        code.startswith("BU") and code[-4:] in ("9997", "9998", "9999"))


def check_catalog(tables: list[dict]) -> dict[int, str]:
    """Compare the registry with an ODataCatalog listing; return a problem per year, if any.

    A year is fine when the catalog lists its table id with a title naming KWB and that year.
    """
    by_id = {str(t.get("Identifier", "")).upper(): t for t in tables}
    problems = {}
    for year, table_id in KWB_TABLES.items():
        entry = by_id.get(table_id.upper())
        title = (entry or {}).get("Title") or ""
        if entry is None:
            problems[year] = f"{table_id} is not in the catalog listing"
        elif "wijken en buurten" not in title.lower() or str(year) not in title:
            problems[year] = f"{table_id} is titled {title!r}, expected KWB {year}"
    return problems
