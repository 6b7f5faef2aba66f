"""The data dictionary of the published area layer, in one place.

The same descriptions become DuckDB ``COMMENT``s on ``marts.area`` (so a dashboard tool shows
them), the markdown table in ``docs/data_dictionary.md``, and the field aliases of the QGIS
style. Indicator titles and units come from the table's DataProperties (``core.dim_indicator``).
"""

from __future__ import annotations

import duckdb

MARTS_AREA = "One row per gemeente, wijk and buurt and year: names, parents, key KWB indicators, the veerkracht score and why it is missing, and the polygon."

#: column -> (description, unit or '', source)
COLUMNS: dict[str, tuple[str, str, str]] = {
    "year": ("KWB reporting year", "", "registry"),
    "code": ("CBS region code without padding (alphanumeric since 2022 in Amsterdam)", "code", "KWB Codering"),
    "name": ("Region name", "", "KWB WijkenEnBuurten"),
    "level": ("gemeente, wijk or buurt", "", "code prefix"),
    "wijk_code": ("Code of the wijk the buurt lies in", "code", "derived from the code"),
    "gemeente_code": ("Code of the gemeente (a gemeente is its own)", "code", "derived from the code"),
    "gemeente_name": ("Name of the gemeente", "", "KWB"),
    "inwoners": ("Aantal inwoners", "aantal", "KWB AantalInwoners"),
    "huishoudens": ("Huishoudens totaal", "aantal", "KWB HuishoudensTotaal"),
    "koopwoningen_pct": ("Koopwoningen: owner-occupied homes", "%", "KWB Koopwoningen"),
    "woz_x1000_euro": ("Gemiddelde WOZ-waarde van woningen", "x 1 000 euro", "KWB GemiddeldeWOZWaardeVanWoningen"),
    "inkomen_per_inwoner_x1000_euro": ("Gemiddeld inkomen per inwoner", "x 1 000 euro", "KWB GemiddeldInkomenPerInwoner"),
    "pct_65plus": ("Share of inhabitants aged 65 or over", "%", "KWB k_65JaarOfOuder / AantalInwoners"),
    "pct_eenpersoonshuishoudens": ("Share of single-person households", "%", "KWB Eenpersoonshuishoudens / HuishoudensTotaal"),
    "stedelijkheid": ("Mate van stedelijkheid (1 very strongly urban .. 5 not urban)", "code", "KWB MateVanStedelijkheid"),
    "score": ("Veerkracht score v0: mean national percentile rank of up to five indicators (0 least, 1 most vulnerable of its level)", "0..1", "sql/score_v0.sql"),
    "score_class": ("Quintile of the score within the level (1 least .. 5 most vulnerable fifth)", "class", "sql/mart_area.sql"),
    "top10": ("Score in the most vulnerable 10% of its level", "flag", "sql/mart_area.sql"),
    "score_within_gemeente": ("Percentile rank of the score among the areas of the same level in the same gemeente (the relative view)", "0..1", "sql/mart_area.sql"),
    "rank_p05": ("5th percentile of the area's national percentile rank over 1,000 Monte Carlo variants of the method", "0..1", "veerkracht/uncertainty.py"),
    "rank_p50": ("Median national percentile rank over the Monte Carlo variants", "0..1", "veerkracht/uncertainty.py"),
    "rank_p95": ("95th percentile of the national percentile rank over the Monte Carlo variants", "0..1", "veerkracht/uncertainty.py"),
    "p_top10": ("Share of Monte Carlo variants that put the area in the most vulnerable 10% of its level", "0..1", "veerkracht/uncertainty.py"),
    "uncertain": ("The 5-95% rank interval crosses a quintile class boundary: the class depends on method choices", "flag", "veerkracht/uncertainty.py"),
    "n_indicators": ("Number of indicators the score is based on (of 5)", "aantal", "sql/score_v0.sql"),
    "top_indicator": ("Indicator with the highest percentile rank: the main driver of the score", "", "sql/score_v0.sql"),
    "score_null_reason": ("Why score is NULL (NULL when there is a score)", "", "sql/score_v0.sql"),
    "method_version": ("Score method", "", "veerkracht/method.py"),
    "vintages_used": ("KWB vintages (release dates) the area's values came from", "", "core.fact_indicator"),
    "geometry_source": ("Kind of polygon: full detail (PDOK, municipal) or approximate reconstruction", "", "data/embedded"),
    "geometry": ("Area polygon", "EPSG:28992", "CBS/PDOK wijk- en buurtkaart"),
}


def apply_comments(con: duckdb.DuckDBPyConnection) -> None:
    """COMMENT ON marts.area and each of its documented columns."""
    def q(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    con.execute(f"COMMENT ON TABLE marts.area IS {q(MARTS_AREA)}")
    present = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = 'area'").fetchall()}
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
    from pathlib import Path

    out = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"
    out.write_text(markdown())
    print(out)
