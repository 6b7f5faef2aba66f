"""Asset checks built from the check rows of :mod:`veerkracht.checks` (one definition per check)."""

import dagster as dg

from veerkracht import checks


def check_specs(stage: str, asset: str) -> list[dg.AssetCheckSpec]:
    """The Dagster check specs of ``stage``'s checks on ``asset`` (ERROR checks block)."""
    return [
        dg.AssetCheckSpec(c.name, asset=asset, blocking=c.blocking, description=c.text)
        for c in checks.for_stage(stage)
    ]


def check_result(outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
    """A domain check outcome as a Dagster asset check result (ERROR blocks downstream)."""
    severity = dg.AssetCheckSeverity.ERROR if outcome.severity == "ERROR" else dg.AssetCheckSeverity.WARN
    metadata = {**outcome.metadata, "description": outcome.description}
    if not outcome.offending.empty:
        metadata["offending rows (first 50)"] = dg.MetadataValue.md(
            outcome.offending.to_markdown(index=False)
        )
    return dg.AssetCheckResult(
        check_name=outcome.name, passed=outcome.passed, severity=severity, metadata=metadata
    )
