"""What every published GeoParquet layer must be, checked on the file itself."""

from __future__ import annotations

import json

import geopandas as gpd
import pyarrow.parquet as pq

from veerkracht.publish import layers


def assert_geoparquet_properties(path, crs_epsg: int) -> gpd.GeoDataFrame:
    """zstd on every column chunk, GeoParquet 1.1 metadata with a bbox covering, Hilbert order."""
    meta = pq.ParquetFile(path).metadata
    codecs = {
        meta.row_group(g).column(c).compression
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }
    assert codecs == {"ZSTD"}
    geo = json.loads(meta.metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    column = geo["columns"][geo["primary_column"]]
    assert column["encoding"] == "WKB" and column["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    gdf = gpd.read_parquet(path)
    assert gdf.crs.to_epsg() == crs_epsg
    if crs_epsg == 28992:  # the frame the order was computed in (a round trip via 4326 is not exact)
        keys = gdf.hilbert_distance(total_bounds=layers.NL_EXTENT_RD)
        assert keys.is_monotonic_increasing, "rows are not in Hilbert order"
    # The covering column holds each row's own bounds (float32, rounded outward).
    bbox = pq.read_table(path, columns=["bbox"]).column("bbox").to_pandas()
    bounds = gdf.geometry.bounds
    assert (bbox.map(lambda b: b["xmin"]) <= bounds["minx"]).all()
    assert (bbox.map(lambda b: b["xmax"]) >= bounds["maxx"]).all()
    assert (bbox.map(lambda b: b["xmax"]) - bounds["maxx"]).abs().max() < 1e-2 * (
        1 if crs_epsg == 4326 else 1e3
    )
    return gdf
