"""Stage 6, web map: PMTiles vector tiles of the year's layers and the static MapLibre page."""

import dagster as dg

from assets.layers import area_layers
from assets.partitions import YEARS
from assets.resources import PipelineSettings
from veerkracht.codes import LEVELS
from veerkracht.publish import layers, webmap


@dg.asset(partitions_def=YEARS, deps=[area_layers], group_name="publish", kinds={"pmtiles", "html"})
def web_map(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """Vector tiles (PMTiles, tippecanoe) and an offline MapLibre page: python -m veerkracht.publish.serve."""
    year = int(context.partition_key)
    layout = settings.layout
    paths = {level: layers.layer_paths(layout.layers, year, level)["parquet_4326"] for level in LEVELS}
    sources = {level: path for level, path in paths.items() if path.exists()}  # levels the year has
    lists = {level: layout.layers / str(year) / f"shortlist_{level}_{year}.csv" for level in sources}
    out = webmap.publish_web(
        layout.web, year, sources, settings.method, {lv: p for lv, p in lists.items() if p.exists()}
    )
    return dg.MaterializeResult(
        metadata={
            "page": dg.MetadataValue.path(str(out["page"])),
            "pmtiles MB": round(out["pmtiles"].stat().st_size / 1e6, 2),
            "levels": list(sources),
            "serve": f"python -m veerkracht.publish.serve {layout.web}",
        }
    )
