"""The validation report: ``validation.md`` (tables) and ``validation.png`` (a chart) from the
measures of :mod:`veerkracht.method.validation`. docs/validation.md is this file, as the default
run writes it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from veerkracht.atomic import atomic_path


def headline_table(res: pd.DataFrame, half: str = "report") -> pd.DataFrame:
    """Per criterion, level and score year: the headline's rho [interval] and top-decile capture,
    the best theme and its rho, and whether the headline is at least as good."""
    r = res[(res["half"] == half) & (res["n"] >= 30)]
    keys = ["criterion", "level", "score_year"]
    head = r[r["kind"] == "score"].set_index(keys)
    themes = r[r["kind"] == "theme"]
    best = themes.loc[themes.groupby(keys)["rho"].idxmax()].set_index(keys)
    out = pd.DataFrame(
        {
            "n": head["n"],
            # Of n, the areas whose code the criterion lacks, matched through a crosswalk.
            "via crosswalk": head["n_crosswalk"],
            "rho": head["rho"].round(2),
            "95% interval": head["rho_lo"].round(2).astype(str) + " – " + head["rho_hi"].round(2).astype(str),
            "top-10% capture": head["capture_top10"].round(2),
            "top-20% capture": head["capture_top20"].round(2),
            "best theme": best["subject"],
            "its rho": best["rho"].round(2),
            # With one theme the headline is that theme: "yes" says nothing there.
            "themes": themes.groupby(keys)["subject"].nunique(),
            "independent": head["independent"].map({True: "yes", False: "no"})
            if "independent" in head
            else "yes",
        }
    )
    out["headline >= best theme"] = (head["rho"] >= best["rho"] - 1e-9).map({True: "yes", False: "no"})
    return out.reset_index()


def detail_table(res: pd.DataFrame, half: str = "report", measure: str = "rho") -> pd.DataFrame:
    """``measure`` (rho or capture_top10) of every subject (headline, themes, indicators) per
    criterion and score year (wijk)."""
    r = res[(res["half"] == half) & (res["level"] == "wijk") & (res["n"] >= 30)]
    r = r.assign(subject=r["kind"].str[0] + ":" + r["subject"])
    return r.pivot_table(index=["criterion", "score_year"], columns="subject", values=measure).round(2)


def frontier_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The frontier summary (:func:`veerkracht.method.validation.frontier_summary`) for print."""
    out = summary.drop(columns="half", errors="ignore").assign(
        worst_gap=summary["worst_gap"].round(3),
        mean_rho=summary["mean_rho"].round(3),
        any_weighting_meets_all=summary["any_weighting_meets_all"].map({True: "yes", False: "no"}),
    )
    return out.rename(
        columns={
            "weights": "best weights",
            "at_least_best_theme": "criteria met",
            "any_weighting_meets_all": "some weighting meets all",
        }
    )


def _sections(res: pd.DataFrame) -> list[str]:
    """Headline against its best theme, then rho and top-decile capture of every subject."""
    return [
        headline_table(res).to_markdown(index=False),
        "Every theme and indicator, rho (wijken; s: score, t: theme, i: indicator):",
        detail_table(res).to_markdown(),
        "Every theme and indicator, top-10 % capture of the criterion's worst decile (wijken):",
        detail_table(res, measure="capture_top10").to_markdown(),
    ]


def write_report(
    res: pd.DataFrame,
    out_dir: Path,
    title: str,
    frontier: dict[str, pd.DataFrame] | None = None,
    others: dict[str, pd.DataFrame] | None = None,
    residents: pd.DataFrame | None = None,
    summaries: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Path]:
    """``validation.md`` and ``validation.png`` under ``out_dir`` (each written atomically).

    ``frontier``: half -> :func:`~veerkracht.method.validation.frontier_summary`; ``others``:
    method label -> the measures of other specs in the same warehouse (v1 beside v2, say);
    ``residents``: ``core.resident_validation`` (the buurt resident counts on held-out gemeenten);
    ``summaries``: method label -> :func:`~veerkracht.method.validation.requirement_summary`."""
    # matplotlib where the chart is drawn (preview.pyplot): the tables above need none, and a step
    # whose helper process writes the report never loads it.
    from veerkracht.publish.preview import pyplot

    plt = pyplot()

    out_dir.mkdir(parents=True, exist_ok=True)
    chart = out_dir / "validation.png"
    wijk = res[(res["half"] == "report") & (res["level"] == "wijk") & (res["kind"] != "indicator")]
    latest = wijk[wijk["score_year"] == wijk["score_year"].max()]
    pivot = latest.pivot_table(index="criterion", columns="subject", values="rho")
    fig, ax = plt.subplots(figsize=(10, 5))
    if pivot.empty:  # no scored area matched a criterion (e.g. a city's own file without wijken)
        ax.text(0.5, 0.5, "no scored area matched a criterion", ha="center", va="center")
    else:
        pivot.plot.barh(ax=ax, width=0.8)
    ax.set_xlabel("Spearman rho with the criterion (report half, wijken)")
    ax.set_title(f"{title}: score {int(latest['score_year'].max()) if len(latest) else ''} vs criteria")
    ax.axvline(0, color="black", linewidth=0.5)
    fig.tight_layout()
    with atomic_path(chart) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    md = out_dir / "validation.md"
    text = "\n\n".join(
        [
            f"# Validation: {title}",
            "Generated by the pipeline's `score_validation` asset (veerkracht/method/validation.py). "
            "Measures on the **report** half of the gemeenten (the fixed, size-balanced split of "
            "`veerkracht.method.validation.half`; method choices were made on the other half). "
            "rho: Spearman with a 95 % bootstrap interval (1,000 resamples of whole gemeenten; indicators "
            "without interval); capture: the share of the criterion's worst 10 % of areas, weighted by "
            "inhabitants, that the score puts in its top 10 % / 20 %. Areas are matched through the "
            "stored crosswalk from the criterion's year to the score's year where there is one (an "
            "overlap-weighted mean of the criterion's values), else by code, leaving out codes whose "
            "boundary is known to have changed; `n` says how many matched, `via crosswalk` how many "
            "of them only through the crosswalk; codes whose name changed (a reused code) are left out. "
            "Criteria that restate an input are marked (`independent` no) and left out of the "
            "summaries. Criteria of a year compare with the scores of every "
            "year; the "
            "KWB 2021 income criteria measure whether scores without income indicators (2022, 2024) "
            "still find the low-income wijken.",
            "![rho per criterion](validation.png)",
            *_requirement_sections(summaries or {}),
            "## Headline score against its best theme, per criterion",
            *_sections(res),
            *_frontier_sections(frontier or {}),
            *_resident_sections(residents),
            *(
                part
                for label, other in (others or {}).items()
                for part in [f"## {label}, the same measures (report half)", *_sections(other)]
            ),
        ]
    )
    with atomic_path(md) as tmp:
        tmp.write_text(text + "\n")
    return {"markdown": md, "chart": chart}


def requirement_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per level, score year and criteria set (independent / primary): whether the headline is at
    least as good as every theme and indicator, and the part that comes closest."""
    if summary.empty:
        return pd.DataFrame(columns=["level", "score_year", "criteria", "parts", "rho >= every part"])
    rows = []
    for (level, year, crits), g in summary.groupby(["level", "score_year", "criteria"]):
        worst = g.loc[g["d_rho"].idxmin()]
        rows.append(
            {
                "level": level,
                "score_year": year,
                "criteria": f"{crits} ({int(g['n_criteria'].max())})",
                "headline rho": round(float(g["headline_rho"].iloc[0]), 3),
                "headline capture": round(float(g["headline_capture"].max()), 3),
                "parts": len(g),
                "rho >= every part": _yes_no(g["d_rho"] >= -1e-9),
                "capture >= every part": _yes_no(g["d_capture"] >= -1e-9),
                "closest on rho": f"{worst['kind']}:{worst['subject']} {worst['d_rho']:+.3f} "
                f"[{worst['d_rho_lo']:+.3f}, {worst['d_rho_hi']:+.3f}]",
            }
        )
    return pd.DataFrame(rows)


def _yes_no(ok: pd.Series) -> str:
    """'yes', or 'no (k)' with how many parts the headline falls behind."""
    return "yes" if ok.all() else f"no ({int((~ok).sum())})"


def _requirement_sections(summaries: dict[str, pd.DataFrame]) -> list[str]:
    out = []
    for label, summary in summaries.items():
        if summary.empty:
            continue
        detail = summary.assign(
            **{
                c: summary[c].round(3)
                for c in summary.columns
                if c.startswith(("d_", "headline_r", "subject_", "headline_c"))
            }
        ).drop(columns=["spec_hash", "method_version"], errors="ignore")
        out += [
            f"## {label}: is the headline at least as good as each of its parts? (report half)",
            "Per level and score year with two or more themes: the mean Spearman rho and mean top-10 % "
            "capture over the **independent** criteria (criteria that restate an input, e.g. KWB income "
            "per inhabitant, SCP disability, are left out) and on the **primary** criterion (the mean "
            "rank of SCP's bijstand households, problematic debt, parents on psychiatric medication, "
            "disability and single parents), headline against every theme and indicator, each "
            "criterion on the areas both score; d = headline - part with its paired 95 % interval "
            "(1,000 resamples of whole gemeenten, the same for every part and criterion).",
            requirement_table(summary).to_markdown(index=False),
            detail.to_markdown(index=False),
        ]
    return out


def _resident_sections(residents: pd.DataFrame | None) -> list[str]:
    if residents is None or residents.empty:
        return []
    table = residents.assign(
        rho=residents["rho"].round(3),
        mae_pp=residents["mae_pp"].round(2),
        coverage_90=residents["coverage_90"].round(3),
    )
    return [
        "## How many residents: the buurt estimates on gemeenten the fit never saw",
        "`core.resident_validation` (veerkracht/method/residents.py): per gemeente of the KWB 2021 "
        "buurt file, the estimate is refitted without its buurt figures and its buurten are estimated "
        "as in production (benchmarked to their wijk), then compared with CBS's published low-income "
        "share per buurt: Spearman rho, mean absolute error in percentage points, and the share of "
        "true values inside the 90 % interval; against every buurt at its wijk's share and a "
        "regression on the corporation share alone, measured the same way.",
        table.to_markdown(index=False),
    ]


def _frontier_sections(frontier: dict[str, pd.DataFrame]) -> list[str]:
    if not frontier:
        return []
    out = [
        "## Can any weighting of the themes beat the best theme on every criterion?",
        "Every weight vector of a year's themes on a 0.1 grid (the arithmetic mean of an area's "
        "complete themes, as the axis computes it), measured like the headline: the weighting "
        "that meets the most criteria (rho at least the best single theme's), its worst gap, and "
        "whether any weighting meets all. With one theme the headline is that theme.",
    ]
    for part, summary in frontier.items():
        table = (
            frontier_table(summary).to_markdown(index=False)
            if len(summary)
            else "no score year with themes and a criterion matched on 30 or more areas"
        )
        out += [f"{part} half:", table]
    return out
