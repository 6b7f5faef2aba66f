"""Stage 1, KWB statistics: from CBS (cbsodata) or the embedded snapshot to harmonised Parquet."""

import dagster as dg

from pipelines.partitions import YEARS
from pipelines.resources import PipelineSettings
from veerkracht import ingest
from veerkracht.registry import table_for_year


@dg.asset(partitions_def=YEARS, group_name="ingest", kinds={"python", "parquet"})
def kwb_statistics(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """KWB "Kerncijfers wijken en buurten" of the year, all vintages, harmonised to long form."""
    year = int(context.partition_key)
    layout = settings.layout
    context.log.info(f"KWB {year} ({table_for_year(year)}): source = {settings.source}")
    snapshots = ingest.kwb_snapshots(
        year, settings.source, embedded_dir=settings.embedded_dir, raw_dir=layout.raw_kwb,
        catalog_url=settings.cbs_catalog_url, use_https=settings.cbs_use_https,
        timeout=settings.cbs_timeout_s)
    counts = ingest.stage_kwb(snapshots, layout.staging(year))
    drift = ingest.drift_report(snapshots)
    return dg.MaterializeResult(metadata={
        "source": settings.source,
        "table_id": table_for_year(year),
        "vintages": ", ".join(s.vintage for s in snapshots),
        "rows_per_vintage": {s.vintage: len(s.data) for s in snapshots},
        **{f"{name}_rows": dg.MetadataValue.int(n) for name, n in counts.items()},
        "key_drift": dg.MetadataValue.md(_drift_md(drift)),
    })


def _drift_md(drift: list[dict]) -> str:
    if not drift:
        return "No drift between vintages."
    rows = [f"| {d['canonical']} | {d['keys']} | {d['title_changed']} | {d['unit_changed']} |"
            for d in drift if "; " in d["keys"]]
    return "| canonical | key per vintage | title changed | unit changed |\n|---|---|---|---|\n" + "\n".join(rows)
