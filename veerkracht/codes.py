"""CBS region codes and levels: static rules, no I/O.

Belongs here: the levels we publish, how SoortRegio labels map onto them, and how a region code
encodes its level and parents (``BU03630001`` -> ``WK036300`` -> ``GM0363``).
"""

from __future__ import annotations

import re

LEVELS: tuple[str, ...] = ("gemeente", "wijk", "buurt")

#: SoortRegio_2 labels (space padded in the feed) -> our level names.
SOORT_REGIO: dict[str, str] = {"land": "land", "gemeente": "gemeente", "wijk": "wijk", "buurt": "buurt"}

_CODE = re.compile(r"^(NL|GM|WK|BU)[0-9A-Z]+$")
_PREFIX_LEVEL = {"NL": "land", "GM": "gemeente", "WK": "wijk", "BU": "buurt"}


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
    return (
        code == "GM0998"
        or (code.startswith("WK") and code.endswith("99"))
        or (code.startswith("BU") and code[-4:] in ("9997", "9998", "9999"))
    )
