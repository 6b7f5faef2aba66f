"""Stage 2, geometries: gemeente, wijk and buurt polygons of the year, valid, in EPSG:28992."""

import dagster as dg

from assets.partitions import YEARS
from assets.resources import PipelineSettings
from veerkracht.codes import LEVELS
from veerkracht.geo.stage import stage_geometries


@dg.asset(partitions_def=YEARS, group_name="ingest", kinds={"geopandas", "parquet"})
def region_geometries(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """Gemeente, wijk and buurt polygons of the year (EPSG:28992, made valid, MultiPolygon)."""
    year = int(context.partition_key)
    context.log.info(f"Geometries {year}: source = {settings.geometry_source}")
    stats = stage_geometries(
        year,
        LEVELS,
        settings.embedded_dir,
        settings.layout.staging(year),
        source=settings.geometry_source,
        raw_dir=settings.layout.raw,
        url=settings.pdok_url or None,
    )
    return dg.MaterializeResult(
        metadata={
            **{f"{level}_areas": dg.MetadataValue.int(s["areas"]) for level, s in stats.items()},
            "geometry_source": {level: s["geometry_source"] for level, s in stats.items()},
            "areas with pseudo codes (kept; only KWB areas reach the warehouse)": {
                level: s["pseudo_code_areas"] for level, s in stats.items()
            },
            "crs": "EPSG:28992",
        }
    )
