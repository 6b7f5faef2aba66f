"""Stage 2, geometries: gemeente, wijk and buurt polygons of the year, valid, in EPSG:28992."""

from typing import TYPE_CHECKING

import dagster as dg

from assets.partitions import per_year, stage_years
from assets.resources import PipelineSettings
from assets.versions import YEARLY_INPUT
from veerkracht.codes import LEVELS

if TYPE_CHECKING:  # geopandas is imported where polygons are read, not with the code location
    from veerkracht.geo.userfile import FileReport


@dg.asset(**YEARLY_INPUT, kinds={"geopandas", "parquet"})
def region_geometries(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """Gemeente, wijk and buurt polygons of each year (EPSG:28992, made valid, MultiPolygon)."""
    staged = stage_years(context, lambda year: _stage_year(context, settings, year))
    return dg.MaterializeResult(metadata=per_year(staged))


def _stage_year(context: dg.AssetExecutionContext, settings: PipelineSettings, year: int) -> dict:
    from veerkracht.geo.stage import stage_geometries
    from veerkracht.geo.userfile import read_boundary_file

    context.log.info(f"Geometries {year}: source = {settings.geometry_source}")
    files = [
        read_boundary_file(
            path,
            code_field=settings.geometry_code_field or None,
            name_field=settings.geometry_name_field or None,
            level=settings.geometry_level or None,
        )
        for path in settings.geometry_files
    ]
    stats = stage_geometries(
        year,
        LEVELS,
        settings.embedded_dir,
        settings.layout.staging(year),
        source=settings.geometry_source,
        raw_dir=settings.layout.raw,
        url=settings.pdok_url or None,
        files=files,
    )
    for _, report in files:
        for warning in _file_warnings(report):
            context.log.warning(warning)
    return {
        **{f"boundary file {r.source_name}": _file_metadata(r) for _, r in files},
        "polygons from boundary files": dg.MetadataValue.int(
            sum(sum(r.replaced.values()) + sum(r.added.values()) for _, r in files)
        ),
        **{f"{level}_areas": dg.MetadataValue.int(s["areas"]) for level, s in stats.items()},
        "geometry_source": {level: s["geometry_source"] for level, s in stats.items()},
        "areas with pseudo codes (kept; only KWB areas reach the warehouse)": {
            level: s["pseudo_code_areas"] for level, s in stats.items()
        },
        "crs": "EPSG:28992",
    }


def _file_metadata(report: "FileReport") -> dict:
    return {
        "path": report.path,
        "layers": report.layers,
        "crs": report.crs
        + (" (not declared: recognised from the coordinates)" if report.crs_detected else ""),
        "code field": f"{report.code_field} ({report.found_by})",
        "features": report.features,
        "areas per level": report.per_level,
        "replaced (area known to the base polygons)": report.replaced,
        "added (area unknown to the base polygons)": report.added,
        "invalid polygons repaired": report.repaired_invalid,
        "empty after repair (dropped)": report.dropped_empty,
        "water parts dropped": report.dropped_water,
        "duplicate codes dissolved": report.dissolved_duplicates,
        "PDOK sentinel values set to NULL": report.sentinels_nulled,
    }


def _file_warnings(report: "FileReport") -> list[str]:
    """What the run did to a boundary file it was given, as one warning (a line of the summary)."""
    out = []
    if report.crs_detected:
        out.append(f"no CRS declared; read as {report.crs} from its coordinate ranges")
    if report.repaired_invalid:
        out.append(f"{report.repaired_invalid} invalid polygons repaired (make_valid)")
    if report.dissolved_duplicates:
        out.append(f"{report.dissolved_duplicates} duplicate codes dissolved")
    added = sum(report.added.values())
    if added:
        out.append(f"{added} areas the base polygons do not have (codes of another year?)")
    return [f"{report.path}: {'; '.join(out)}"] if out else []
