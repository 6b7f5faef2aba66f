"""Validation: the scores of every year against external criteria (core.validation, a report)."""

import dagster as dg

from assets.crosswalk import boundary_crosswalk
from assets.residents import resident_estimates
from assets.resources import DuckDBSpatialResource, HelperProcesses, PipelineSettings
from assets.scores import veerkracht_scores
from assets.versions import CODE_VERSION, validation_inputs
from assets.warehouse import warehouse_core
from veerkracht import warehouse
from veerkracht.paths import VALIDATION_DIR

#: What the two validation assets share: the code version, their group, what they run on, and
#: the pool of the steps that write the build DuckDB file.
VALIDATION_ASSET = {
    "code_version": CODE_VERSION,
    "group_name": "score",
    "kinds": {"duckdb", "pandas"},
    "pool": "duckdb",
}


#: The half of the gemeenten whose theme frontier the helper process draws (the step the other's).
HELPERS_HALF = ("decide",)


@dg.asset(deps=[warehouse_core, boundary_crosswalk, validation_inputs], **VALIDATION_ASSET)
def validation_criteria(
    settings: PipelineSettings, build_db: DuckDBSpatialResource, helpers: HelperProcesses
) -> dg.MaterializeResult:
    """The external criteria (data/validation/, KWB 2021 income and buurt figures, and yours:
    ``validation_files``) and each matched onto the areas of every year in the build warehouse
    (by name and code, or through the stored crosswalk): ``core.validation_criteria``,
    ``core.validation_matched``, ``core.validation_dropped``. No score is read: a run with another
    method spec measures against these without matching again. Half the criteria are matched in a
    helper process meanwhile."""
    from veerkracht.method import residents, validation

    with build_db.get_connection(spatial=False) as con:
        buurten = residents.load_buurt_truth(settings.embedded_dir)
        criteria = validation.gather_criteria(con, [VALIDATION_DIR, *settings.validation_files], buurten)
        targets = con.execute(
            "SELECT DISTINCT year, level FROM core.dim_region WHERE level IN ('gemeente', 'wijk', 'buurt')"
        ).df()
        matching = validation.matching_tables(con)
        matched, dropped = validation.match_all(criteria, matching, targets, submit=helpers.submit)
        validation.store_matches(con, criteria, matched, dropped)
    per = matched.groupby(["level", "score_year"]).size().rename("matched areas").reset_index()
    return dg.MaterializeResult(
        metadata={
            "criteria": sorted(criteria["criterion"].unique().tolist()),
            "criterion rows": dg.MetadataValue.int(len(criteria)),
            # One criterion: its rows of one criterion name, year, level and source.
            "criteria matched": dg.MetadataValue.int(criteria.groupby(validation.CRITERION_KEY).ngroups),
            "matched areas": dg.MetadataValue.int(len(matched)),
            "matched areas (all criteria) per level and score year": dg.MetadataValue.md(
                per.to_markdown(index=False)
            ),
        }
    )


@dg.asset(deps=[veerkracht_scores, resident_estimates, validation_criteria], **VALIDATION_ASSET)
def score_validation(
    settings: PipelineSettings, build_db: DuckDBSpatialResource, helpers: HelperProcesses
) -> dg.MaterializeResult:
    """Spearman rho (bootstrap 95 % interval) and top-decile capture of the headline score, every
    theme and every indicator against the criteria of ``validation_criteria`` (matched there),
    per level, score year and fixed half of the gemeenten."""
    from veerkracht.method import validation
    from veerkracht.publish.validation_report import headline_table, requirement_table, write_report

    spec = settings.method
    with build_db.get_connection(spatial=False) as con:
        criteria, matching = validation.stored_matching(con)
        subjects = validation.subjects(con, spec.spec_hash)
        # Method v3 carries KWB 2021 into later years: those criteria are then its input, not a test.
        carry = spec.carry_max_age
        # The requirement summary and the frontier of one half in a helper process while this
        # one measures and then draws the other half's frontier: the helper's share took ~0.7 s
        # longer than the measures alone (spec run of the embedded years), and this process
        # waited for it.
        analyses = helpers.submit(
            validation.summary_and_frontier, subjects, criteria, matching, carry=carry, halves=HELPERS_HALF
        )
        res = validation.validate(subjects, criteria, matching, carry)
        own_half = [h for h in validation.HALVES if h not in HELPERS_HALF]
        own_frontier = validation.theme_frontier(subjects, criteria, own_half, matching=matching, carry=carry)
        summary, frontier_rows = analyses.result()
        res = res.assign(spec_hash=spec.spec_hash, method_version=spec.label)
        summary = summary.assign(spec_hash=spec.spec_hash, method_version=spec.label)
        warehouse.replace_rows(con, "core.validation", res, spec_hash=spec.spec_hash)
        warehouse.replace_rows(con, "core.validation_summary", summary, spec_hash=spec.spec_hash)
        # Other specs validated in this warehouse (v1 after a run with --method v1): side by side.
        earlier = con.execute(
            "SELECT * FROM core.validation WHERE spec_hash <> ? ORDER BY method_version", [spec.spec_hash]
        ).df()
        resident_rows = (
            con.execute("SELECT * FROM core.resident_validation ORDER BY year DESC").df()
            if warehouse.has_table(con, "core.resident_validation")
            else None
        )
        earlier_summary = con.execute(
            "SELECT * FROM core.validation_summary WHERE spec_hash <> ?", [spec.spec_hash]
        ).df()
    others = {f"{label} ({h})": r for (label, h), r in earlier.groupby(["method_version", "spec_hash"])}
    other_summaries = {
        f"{label} ({h})": r for (label, h), r in earlier_summary.groupby(["method_version", "spec_hash"])
    }
    reachable = validation.frontier_summary(frontier_rows, own_frontier)
    frontier = {part: reachable[reachable["half"] == part] for part in validation.HALVES}
    # Written in a helper process, which imported matplotlib for the chart as the run started.
    paths = helpers.submit(
        write_report,
        res,
        settings.layout.root / "validation",
        spec.label,
        frontier,
        others,
        resident_rows,
        {spec.label: summary, **other_summaries},
    ).result()
    verdict = requirement_table(summary)
    table = headline_table(res)
    return dg.MaterializeResult(
        metadata={
            "criteria": sorted(criteria["criterion"].unique().tolist()),
            "measures": len(res),
            "headline >= best theme (report half)": f"{(table['headline >= best theme'] == 'yes').sum()} "
            f"of {len(table)}",
            "headline vs best theme": dg.MetadataValue.md(table.to_markdown(index=False)),
            # Whether "headline >= best theme on every criterion" is reachable by any weighting.
            "years where no weighting of the themes meets every criterion": sorted(
                {f"{r.level} {r.score_year}" for r in reachable.itertuples() if not r.any_weighting_meets_all}
            ),
            "headline >= every theme and indicator (report half; mean over independent criteria, "
            "and on the primary criterion)": dg.MetadataValue.md(verdict.to_markdown(index=False)),
            "report": dg.MetadataValue.path(str(paths["markdown"])),
        }
    )
