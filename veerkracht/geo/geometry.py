"""Region polygons: read, clean and check; all in EPSG:28992 (RD New).

Belongs here: reading one level's GeoParquet polygons and making them valid MultiPolygons; the
geometry sources (:mod:`veerkracht.geo.embedded`, :mod:`veerkracht.geo.pdok`) build on it.
Staging a year is :mod:`veerkracht.geo.stage`; writing published layers is :mod:`veerkracht.publish`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
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


def _multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Each geometry as a MultiPolygon of its polygonal parts, in order (None without any), in
    vectorised shapely: a MultiPolygon as it is, a Polygon wrapped, a collection's polygons
    gathered (a loop over the country's areas took 1.5 s of a run)."""
    out = np.empty(len(geoms), dtype=object)
    kind = shapely.get_type_id(geoms)
    multi, single = kind == 6, kind == 3
    out[multi] = geoms[multi]
    out[single] = shapely.multipolygons(geoms[single][:, None]) if single.any() else []
    other = np.flatnonzero(~multi & ~single)
    if len(other):
        parts, where = shapely.get_parts(geoms[other], return_index=True)
        sub, within = shapely.get_parts(parts, return_index=True)  # a collection's MultiPolygons
        where = where[within]
        keep = shapely.get_type_id(sub) == 3
        for i, geom in zip(other, _gather(sub[keep], where[keep], len(other)), strict=True):
            out[i] = geom
    return out


def _gather(polys: np.ndarray, index: np.ndarray, n: int) -> list:
    """MultiPolygons of ``polys`` grouped by ``index`` (0..n-1, ascending); None where none."""
    starts = np.searchsorted(index, np.arange(n + 1))
    bounds = zip(starts[:-1], starts[1:], strict=True)
    return [shapely.MultiPolygon(list(polys[a:b])) if b > a else None for a, b in bounds]


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
    polys = _multipolygons(np.asarray(geoms, dtype=object))
    out = gdf.copy()
    out.geometry = gpd.GeoSeries(polys, index=gdf.index, crs=gdf.crs)
    return out[out.geometry.notna() & ~out.geometry.is_empty]


def add_areas_to(digest, frame: gpd.GeoDataFrame) -> None:
    """Feed what identifies ``frame``'s areas into ``digest`` (a :mod:`hashlib` object): their
    number, codes and polygons as WKB, each polygon length-prefixed (an area without one counts
    as empty). The stored crosswalks and the web map's tiles are keyed on it."""
    add_wkb_to(digest, frame["code"], shapely.to_wkb(frame.geometry.values))


def add_wkb_to(digest, codes, wkb) -> None:
    """:func:`add_areas_to` for areas whose polygons are WKB already (``wkb``, None for an area
    without one), such as a GeoParquet file's geometry column read as it is stored."""
    wkb = [w or b"" for w in wkb]
    digest.update(f"{len(wkb)}|".encode())
    digest.update("\0".join(codes).encode())
    digest.update(np.array([len(w) for w in wkb], dtype="<i8").tobytes())
    digest.update(b"".join(wkb))
