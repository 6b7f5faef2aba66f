"""Boundary crosswalks between years, so values of one year's areas can be carried onto another's."""

from contextlib import nullcontext

import dagster as dg

from assets.resources import DuckDBSpatialResource, PipelineSettings
from assets.versions import CODE_VERSION
from assets.warehouse import warehouse_core
from veerkracht import sources, warehouse
from veerkracht.atomic import atomic_path
from veerkracht.cache import FileCache
from veerkracht.codes import LEVELS

#: Crosswalk files kept in the cache (a level of a pair each; the ones used last).
KEEP_CROSSWALKS = 32


class CrosswalkConfig(dg.Config):
    """Which years to connect: each of ``from_years`` onto ``to_year`` (the embedded snapshot has
    boundaries of 2019, 2021 and 2024; 2019's buurten carry change over time, 2021's wijken and
    gemeenten carry the KWB 2021 validation criteria onto 2024's areas)."""

    from_years: list[int] = [2019, 2021]
    to_year: int = 2024


@dg.asset(
    code_version=CODE_VERSION,
    deps=[warehouse_core],
    group_name="geometry",
    kinds={"shapely", "duckdb"},
    pool="duckdb",
)
def boundary_crosswalk(
    context: dg.AssetExecutionContext,
    config: CrosswalkConfig,
    settings: PipelineSettings,
    build_db: DuckDBSpatialResource,
) -> dg.MaterializeResult:
    """Area- and population-weighted crosswalk per level from each earlier year's boundaries onto
    ``to_year``'s, from the run's geometry source (levels the source lacks for either year are
    skipped and named). A pair whose boundaries and inhabitants equal those of the stored
    crosswalk (``input_key``) is not overlaid again: every run re-checks, a change recomputes;
    one another output folder overlaid is copied from the cache (``cache_dir``).
    Skipped while ``to_year`` is not in the build warehouse."""
    import pandas as pd
    import pyarrow.parquet as pq

    from veerkracht.geo.crosswalk import crosswalk, input_key

    reader = sources.get("geometry", settings.geometry_source).load()
    url = settings.pdok_url or None
    where = {"embedded_dir": settings.embedded_dir, "url": url}
    target_levels = set(reader.levels_available(config.to_year, **where))
    plan = {}
    for from_year in config.from_years:
        have = set(reader.levels_available(from_year, **where)) & target_levels
        plan[from_year] = tuple(lv for lv in LEVELS if lv in have)
        skipped = [lv for lv in LEVELS if lv not in have]
        if skipped:
            context.log.info(
                f"Crosswalk {from_year} -> {config.to_year}: no {', '.join(skipped)} boundaries for "
                f"both years in geometry source {settings.geometry_source!r}"
            )
    if not any(plan.values()):
        raise FileNotFoundError(
            f"Geometry source {settings.geometry_source!r} has no level with boundaries for "
            f"{config.to_year} and any of {config.from_years}"
        )
    read = {"embedded_dir": settings.embedded_dir, "raw_dir": settings.layout.raw, "url": url}
    needed = tuple(lv for lv in LEVELS if any(lv in levels for levels in plan.values()))
    out_dir = settings.layout.crosswalk
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata: dict = {"geometry_source": settings.geometry_source, "to_year": config.to_year}
    rows = 0
    cache = FileCache.under(settings.cache_dir, "crosswalk", KEEP_CROSSWALKS, verify=pq.read_table)
    # Without the spatial extension (0.15 s to load): storing polygons loads it
    # (warehouse.store_boundaries), and an overlay reused as it is stores none.
    with build_db.get_connection(spatial=False) as con:
        built = warehouse.built_years(con)
        if config.to_year not in built:
            # Nothing is carried onto a year that is not built (a run of Utrecht 2023 alone): no
            # national overlay. Once it is built, its statistics make this asset stale.
            warehouse.ensure_crosswalk_table(con)
            why = f"{config.to_year} is not in the build warehouse (built: {built}): no areas to carry onto"
            context.log.info(f"Crosswalk skipped: {why}")
            return dg.MaterializeResult(metadata={**metadata, "skipped": why, "rows": 0})
        target = reader.read_year(config.to_year, needed, **read)
        population = warehouse.population(con, config.to_year)
        stored_target = False
        for from_year, levels in plan.items():
            if not levels:
                continue
            source = reader.read_year(from_year, levels, **read)
            key = {lv: input_key(source[lv], target[lv], population, code=CODE_VERSION) for lv in levels}
            keys = ",".join(f"{lv}:{key[lv]}" for lv in levels)
            files = {lv: out_dir / f"{lv}_{from_year}_{config.to_year}.parquet" for lv in levels}
            reused = keys == warehouse.stored_crosswalk_keys(con, from_year, config.to_year) and all(
                f.exists() for f in files.values()
            )
            if reused:
                # The same boundaries, inhabitants and code as the stored crosswalk: it is reused.
                parts = [pd.read_parquet(files[lv]) for lv in levels]
                metadata[f"{from_year}: overlay"] = "reused (same boundaries, inhabitants and code)"
            else:
                if not stored_target:
                    for level in needed:
                        warehouse.store_boundaries(con, config.to_year, level, target[level])
                    stored_target = True
                parts, how = [], set()
                for level in levels:
                    warehouse.store_boundaries(con, from_year, level, source[level])
                    # Another output folder overlaid the same boundaries with this code: its file.
                    name = f"{level}_{key[level]}.parquet"
                    # One run at a time overlays these boundaries; the next takes its file.
                    with cache.making(name) if cache else nullcontext():
                        if cache and cache.fetch(name, files[level]):
                            parts.append(pd.read_parquet(files[level]))
                            how.add("from the cache (same boundaries, inhabitants and code)")
                            continue
                        cw = crosswalk(source[level], target[level], target_population=population)
                        cw.insert(0, "level", level)
                        with atomic_path(files[level]) as tmp:
                            cw.to_parquet(tmp, index=False)
                        if cache:
                            cache.keep(files[level], name)
                    parts.append(cw)
                    how.add("computed")
                metadata[f"{from_year}: overlay"] = " and ".join(sorted(how))
            for cw in parts:
                level = cw["level"].iat[0] if len(cw) else "?"
                per_source = cw.groupby("source_code")["unchanged"].first()
                metadata[f"{from_year} {level}: source areas"] = int(len(per_source))
                metadata[f"{from_year} {level}: unchanged (1:1)"] = int(per_source.sum())
                metadata[f"{from_year} {level}: changed"] = int((~per_source).sum())
            all_cw = pd.concat(parts, ignore_index=True)
            if not reused:
                warehouse.store_crosswalk(con, all_cw, from_year, config.to_year, keys)
            rows += len(all_cw)
    return dg.MaterializeResult(metadata={**metadata, "from_years": list(plan), "rows": rows})
