"""What README.md and docs/methodology.md state about the real outputs, checked on those outputs.

The worked example of docs/methodology.md is parsed from the document itself, so the text and the
pipeline cannot drift apart; the README's output table is checked file by file.
"""

from __future__ import annotations

import re

import pytest
from testpaths import REPO

from veerkracht import warehouse
from veerkracht.codes import LEVELS

METHODOLOGY = (REPO / "docs" / "methodology.md").read_text()
EXAMPLE = METHODOLOGY.split("## Worked example (real data)", 1)[1].split("\n## ", 1)[0]


def _number(pattern: str) -> float:
    match = re.search(pattern, EXAMPLE)
    assert match, f"docs/methodology.md worked example no longer says {pattern!r}"
    return float(match.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def con(embedded_run):
    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as c:
        yield c


def test_worked_example_percentiles_match_the_warehouse(con):
    code = re.search(r"\((BU\d{8})\)", EXAMPLE).group(1)
    table = re.findall(r"^\| (\w+) [^|]*\|[^|]*\|[^|]*\| ([0-9.]+) \|$", EXAMPLE, flags=re.M)
    assert len(table) == 4
    got = dict(
        con.execute(
            "SELECT indicator, round(percentile_rank, 3) FROM core.score_indicator "
            "WHERE year = 2024 AND code = ?",
            [code],
        ).fetchall()
    )
    assert {name: float(p) for name, p in table} == got


def test_worked_example_themes_score_and_interval_match(con):
    code = re.search(r"\((BU\d{8})\)", EXAMPLE).group(1)
    themes = dict(
        con.execute(
            "SELECT theme, round(score_percentile, 3) FROM core.score_theme WHERE year = 2024 AND code = ?",
            [code],
        ).fetchall()
    )
    assert themes["wonen"] == _number(r"wonen = \([^)]*\) / 3 = ([0-9.]+)")
    assert themes["inkomen"] is None  # "this buurt lacks it: incomplete"
    row = con.execute(
        "SELECT round(a.value, 3), round(m.score, 3), round(m.druk, 3), m.bivariate_class, m.n_flags, "
        "round(m.rank_p05, 3), round(m.rank_p95, 3), round(m.rank_p50, 3), m.uncertain, m.score_class "
        "FROM marts.area AS m JOIN core.score_axis AS a ON a.year = m.year AND a.code = m.code "
        "AND a.axis = 'kwetsbaarheid' WHERE m.year = 2024 AND m.code = ?",
        [code],
    ).fetchone()
    value, score, druk, bivariate, flags, p05, p95, p50, uncertain, klass = row
    assert value == _number(r"V = mean\([^)]*\) = ([0-9.]+)")
    assert score == _number(r"kwetsbaarheid = ([0-9.]+) among")
    assert druk == _number(r"druk = ([0-9.]+) \(D")
    assert bivariate == re.search(r"bivariate_class = (K\dD\d)", EXAMPLE).group(1)
    assert flags == _number(r"n_flags = (\d+)")
    assert klass == _number(r"class (\d),")
    assert (p05, p95, p50) == (
        _number(r"rank interval ([0-9.]+)–"),
        _number(r"rank interval [0-9.]+–([0-9.]+)"),
        _number(r"median ([0-9.]+)"),
    )
    assert uncertain == ("`uncertain`" in EXAMPLE)
    n_scored = con.execute(
        "SELECT count(score) FROM marts.area WHERE year = 2024 AND level = 'buurt'"
    ).fetchone()[0]
    assert n_scored == _number(r"among ([0-9,]+) scored buurten")


def test_uncertainty_summary_matches_the_warehouse(con):
    """The Monte Carlo summary in docs/methodology.md ("the median interval is … wide", the share
    of `uncertain` areas) as the embedded run gives it (it had drifted once, unnoticed)."""
    text = METHODOLOGY.split("## Uncertainty", 1)[1].split("\n## ", 1)[0]
    said = re.search(
        r"median interval is ([0-9.]+) wide \(buurten\), ([0-9.]+) \(wijken\) and ([0-9.]+)\s+"
        r"\(gemeenten\); (\d+) % of the scored areas of each level are `uncertain`",
        text,
    )
    assert said, "docs/methodology.md no longer states the interval widths and uncertain share"
    rows = con.execute(
        "SELECT level, round(median(rank_p95 - rank_p05), 2), round(100 * avg(uncertain::INTEGER)) "
        "FROM core.score_uncertainty WHERE year = 2024 GROUP BY level"
    ).fetchall()
    width = {level: w for level, w, _ in rows}
    assert (width["buurt"], width["wijk"], width["gemeente"]) == tuple(float(x) for x in said.groups()[:3])
    assert {share for _, _, share in rows} == {float(said.group(4))}


def _expand(pattern: str) -> list[str]:
    """Brace expansion (``a/{x,y}.b`` -> ``a/x.b``, ``a/y.b``); ``{level}`` is every level;
    ``<year>`` is the embedded run's 2024 and ``<level>`` its finest level (the preview's)."""
    pattern = pattern.replace("{level}", "{" + ",".join(LEVELS) + "}")
    pattern = pattern.replace("<year>", "2024").replace("<level>", "buurt")
    match = re.search(r"\{([^}]*)\}", pattern)
    if not match:
        return [pattern]
    return [
        p
        for choice in match.group(1).split(",")
        for p in _expand(pattern[: match.start()] + choice + pattern[match.end() :])
    ]


def test_readme_output_table_exists(embedded_run):
    """Every path in the README's output table is there after the main job (raw/ needs a cbs run)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Outputs", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| (`[^|]+)\|", section, flags=re.M)
    paths = [p for cell in cells for p in re.findall(r"`([^`]+/[^`]*)`", cell.split(" (")[0])]
    assert len(paths) >= 10, paths
    for pattern in paths:
        if pattern.startswith("raw/"):
            continue
        for path in _expand(pattern):
            found = list(embedded_run.root.glob(path)) if "*" in path else [embedded_run.root / path]
            assert found and all(f.exists() for f in found), path
