"""The year registry: one row per KWB reporting year, and every fact that depends on the year.

Belongs here: which CBS table holds a year's KWB, where PDOK publishes that year's wijk- en
buurtkaart, which pressure (crime) extract covers it, and what the embedded snapshot ships for
it. Adding a year is adding one :class:`KwbYear` row (and, if it is embedded, its files under
``data/embedded/``; ``tests/unit/test_registry.py`` checks that rows and files agree). No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from veerkracht.codes import LEVELS

#: PDOK's ATOM download naming for the wijken-en-buurten dataset since 2022. Not reachable from
#: the development machine (no internet): a moved file fails with the URL in the error, and the
#: settings resource's ``pdok_url`` overrides it.
_PDOK = "https://service.pdok.nl/cbs/wijkenbuurten/{y}/atom/downloads/wijkenbuurten_{y}_v1.gpkg"


@dataclass(frozen=True)
class KwbYear:
    """Everything the pipeline needs to know about one reporting year."""

    year: int
    #: "Kerncijfers wijken en buurten" table of the year (CBS OData v3 identifier).
    kwb_table: str
    #: The year's CBS/PDOK wijk- en buurtkaart GeoPackage, if PDOK publishes one in that form.
    wijkbuurtkaart_url: str | None = None
    #: Politie/CBS 47022NED extract on this year's boundaries, under ``data/embedded/extra``.
    crime_extract: str | None = None
    #: Whether ``data/embedded/kwb/<table>/`` ships this year's statistics as OData snapshots.
    embedded_kwb: bool = False
    #: A KWB download file under ``data/embedded/kwb_files/`` with this year's statistics (read
    #: by the ``file`` source, :mod:`veerkracht.ingest.kwbfile`).
    embedded_file: str | None = None
    #: Levels whose polygons ``data/embedded/geometries/<year>/`` ships.
    embedded_geometry: tuple[str, ...] = ()
    #: Gemeenten in the year's indeling (1 January; CBS). Statistics that cover fewer are partial:
    #: they are scored on the base year's goalposts, not ranked as if they were the country.
    gemeenten: int | None = None

    @property
    def embedded(self) -> bool:
        """Whether the embedded snapshot ships this year's statistics in any form."""
        return self.embedded_kwb or self.embedded_file is not None


YEARS: tuple[KwbYear, ...] = (
    KwbYear(2019, "84583NED", embedded_geometry=("gemeente", "buurt"), gemeenten=355),
    KwbYear(2020, "84799NED", gemeenten=355),
    KwbYear(
        2021,
        "85039NED",
        embedded_file="kwb-2021.csv",
        embedded_geometry=("gemeente", "wijk"),
        gemeenten=352,
    ),
    KwbYear(
        2022,
        "85318NED",
        _PDOK.format(y=2022),
        embedded_file="kwb-2022.csv",
        embedded_geometry=("gemeente", "wijk"),
        gemeenten=345,
    ),
    KwbYear(
        2023,
        "85618NED",
        _PDOK.format(y=2023),
        embedded_file="kwb-2023-GM0344-utrecht.xlsx",
        embedded_geometry=LEVELS,
        gemeenten=342,
    ),
    KwbYear(
        2024,
        "85984NED",
        _PDOK.format(y=2024),
        crime_extract="misdrijven_47022NED_kwb2024.parquet",
        embedded_kwb=True,
        embedded_geometry=LEVELS,
        gemeenten=342,
    ),
    KwbYear(2025, "86165NED", _PDOK.format(y=2025), gemeenten=342),
)
BY_YEAR: dict[int, KwbYear] = {row.year: row for row in YEARS}
#: Year -> KWB table id (a view of :data:`YEARS`).
KWB_TABLES: dict[int, str] = {row.year: row.kwb_table for row in YEARS}
#: Years whose statistics the embedded snapshot ships, newest first.
EMBEDDED_YEARS: tuple[int, ...] = tuple(sorted((r.year for r in YEARS if r.embedded), reverse=True))


def year_info(year: int) -> KwbYear:
    """The registry row of ``year``, or a ValueError naming the known years."""
    try:
        return BY_YEAR[int(year)]
    except (KeyError, ValueError):
        known = ", ".join(str(y) for y in BY_YEAR)
        raise ValueError(f"No KWB table known for year {year!r}; known years: {known}") from None


def table_for_year(year: int) -> str:
    """Return the KWB table id of ``year`` or raise a ValueError naming the known years."""
    return year_info(year).kwb_table


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
