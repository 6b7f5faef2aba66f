"""Stage 1, KWB statistics: from CBS (cbsodata) or the embedded snapshot to harmonised Parquet."""

from pathlib import Path

import dagster as dg

from assets.partitions import per_year, stage_years
from assets.resources import PipelineSettings
from assets.versions import CODE_VERSION, YEARLY_INPUT
from veerkracht.registry import table_for_year


@dg.asset(**YEARLY_INPUT, kinds={"python", "parquet"})
def kwb_statistics(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """KWB "Kerncijfers wijken en buurten" of each year, all vintages, harmonised to long form."""
    staged = stage_years(context, lambda year: _stage_year(context, settings, year))
    return dg.MaterializeResult(metadata=per_year(staged))


def _stage_year(context: dg.AssetExecutionContext, settings: PipelineSettings, year: int) -> dict:
    # Imported here, as every asset imports the domain's heavy modules: loading the code location
    # (the UI, the daemon, every command, "nothing to do") needs no pandas.
    import pyarrow.parquet as pq

    from veerkracht.cache import FileCache
    from veerkracht.ingest import kwb, pressure

    layout = settings.layout
    context.log.info(f"KWB {year} ({table_for_year(year)}): source = {settings.source}")
    got = kwb.kwb_snapshots(
        year,
        settings.source,
        embedded_dir=settings.embedded_dir,
        raw_dir=layout.raw_kwb,
        endpoint=settings.endpoint,
        on_failure=settings.cbs_on_failure,
        kwb_file=settings.kwb_file or None,
    )
    snapshots = got.snapshots
    for note in got.quarantined:
        context.log.warning(f"Stored snapshot quarantined: {note}")
    if got.download_error:
        context.log.warning(f"CBS download failed, using stored snapshots: {got.download_error}")
    unknown = sorted({c for s in snapshots for c in s.manifest.get("unknown_columns", [])})
    if unknown:
        context.log.warning(
            f"KWB {year}: {len(unknown)} columns of the download file are not in kwb_file_map.csv "
            f"and are not used: {', '.join(unknown)}"
        )
    cats = kwb.catalogues(snapshots)
    crime = pressure.crime_tables(Path(settings.embedded_dir) / "extra", year)
    # Another output folder staged the same snapshots with this code: its files (veerkracht/cache.py).
    cache = FileCache.under(settings.cache_dir, "statistics", kwb.KEEP_STAGED, verify=pq.read_table)
    counts, how = kwb.stage_kwb_cached(snapshots, layout.staging(year), cats, crime, cache, CODE_VERSION)
    drift = kwb.drift_report(cats)
    unmapped = int(sum((~c["mapped"]).sum() for c in cats))
    return {
        "source": settings.source,
        "staged": how,
        "download_error": got.download_error or "",
        "quarantined stored snapshots (failed their hash check)": got.quarantined,
        "table_id": table_for_year(year),
        "vintages": ", ".join(s.vintage for s in snapshots),
        "crime (druk) source": crime[1]["vintage"].iat[0] if len(crime[1]) else "none for this year",
        "rows_per_vintage": {s.vintage: len(s.data) for s in snapshots},
        "download file": ", ".join(s.manifest["file"] for s in snapshots if "file" in s.manifest),
        "download file columns not in kwb_file_map.csv (not used)": unknown,
        **{f"{name}_rows": dg.MetadataValue.int(n) for name, n in counts.items()},
        "keys not in indicator_map.csv (canonical name derived from the key stem)": unmapped,
        "key_drift": dg.MetadataValue.md(_drift_md(drift)),
    }


def _drift_md(drift: list[dict]) -> str:
    if not drift:
        return "No drift between vintages."
    counts: dict[str, int] = {}
    for d in drift:
        counts[d["change"]] = counts.get(d["change"], 0) + 1
    head = ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
    rows = [
        f"| {d['vintages']} | {d['canonical']} | {d['change']} | {d['old'] or d['old_key'] or ''} "
        f"| {d['new'] or d['new_key'] or ''} |"
        for d in drift
        if d["change"] != "vanished"
    ]
    return f"{head}\n\n| vintages | canonical | change | old | new |\n|---|---|---|---|---|\n" + "\n".join(
        rows
    )
