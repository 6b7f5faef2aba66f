"""The data dictionary of the published area layer, in one place.

The same descriptions become DuckDB ``COMMENT``s on ``marts.area`` (so a dashboard tool shows
them), the markdown table in ``docs/data_dictionary.md``, and the field aliases of the QGIS
style. Indicator titles and units come from the table's DataProperties (``core.dim_indicator``).
"""

from __future__ import annotations

import duckdb

MARTS_AREA = (
    "One row per gemeente, wijk and buurt and year: names, parents, key KWB "
    "indicators, the veerkracht scores (kwetsbaarheid, druk) with rank intervals and "
    "explanations, why a score is missing, and the polygon."
)

#: column -> (description, unit or '', source)
COLUMNS: dict[str, tuple[str, str, str]] = {
    "year": ("KWB reporting year", "", "registry"),
    "code": (
        "CBS region code without padding (alphanumeric since 2022 in Amsterdam)",
        "code",
        "KWB Codering",
    ),
    "name": ("Region name", "", "KWB WijkenEnBuurten"),
    "level": ("gemeente, wijk or buurt", "", "code prefix"),
    "wijk_code": ("Code of the wijk the buurt lies in", "code", "derived from the code"),
    "gemeente_code": ("Code of the gemeente (a gemeente is its own)", "code", "derived from the code"),
    "gemeente_name": ("Name of the gemeente", "", "KWB"),
    "inwoners": ("Aantal inwoners", "aantal", "KWB AantalInwoners"),
    "huishoudens": ("Huishoudens totaal", "aantal", "KWB HuishoudensTotaal"),
    "koopwoningen_pct": ("Koopwoningen: owner-occupied homes", "%", "KWB Koopwoningen"),
    "woz_x1000_euro": (
        "Gemiddelde WOZ-waarde van woningen",
        "x 1 000 euro",
        "KWB GemiddeldeWOZWaardeVanWoningen",
    ),
    "inkomen_per_inwoner_x1000_euro": (
        "Gemiddeld inkomen per inwoner",
        "x 1 000 euro",
        "KWB GemiddeldInkomenPerInwoner",
    ),
    "pct_65plus": ("Share of inhabitants aged 65 or over", "%", "KWB k_65JaarOfOuder / AantalInwoners"),
    "pct_eenpersoonshuishoudens": (
        "Share of single-person households",
        "%",
        "KWB Eenpersoonshuishoudens / HuishoudensTotaal",
    ),
    "corporatie_pct": ("Homes owned by a housing corporation", "%", "KWB InBezitWoningcorporatie"),
    "misdrijven_per_1000_inwoners": (
        "Registered crimes in the year per 1,000 inhabitants (unshrunk)",
        "per 1 000 inwoners",
        "Politie/CBS 47022NED / KWB AantalInwoners",
    ),
    "stedelijkheid": (
        "Mate van stedelijkheid (1 very strongly urban .. 5 not urban)",
        "code",
        "KWB MateVanStedelijkheid",
    ),
    "score": (
        "The veerkracht score: kwetsbaarheid, the national percentile rank of the vulnerability "
        "axis among the scored areas of the level (0 least, 1 most vulnerable)",
        "0..1",
        "sql/score_axis.sql",
    ),
    "score_class": (
        "Quintile class of the score (1 least .. 5 most vulnerable fifth)",
        "class",
        "sql/mart_area.sql",
    ),
    "top10": ("Score in the most vulnerable 10% of its level", "flag", "sql/mart_area.sql"),
    "score_within_gemeente": (
        "Percentile rank of the score among the areas of the same level in the same gemeente "
        "(the relative view)",
        "0..1",
        "sql/mart_area.sql",
    ),
    "kwetsbaarheid_goalpost": (
        "Kwetsbaarheid axis value from goalpost-normalised indicators (bounds fixed in the base "
        "year: comparable across years)",
        "0..1",
        "sql/score_axis.sql",
    ),
    "druk": (
        "Druk (pressure): national percentile rank of the pressure axis (registered crime per "
        "1,000 inhabitants, shrunk)",
        "0..1",
        "sql/score_axis.sql",
    ),
    "druk_goalpost": (
        "Druk axis value from goalpost-normalised indicators (comparable across years)",
        "0..1",
        "sql/score_axis.sql",
    ),
    "bivariate_class": (
        "Bivariate map class: K<tercile of kwetsbaarheid>D<tercile of druk>, K1D1 .. K3D3",
        "class",
        "sql/score.sql",
    ),
    "change_class": (
        "Change since change_since: K<s>D<s>, s = + up, = stable, - down, ? no comparable "
        "indicator of that axis in both years (goalpost values, comparable indicators only)",
        "class",
        "sql/score_change.sql",
    ),
    "change_since": (
        "The earlier year the change is measured from: the latest earlier year with comparable "
        "indicators for this area (core.score_change has every earlier year)",
        "year",
        "sql/score_change.sql",
    ),
    "d_kwetsbaarheid": (
        "Change of kwetsbaarheid since change_since: theme-weighted mean of the goalpost changes "
        "of the indicators both years publish and the spec calls comparable",
        "0..1 scale",
        "sql/score_change.sql",
    ),
    "change_basis": (
        "How the change was measured: same_code or crosswalk, and which indicators and themes",
        "",
        "sql/score_change.sql",
    ),
    "kwetsbare_bewoners": (
        "Estimated residents in a vulnerable position: residents of low-income households (CBS "
        "low-income threshold; % households with a low income x inhabitants, assuming those "
        "households are of average size). Published, carried from an earlier vintage or modelled: "
        "see estimate_kind; NULL (with a reason) under 200 inhabitants",
        "aantal",
        "veerkracht/method/residents.py",
    ),
    "kwetsbare_bewoners_p05": (
        "Lower end of the 90 % interval of kwetsbare_bewoners (modelled: measured out-of-sample "
        "error; carried: measured drift per year of the vintage's age; published: the figure)",
        "aantal",
        "veerkracht/method/residents.py",
    ),
    "kwetsbare_bewoners_p95": (
        "Upper end of the 90 % interval of kwetsbare_bewoners",
        "aantal",
        "veerkracht/method/residents.py",
    ),
    "kwetsbare_bewoners_min": (
        "Narrowest nested definition as residents: households at or under the social minimum "
        "(the range of definitions; nested groups are never added up)",
        "aantal",
        "veerkracht/method/residents.py",
    ),
    "kwetsbare_bewoners_max": (
        "Widest nested definition as residents: households up to 120 % of the social minimum",
        "aantal",
        "veerkracht/method/residents.py",
    ),
    "kwetsbare_bewoners_pct": (
        "The estimated share behind kwetsbare_bewoners (% of households with a low income)",
        "%",
        "veerkracht/method/residents.py",
    ),
    "estimate_kind": (
        "published (the area's own figure of the year) | carried (the newest earlier vintage moved "
        "onto the area: crosswalk with population weights, or the same code) | modelled (small-area "
        "estimate, benchmarked so children add up to their parent)",
        "",
        "veerkracht/method/residents.py",
    ),
    "estimate_vintage": (
        "KWB year of the figures the estimate comes from",
        "",
        "veerkracht/method/residents.py",
    ),
    "estimate_basis": (
        "How: own_figure, crosswalk, same_code or model, '+benchmarked' where scaled to the parent",
        "",
        "sql/resident_inputs.sql",
    ),
    "kwetsbare_bewoners_null_reason": (
        "Why there is no estimate (under 200 inhabitants, no population figure, no source vintage)",
        "",
        "veerkracht/method/residents.py",
    ),
    "coverage": (
        "national, or the part of the country the year's statistics cover (then the score is "
        "the position in the goalpost base year's national distribution)",
        "",
        "sql/score.sql",
    ),
    "d_druk": (
        "Change of the druk goalpost value since the earlier year",
        "0..1 scale",
        "sql/score_change.sql",
    ),
    "change_null_reason": (
        "Why there is no change class (e.g. no_earlier_year_scored)",
        "",
        "sql/score_change.sql",
    ),
    "n_flags": (
        "SVI-style count of the area's kwetsbaarheid indicators at or above the national 90th percentile",
        "aantal",
        "sql/score_axis.sql",
    ),
    "rank_p05": (
        "5th percentile of the area's national percentile rank over 1,000 Monte Carlo variants of the method",
        "0..1",
        "veerkracht/uncertainty.py",
    ),
    "rank_p50": (
        "Median national percentile rank over the Monte Carlo variants",
        "0..1",
        "veerkracht/uncertainty.py",
    ),
    "rank_p95": (
        "95th percentile of the national percentile rank over the Monte Carlo variants",
        "0..1",
        "veerkracht/uncertainty.py",
    ),
    "p_top10": (
        "Share of Monte Carlo variants that put the area in the most vulnerable 10% of its level",
        "0..1",
        "veerkracht/uncertainty.py",
    ),
    "uncertain": (
        "The 5-95% rank interval crosses a quintile class boundary: the class depends on method choices",
        "flag",
        "veerkracht/uncertainty.py",
    ),
    "n_indicators": (
        "Number of kwetsbaarheid indicators the area has a value for",
        "aantal",
        "sql/score_axis.sql",
    ),
    "top_indicator": (
        "The indicator that contributes most to the area's kwetsbaarheid",
        "",
        "sql/score_explanation.sql",
    ),
    "explanation": (
        "The three largest contributors: indicator, value, unit and national percentile (p0..p100)",
        "",
        "sql/score_explanation.sql",
    ),
    "score_null_reason": ("Why score is NULL (NULL when there is a score)", "", "sql/score.sql"),
    "druk_null_reason": ("Why druk is NULL (NULL when there is a value)", "", "sql/score.sql"),
    "method_version": ("Method name and version from the spec file", "", "methods/*.toml"),
    "spec_hash": (
        "First 12 hex digits of the SHA-256 of the method spec's content (core.method_spec has "
        "the full text)",
        "",
        "veerkracht/spec.py",
    ),
    "vintages_used": ("KWB vintages (release dates) the area's values came from", "", "core.fact_indicator"),
    "geometry_source": (
        "Where the polygon came from: full detail (PDOK, municipal), approximate reconstruction, "
        "or file:<name> for your own boundary file",
        "",
        "geometry source",
    ),
    "geometry": ("Area polygon", "EPSG:28992", "CBS/PDOK wijk- en buurtkaart"),
}


def apply_comments(con: duckdb.DuckDBPyConnection) -> None:
    """COMMENT ON marts.area and each of its documented columns."""

    def q(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    con.execute(f"COMMENT ON TABLE marts.area IS {q(MARTS_AREA)}")
    present = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
            "AND table_name = 'area'"
        ).fetchall()
    }
    for column, (description, unit, source) in COLUMNS.items():
        if column in present:
            text = f"{description}" + (f" [{unit}]" if unit else "") + f" (source: {source})"
            con.execute(f"COMMENT ON COLUMN marts.area.{column} IS {q(text)}")


def markdown() -> str:
    """The data dictionary of the layers and ``marts.area`` as a markdown page."""
    rows = "\n".join(f"| `{c}` | {d} | {u} | {s} |" for c, (d, u, s) in COLUMNS.items())
    return (
        "# Data dictionary: area layers and `marts.area`\n\n"
        "Generated from `veerkracht/dictionary.py` (`python -m veerkracht.dictionary`); the same text is\n"
        "stored as DuckDB COMMENTs in the warehouse. The GeoParquet and GeoPackage layers\n"
        "(`layers/<year>/<level>_<year>*`) carry these columns, except that areas without a polygon\n"
        f"are left out of the files.\n\n{MARTS_AREA}\n\n"
        "| column | description | unit | source |\n|---|---|---|---|\n" + rows + "\n\n"
        "Indicator titles and units as CBS publishes them are in `core.dim_indicator` (from the\n"
        "DataProperties of each KWB vintage); see docs/warehouse.md.\n"
    )


if __name__ == "__main__":
    from veerkracht.paths import CHECKOUT

    if CHECKOUT is None:
        raise SystemExit("docs/data_dictionary.md is written in a checkout of the repository")
    out = CHECKOUT / "docs" / "data_dictionary.md"
    out.write_text(markdown())
    print(out)
