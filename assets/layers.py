"""Stage 5, layers: marts in DuckDB, GeoParquet/GeoPackage per level, and the published warehouse."""

from concurrent.futures import Executor, Future, ThreadPoolExecutor

import dagster as dg

from assets.partitions import per_year
from assets.residents import resident_estimates
from assets.resources import DuckDBSpatialResource, HelperProcesses, PipelineSettings
from assets.scores import veerkracht_scores
from assets.versions import CODE_VERSION
from veerkracht import warehouse
from veerkracht.codes import LEVELS
from veerkracht.publish.dictionary import apply_comments

#: Threads writing layer files: a layer's three files at once, as one layer's own threads did
#: (2, 3, 4 and 6 threads took the same time on two cores, within the machine's noise).
WRITERS = 3


@dg.asset(
    code_version=CODE_VERSION,
    deps=[veerkracht_scores, resident_estimates],
    group_name="publish",
    kinds={"duckdb", "geoparquet"},
    pool="duckdb",
)
def area_layers(
    settings: PipelineSettings, build_db: DuckDBSpatialResource, helpers: HelperProcesses
) -> dg.MaterializeResult:
    """marts.area rows of every scored year and one GeoParquet (EPSG:4326 + 28992) and
    GeoPackage per year and level."""
    from veerkracht.publish import layers
    from veerkracht.publish.preview import markdown_image

    metadata, previews, written = {}, {}, {}
    # No spatial extension: the polygons are read as WKB (DuckDB's core ST_AsWKB); loading
    # spatial costs 0.15 s a connection. One pool writes every layer file of every year while
    # this thread reads the next year's rows, as the files of one layer overlap (submit_layer).
    with (
        build_db.get_connection(spatial=False) as con,
        ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="layer-writer") as writers,
    ):
        years = warehouse.built_years(con)
        rows = layers.build_marts(con, years, settings.method)
        for year in years:
            metadata[year], previews[year], written[year] = _publish_year(
                con, settings, year, rows[year], helpers, writers
            )
        apply_comments(con)
    for year, pending in written.items():
        metadata[year].update(_files_metadata(settings, year, pending))
    for year, drawn in previews.items():  # drawn in a helper process meanwhile (matplotlib)
        metadata[year]["preview"] = dg.MetadataValue.md(markdown_image(drawn.result()))
    return dg.MaterializeResult(metadata={"years": years, **per_year(metadata)})


def _publish_year(
    con, settings: PipelineSettings, year: int, mart_rows: int, helpers: HelperProcesses, writers: Executor
) -> tuple[dict, Future, dict]:
    """The year's shortlists, and its layer files started on ``writers``, from its marts; its
    metadata, its map preview to come, and its layers being written (by level)."""
    from veerkracht.publish import layers
    from veerkracht.publish.preview import render_score_map

    layout = settings.layout
    metadata: dict = {}
    spec = settings.method
    metadata["marts.area rows"] = dg.MetadataValue.int(mart_rows)
    shortlist = layers.read_shortlist(con, year)
    frames = {level: layers.read_level(con, year, level) for level in LEVELS}
    shortlist_paths = layers.write_shortlists(shortlist, layout.layers, year)
    for level, part in shortlist.groupby("level"):
        metadata[f"shortlist {level}"] = (
            f"{int((part['status'] == 'top_decile').sum())} top decile, "
            f"{int(part['status'].str.startswith('top_decile_uncertain').sum())} of them uncertain, "
            f"{int((part['status'] == 'below_cut_interval_reaches_it').sum())} below the cut reaching it; "
            f"{int((part['themes_top'] >= 2).sum())} with stacked disadvantage (2+ themes in the top decile)"
        )
        metadata[f"shortlist {level} file"] = dg.MetadataValue.path(str(shortlist_paths[level]))
    # A year without a level (KWB 2021/2022 download files have no buurten) gets no files for it;
    # files of that level left by an earlier run of the year are removed, not served stale.
    empty = [level for level, gdf in frames.items() if gdf.empty]
    for level in empty:
        layers.remove_layer(layout.layers, year, level)
        del frames[level]
    metadata["levels without areas (no files)"] = empty
    pending = {}
    for level, gdf in frames.items():
        pending[level] = layers.submit_layer(gdf, layout.layers, year, level, writers)
        metadata[f"{level} rows"] = dg.MetadataValue.int(len(gdf))
        metadata[f"{level} without polygon (left out of files)"] = int(gdf.geometry.isna().sum())
        metadata[f"{level} file"] = dg.MetadataValue.path(str(pending[level].paths["parquet_4326"]))
    finest = list(frames)[-1]
    preview = helpers.submit(
        render_score_map,
        frames[finest][["score", "geometry"]],  # what it draws: no more to copy to the helper
        layout.previews / f"{finest}_{year}.png",
        f"Kwetsbaarheid per {finest}, {year} ({spec.label})",
    )
    return metadata, preview, pending


def _files_metadata(settings: PipelineSettings, year: int, pending: dict) -> dict:
    """What the year's layer files say once written (an error in writing one is raised here)."""
    from veerkracht.publish import layers
    from veerkracht.publish.webmap import LayerFile

    metadata: dict = {}
    for level, layer in pending.items():
        paths = layer.result()
        metadata[f"{level} MB"] = round(paths["parquet_4326"].stat().st_size / 1e6, 2)
    metadata["crs"] = "EPSG:4326 and EPSG:28992 (GeoParquet), EPSG:28992 (GeoPackage)"
    # From the file just written (its bbox column), not by reprojecting the gemeenten again.
    gemeenten = layers.layer_paths(settings.layout.layers, year, "gemeente")["parquet_4326"]
    bounds = LayerFile.read(gemeenten).total_bounds()
    metadata["bbox (EPSG:4326)"] = [round(float(v), 4) for v in bounds]
    return metadata


@dg.asset(
    code_version=CODE_VERSION,
    deps=[area_layers, "boundary_crosswalk", "score_validation"],
    group_name="publish",
    kinds={"duckdb"},
    pool="duckdb",
)
def dashboard_warehouse(settings: PipelineSettings, build_db: DuckDBSpatialResource) -> dg.MaterializeResult:
    """The DuckDB file dashboards read, all years, published atomically (temp file + rename)."""
    with build_db.turn():  # a copy of the file as no other step is writing it
        target = warehouse.publish_copy(build_db.database, settings.layout.warehouse_db)
    with warehouse.connection(target, read_only=True, spatial=False) as con:
        years, n = warehouse.query(con, "report/published_years").iloc[0]
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target)),
            "years": [int(y) for y in years],
            "marts.area rows": dg.MetadataValue.int(int(n)),
            "MB": round(target.stat().st_size / 1e6, 2),
        }
    )
