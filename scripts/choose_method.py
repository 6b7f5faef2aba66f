"""Score candidate method specs on a build warehouse and validate them on the two fixed halves.

    python scripts/choose_method.py data/out/work/build.duckdb [--years 2021 2022 2024]
    python scripts/choose_method.py data/out/work/build.duckdb --frontier

Candidates are edits of methods/veerkracht-v1.toml (below, each with why); every one is scored
(no Monte Carlo) on a copy of the warehouse, then validated against the shipped criteria
(data/validation/ and KWB 2021 income) at wijk level. The choice is made on the ``decide`` half
of the gemeenten; the ``report`` half is printed for docs/methodology.md and never used to choose.
This is a one-off research tool; the pipeline never imports it.

``--v3``: v2 against v3 (the default) on both halves, on the criteria both may use (SCP's
independent ones per wijk and gemeente, and the primary criterion), as docs/methodology.md
"Method v3" reports.

``--frontier``: no candidates; on the warehouse's default-spec scores, could any weighting of the
themes, or of the indicators themselves, beat the best single one on every criterion (decide
half; indicators of 2024 on a 0.1 grid, of 2021 on a 0.25 grid, as docs/methodology.md reports)?
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
import tomllib
from pathlib import Path

import pandas as pd

from veerkracht import warehouse
from veerkracht.method import scoring, validation
from veerkracht.method.spec import load_spec
from veerkracht.paths import METHODS_DIR, VALIDATION_DIR

AO = {
    "name": "ao_per_1000",
    "theme": "zorg",
    "title": "Personen met een arbeidsongeschiktheidsuitkering per 1.000 inwoners",
    "source": "PersonenPerSoortUitkeringAO",
    "denominator": "AantalInwoners",
    "scale": 1000,
    "unit": "per 1.000 inwoners",
    "direction": 1,
    "size": "AantalInwoners",
}


def _without_theme(raw: dict, theme: str) -> dict:
    raw["themes"].pop(theme)
    raw["indicators"] = [i for i in raw["indicators"] if i["theme"] != theme]
    return raw


def candidates(v1: dict) -> dict[str, dict]:
    """name -> raw spec. Each one tests one idea the v1 validation suggested."""
    out = {"v1": copy.deepcopy(v1)}
    c = copy.deepcopy(v1)
    c["aggregation"]["across_themes"] = "arithmetic"
    out["v1_arithmetic"] = c  # does the geometric mean let a weak theme drag the composite?
    c = _without_theme(copy.deepcopy(v1), "huishouden")
    c["aggregation"]["across_themes"] = "arithmetic"
    c["eligibility"]["min_theme_share"] = "1/2"
    out["no_huishouden_arithmetic"] = c  # the household theme measures urbanity
    c = _without_theme(copy.deepcopy(v1), "huishouden")
    c["indicators"].append(dict(AO))
    c["aggregation"]["across_themes"] = "arithmetic"
    c["eligibility"]["min_theme_share"] = "1/2"
    out["no_huishouden_ao_arithmetic"] = c  # disability (SVI) where KWB publishes it
    c = copy.deepcopy(out["no_huishouden_ao_arithmetic"])
    c["aggregation"]["across_themes"] = "geometric"
    out["no_huishouden_ao_geometric"] = c
    c = copy.deepcopy(out["no_huishouden_ao_arithmetic"])
    c["themes"]["wonen"]["weight"] = 2.0
    out["no_huishouden_ao_wonen2"] = c  # the housing theme validated best in v1
    return out


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def to_toml(raw: dict) -> str:
    """The few shapes a spec has: tables of scalars, tables of tables, one array of tables."""
    lines = []
    for key, value in raw.items():
        if key == "indicators":
            continue
        if all(isinstance(v, dict) for v in value.values()):
            for name, sub in value.items():
                lines.append(f"[{key}.{name}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in sub.items()]
        else:
            lines.append(f"[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
    for ind in raw["indicators"]:
        lines.append("[[indicators]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in ind.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_db", type=Path)
    parser.add_argument("--years", type=int, nargs="+", default=[2024, 2021, 2022])
    parser.add_argument("--out", type=Path, default=Path("validation_candidates.parquet"))
    parser.add_argument("--frontier", action="store_true", help="weightings of themes and indicators")
    parser.add_argument("--v3", action="store_true", help="v2 against v3 on both halves")
    args = parser.parse_args()
    if args.frontier:
        frontier(args.build_db)
        return
    if args.v3:
        print(v2_against_v3(args.build_db).to_string(index=False))
        return
    v1 = tomllib.loads((METHODS_DIR / "veerkracht-v1.toml").read_text())
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "build.duckdb"
    shutil.copy(args.build_db, db)
    results = []
    criteria = validation.load_criteria([VALIDATION_DIR])
    with warehouse.connection(db) as con:
        criteria = pd.concat([criteria, validation.kwb_income_criteria(con, 2021)], ignore_index=True)
        for name, raw in candidates(v1).items():
            raw["method"]["version"] = f"candidate-{name}"
            path = tmp / f"{name}.toml"
            path.write_text(to_toml(raw))
            spec = load_spec(path)
            for year in args.years:  # the goalpost base year (2024) first
                scoring.score_year(con, spec, year, with_uncertainty=False)
            subj = validation.subjects(con, spec.spec_hash)
            subj = subj[(subj["level"] == "wijk") & (subj["kind"] != "indicator")]
            res = validation.validate(subj, criteria[criteria["level"] == "wijk"], carry=spec.carry_max_age)
            results.append(res.assign(candidate=name))
            print(name, "done")
    all_res = pd.concat(results, ignore_index=True)
    all_res.to_parquet(args.out)
    print(summary(all_res).to_string())


def frontier(build_db: Path) -> None:
    spec = load_spec()
    with warehouse.connection(build_db, read_only=True) as con:
        criteria = pd.concat(
            [validation.load_criteria([VALIDATION_DIR]), validation.kwb_income_criteria(con, 2021)],
            ignore_index=True,
        )
        subj = validation.subjects(con, spec.spec_hash)
        matching = {"matching": validation.matching_tables(con)}
    subj = subj[subj["level"] == "wijk"]
    themes = validation.theme_frontier(subj[subj["kind"] != "indicator"], criteria, "decide", **matching)
    print("Themes (decide half):\n", validation.frontier_summary(themes).round(3).to_string())
    # Indicators stand in for themes: the bar is then the best single indicator.
    as_themes = subj.assign(kind=subj["kind"].replace({"indicator": "theme", "theme": "unused"}))
    for year, step in ((2024, 0.1), (2021, 0.25)):
        rows = validation.theme_frontier(
            as_themes[as_themes["year"] == year], criteria, "decide", step, **matching
        )
        print(f"Indicators {year}, {len(rows)} weightings:")
        print(validation.frontier_summary(rows).round(3).to_string())


def v2_against_v3(build_db: Path) -> pd.DataFrame:
    """Score v2 and v3 on a copy of ``build_db`` and measure both on SCP's independent criteria
    (wijk, and per gemeente weighted by KWB 2021 inhabitants) and the primary criterion."""
    tmp = Path(tempfile.mkdtemp()) / "build.duckdb"
    shutil.copy(build_db, tmp)
    rows = []
    with warehouse.connection(tmp) as con:
        scp = validation.load_criteria([VALIDATION_DIR])
        per_gemeente = validation.gemeente_criteria(scp, warehouse.population(con, 2021))
        criteria = pd.concat([scp, per_gemeente], ignore_index=True)
        matching = validation.matching_tables(con)
        for name in ("veerkracht-v2.toml", "veerkracht-v3.toml"):
            spec = load_spec(METHODS_DIR / name)
            for year in (2024, 2021, 2022, 2023, 2024):  # the base year first and last
                scoring.score_year(con, spec, year, with_uncertainty=False)
            res = validation.validate(validation.subjects(con, spec.spec_hash), criteria, matching)
            head = res[(res["kind"] == "score") & (res["half"] != "all") & (res["n"] >= validation.MIN_AREAS)]
            for (half, level, year), g in head.groupby(["half", "level", "score_year"]):
                indep = g[g["independent"] & (g["criterion"] != validation.PRIMARY)]
                primary = g[g["criterion"] == validation.PRIMARY]
                rows.append(
                    {
                        "spec": spec.label,
                        "half": half,
                        "level": level,
                        "year": year,
                        "mean_rho": round(indep["rho"].mean(), 3),
                        "mean_capture": round(indep["capture_top10"].mean(), 3),
                        "primary_rho": round(primary["rho"].mean(), 3),
                    }
                )
    return pd.DataFrame(rows).sort_values(["half", "level", "year", "spec"])


def summary(res: pd.DataFrame) -> pd.DataFrame:
    """Per candidate and half: mean headline rho over criteria x years, how often the headline is
    at least as good as its best theme (rho), and the mean top-decile capture."""
    rows = []
    # A KWB criterion against the scores of its own year is the score's own input: left out.
    res = res[~res["same_year"]]
    for (cand, part), r in res[res["half"].isin(["decide", "report"])].groupby(["candidate", "half"]):
        head = r[r["kind"] == "score"].set_index(["criterion", "score_year"])
        best = r[r["kind"] == "theme"].groupby(["criterion", "score_year"])["rho"].max()
        joined = head.join(best.rename("best_theme"))
        rows.append(
            {
                "candidate": cand,
                "half": part,
                "mean_rho": round(joined["rho"].mean(), 3),
                "mean_capture_top10": round(joined["capture_top10"].mean(), 3),
                "headline_ge_best_theme": f"{int((joined['rho'] >= joined['best_theme'] - 1e-9).sum())}"
                f" of {len(joined)}",
                "worst_gap": round((joined["rho"] - joined["best_theme"]).min(), 3),
            }
        )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
