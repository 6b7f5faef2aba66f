"""Cleaning region polygons (veerkracht.geo.geometry): what an area layer keeps of any geometry."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from veerkracht.geo.geometry import clean


def test_clean_keeps_the_polygonal_parts_in_order():
    """``geometry.clean`` (vectorised): a MultiPolygon as it is, a Polygon wrapped, a bow-tie
    repaired into two triangles, a collection's polygons (also inside a MultiPolygon) gathered in
    order with its stray line dropped, a bare line dropped."""
    square = shapely.box(0, 0, 1, 1)
    two = shapely.MultiPolygon([shapely.box(2, 0, 3, 1), shapely.box(4, 0, 5, 1)])
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    mixed = shapely.GeometryCollection([shapely.LineString([(9, 9), (10, 10)]), two, square])
    line = shapely.LineString([(0, 0), (1, 1)])
    gdf = gpd.GeoDataFrame(
        {"code": list("abcde")}, geometry=[two, square, bowtie, mixed, line], crs="EPSG:28992"
    )
    got = clean(gdf)
    assert list(got["code"]) == list("abcd")
    assert all(g.geom_type == "MultiPolygon" and g.is_valid for g in got.geometry)
    assert got.geometry.iloc[0].equals_exact(two, 0) and got.geometry.iloc[1].equals_exact(
        shapely.MultiPolygon([square]), 0
    )
    assert len(got.geometry.iloc[2].geoms) == 2 and got.geometry.iloc[2].area == pytest.approx(2.0)
    assert [p.bounds for p in got.geometry.iloc[3].geoms] == [p.bounds for p in [*two.geoms, square]]
