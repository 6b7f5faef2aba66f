"""Stage 6, web map: vector tiles of the boundaries, the years' numbers and the static MapLibre page."""

from pathlib import Path

import dagster as dg

from assets.layers import area_layers
from assets.partitions import per_year
from assets.resources import HelperProcesses, PipelineSettings
from assets.versions import CODE_VERSION
from veerkracht.codes import LEVELS


@dg.asset(code_version=CODE_VERSION, deps=[area_layers], group_name="publish", kinds={"pmtiles", "html"})
def web_map(settings: PipelineSettings, helpers: HelperProcesses) -> dg.MaterializeResult:
    """Vector tiles (PMTiles, tippecanoe; one archive per boundary set, tiled only when its
    boundaries are new), each year's numbers for the page, and an offline MapLibre page of every
    year with layers: python -m veerkracht.publish.serve."""

    # The tiles this run made ahead are in the cache (warehouse_core started them); a set still
    # being made at the lowest priority is stopped and tiled here, at the run's.
    helpers.stop_ahead()

    # The years area_layers wrote (every year of the build warehouse), read from the folder: this
    # step needs no DuckDB connection, so it runs beside the warehouse steps.
    years = sorted(int(p.name) for p in settings.layout.layers.glob("[12][0-9][0-9][0-9]") if p.is_dir())
    return dg.MaterializeResult(metadata={"years": years, **per_year(_publish(settings, years))})


#: What the metadata says of a year's tiles, per :func:`veerkracht.publish.webmap.publish_years`.
TILES_HOW = {
    "tiled": "tiled",
    "kept": "reused: same boundaries and code",
    "cache": "from the cache: same boundaries and code",
}


def _publish(settings: PipelineSettings, years: list[int]) -> dict[int, dict]:
    from veerkracht.publish import layers, webmap

    layout = settings.layout
    shown = {}
    for year in years:
        paths = {level: layers.layer_paths(layout.layers, year, level)["parquet_4326"] for level in LEVELS}
        sources = {level: path for level, path in paths.items() if path.exists()}  # levels the year has
        lists = {level: layout.layers / str(year) / f"shortlist_{level}_{year}.csv" for level in sources}
        shown[year] = webmap.YearLayers(sources, {lv: p for lv, p in lists.items() if p.exists()})
    cache = Path(settings.cache_dir) if settings.cache_dir else None
    out = webmap.publish_years(layout.web, shown, settings.method, CODE_VERSION, cache)
    return {
        year: {
            "page": dg.MetadataValue.path(str(o["page"])),
            "tiles": f"{o['pmtiles'].name} ({TILES_HOW[o['tiles']]})",
            "pmtiles MB": round(o["pmtiles"].stat().st_size / 1e6, 2),
            "levels": list(shown[year].layers),
            "serve": f"python -m veerkracht.publish.serve {layout.web}",
        }
        for year, o in out.items()
    }
