"""Which canonical indicators the sources provide, without loading them: what a method spec is
checked against when the code location loads and when a command starts.

Belongs here: the reviewed KWB mapping's file and the crime extract's indicator name, read with
the standard library (the UI, the daemon and "nothing to do" check a spec without pandas).
:mod:`veerkracht.ingest.kwb` and :mod:`veerkracht.ingest.pressure` use the same two names.
"""

from __future__ import annotations

import csv
from pathlib import Path

#: The reviewed key -> canonical indicator mapping, per KWB table and vintage.
INDICATOR_MAP = Path(__file__).with_name("indicator_map.csv")
#: The crime counts' canonical indicator (Politie/CBS 47022NED, :mod:`veerkracht.ingest.pressure`).
CRIME_CANONICAL = "Misdrijven"


def known_canonicals(path: Path = INDICATOR_MAP) -> set[str]:
    """Every canonical indicator a source provides: the reviewed KWB mapping and the crime counts."""
    found = {CRIME_CANONICAL}
    if Path(path).is_file():
        with open(path, newline="", encoding="utf-8") as f:
            found |= {row["canonical"] for row in csv.DictReader(f)}
    return found
