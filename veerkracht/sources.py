"""The sources registry: where statistics and polygons can come from, and which files we write.

Belongs here: one row per statistics source, geometry source and output format, naming the
module that implements it. The command line's choices, the settings validation, the dispatch in
:mod:`veerkracht.ingest.kwb`, :mod:`veerkracht.geo.stage` and :mod:`veerkracht.publish.layers`,
and the crosswalk all read this table, so adding a source is one row here plus its module.

What a module must provide, per kind:

``statistics``  ``snapshots(year, *, embedded_dir, raw_dir, endpoint, on_failure, kwb_file) -> Snapshots``
``geometry``    ``levels_available(year, *, embedded_dir, url) -> tuple[str, ...]`` and
                ``read_year(year, levels, *, embedded_dir, raw_dir, url, timeout) -> {level: GeoDataFrame}``
``format``      ``write(gdf, path, *, layer, **options)`` (``options`` from the row)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

KINDS = ("statistics", "geometry", "format")


@dataclass(frozen=True)
class Source:
    """One way in (statistics, geometry) or out (format) of the pipeline."""

    kind: str
    name: str
    module: str
    description: str
    #: Format rows: the file name pattern under ``layers/<year>/`` and the writer's options.
    filename: str = ""
    options: dict = field(default_factory=dict)

    def load(self) -> ModuleType:
        """The implementing module (imported on first use: network code only when asked for)."""
        return importlib.import_module(self.module)


SOURCES: tuple[Source, ...] = (
    Source(
        "statistics",
        "embedded",
        "veerkracht.ingest.embedded",
        "the real KWB snapshot shipped in data/embedded (offline)",
    ),
    Source(
        "statistics",
        "cbs",
        "veerkracht.ingest.cbs",
        "the live CBS OData API via cbsodata; every download kept as an immutable snapshot",
    ),
    Source(
        "statistics",
        "file",
        "veerkracht.ingest.kwbfile",
        "a CBS KWB download file (kwb-YYYY.xls/.xlsx/.csv) you name with --kwb-file",
    ),
    Source(
        "geometry",
        "embedded",
        "veerkracht.geo.embedded",
        "the polygons shipped in data/embedded/geometries (offline)",
    ),
    Source(
        "geometry",
        "pdok",
        "veerkracht.geo.pdok",
        "the year's CBS/PDOK wijk- en buurtkaart GeoPackage, downloaded and kept",
    ),
    Source(
        "format",
        "parquet_4326",
        "veerkracht.publish.geoparquet",
        "GeoParquet 1.1, EPSG:4326 (web maps, geopandas, DuckDB)",
        filename="{level}_{year}_4326.parquet",
        options={"crs": "EPSG:4326"},
    ),
    Source(
        "format",
        "parquet_28992",
        "veerkracht.publish.geoparquet",
        "GeoParquet 1.1, EPSG:28992 (measuring in metres)",
        filename="{level}_{year}_28992.parquet",
        options={"crs": "EPSG:28992"},
    ),
    Source(
        "format",
        "gpkg",
        "veerkracht.publish.geopackage",
        "GeoPackage, EPSG:28992 (QGIS builds without GDAL's Parquet driver)",
        filename="{level}_{year}.gpkg",
        options={"crs": "EPSG:28992"},
    ),
)


def names(kind: str) -> tuple[str, ...]:
    """The names of every source of ``kind``, in registry order."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return tuple(s.name for s in SOURCES if s.kind == kind)


def get(kind: str, name: str) -> Source:
    """The row of ``name``, or a ValueError listing the choices of ``kind``."""
    for s in SOURCES:
        if s.kind == kind and s.name == name:
            return s
    raise ValueError(f"Unknown {kind} source {name!r}; choose one of {', '.join(names(kind))}")
