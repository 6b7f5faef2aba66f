"""The tiny hand-made KWB table of tests/fixtures/tiny_method.toml: six buurten, their wijk and
gemeente, loaded straight into ``core.dim_region`` and ``core.fact_indicator``."""

from __future__ import annotations

from testpaths import FIXTURES

TINY = FIXTURES / "tiny_method.toml"
COLUMNS = ["AantalInwoners", "X1", "X2", "HH", "X3", "X4", "CRIME"]
# Buurten of wijk WK000101 in gemeente GM0001. B5 is too small; B6 has HH = 0 (a2: denominator 0).
AREAS = {
    "BU00010101": (1000, 10, 50, 100, 5, 100, 10),
    "BU00010102": (1000, 20, 50, 100, 5, 200, 20),
    "BU00010103": (1000, 30, 25, 100, None, 400, 30),
    "BU00010104": (1000, 40, None, 100, None, None, None),
    "BU00010105": (100, 50, 10, 100, 1, 50, 5),
    "BU00010106": (1000, 30, 75, 0, 9, 800, 40),
}
WIJK = ("WK000101", {"AantalInwoners": 5000, "X1": 25})


def load_tables(con, areas: dict, order: list[int] | None = None) -> None:
    """(Re)create core.dim_region and core.fact_indicator from ``areas`` (+ the wijk and gemeente)."""
    regions = [("GM0001", "gemeente", None, None), (WIJK[0], "wijk", None, "GM0001")]
    regions += [(code, "buurt", WIJK[0], "GM0001") for code in areas]
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    con.execute(
        "CREATE OR REPLACE TABLE core.dim_region (year INT, code VARCHAR, level VARCHAR, "
        "wijk_code VARCHAR, gemeente_code VARCHAR, geometry_source VARCHAR)"
    )
    con.executemany("INSERT INTO core.dim_region VALUES (2024, ?, ?, ?, ?, NULL)", regions)
    rows = [(code, col, v) for code, vals in areas.items() for col, v in zip(COLUMNS, vals, strict=False)]
    rows += [(WIJK[0], col, v) for col, v in WIJK[1].items()]
    if order is not None:
        rows = [rows[i] for i in order]
    con.execute(
        "CREATE OR REPLACE TABLE core.fact_indicator (year INT, code VARCHAR, canonical VARCHAR, "
        "value DOUBLE, null_reason VARCHAR, unit VARCHAR)"
    )
    con.executemany(
        "INSERT INTO core.fact_indicator VALUES "
        "(2024, ?, ?, ?, CASE WHEN ? IS NULL THEN 'suppressed' END, NULL)",
        [(c, k, v, v) for c, k, v in rows],
    )


#: The tiny table stands in for the whole country: its one gemeente is not a partial coverage.
NATIONAL = "national"
