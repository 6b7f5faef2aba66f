"""Region polygons: read, clean and check; all in EPSG:28992 (RD New).

Belongs here: reading one level's GeoParquet polygons and making them valid MultiPolygons; the
geometry sources (:mod:`veerkracht.geo.embedded`, :mod:`veerkracht.geo.pdok`) build on it.
Staging a year is :mod:`veerkracht.geo.stage`; writing published layers is :mod:`veerkracht.publish`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from veerkracht.geo import RD_NEW


def read_geometries(path: Path) -> gpd.GeoDataFrame:
    """Read one level's polygons (code, name, geometry_source, geometry) in EPSG:28992, cleaned.

    Rows with a NULL geometry whose ``geometry_source`` says why (``no_boundary:…``, see
    :mod:`veerkracht.geo.derive`) are kept as they are: the area exists, its boundary is unknown.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"No geometries at {path}")
    gdf = gpd.read_parquet(path)
    if gdf.crs is None:
        raise ValueError(f"{path} has no CRS; expected {RD_NEW}")
    gdf = gdf.to_crs(RD_NEW)
    unknown = gdf.geometry.isna() & gdf["geometry_source"].astype("string").str.startswith("no_boundary:")
    if not unknown.any():
        return clean(gdf)
    return pd.concat([clean(gdf[~unknown]), gdf[unknown]], ignore_index=True)


def _make_valid_one(geom):
    try:
        return shapely.make_valid(geom)
    except shapely.errors.GEOSException:
        return shapely.make_valid(geom, method="structure", keep_collapsed=False)


def clean(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Make every geometry a valid, non-empty MultiPolygon (shapely ``make_valid``).

    ``make_valid`` can split a self-touching ring into polygons plus stray lines; only the
    polygonal parts are kept, because an area layer has no use for lines.
    """
    try:
        geoms = shapely.make_valid(gdf.geometry.to_numpy())
    except shapely.errors.GEOSException:
        # One geometry GEOS cannot repair as a whole (a part collapsed to a line or point, as in
        # a coarse TopoJSON): repair each geometry alone, that one by its structure.
        geoms = [_make_valid_one(g) for g in gdf.geometry.to_numpy()]
    polys = []
    for geom in geoms:
        parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        flat = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
        polys.append(shapely.MultiPolygon(flat) if flat else None)
    out = gdf.copy()
    out.geometry = gpd.GeoSeries(polys, index=gdf.index, crs=gdf.crs)
    return out[out.geometry.notna() & ~out.geometry.is_empty]
