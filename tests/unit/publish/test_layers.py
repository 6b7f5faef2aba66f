"""Writing layers from a real excerpt (Baarn's marts.area rows, tests/fixtures/README.md): every
format of the sources registry, GeoParquet 1.1 with zstd, a bbox covering and Hilbert order,
GeoPackage with its layer name and CRS, and a QGIS style next to each file."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from layer_checks import assert_geoparquet_properties
from testpaths import FIXTURES

from veerkracht import sources
from veerkracht.publish import layers

BAARN = FIXTURES / "baarn_marts_area_2024.parquet"


@pytest.fixture(scope="module")
def buurten() -> gpd.GeoDataFrame:
    gdf = gpd.read_parquet(BAARN)
    return gdf[gdf["level"] == "buurt"].sample(frac=1, random_state=3)  # any order in


@pytest.fixture(scope="module")
def written(buurten, tmp_path_factory):
    out = tmp_path_factory.mktemp("layers")
    with_missing = buurten.copy()
    with_missing.loc[with_missing.index[0], "geometry"] = None  # an area without a polygon
    return out, layers.write_layer(with_missing, out, 2024, "buurt"), with_missing


def test_every_registered_format_is_written(written):
    out, paths, _ = written
    for name in sources.names("format"):
        assert paths[name].is_file() and paths[name].parent == out / "2024"
        assert paths[f"qml_{paths[name].stem}"].is_file()
    assert not list((out / "2024").glob(".partial-*"))


@pytest.mark.parametrize("fmt,epsg", [("parquet_4326", 4326), ("parquet_28992", 28992)])
def test_geoparquet_is_zstd_hilbert_ordered_with_bbox_covering(written, fmt, epsg):
    _, paths, source = written
    gdf = assert_geoparquet_properties(paths[fmt], epsg)
    # Rows without a polygon are left out; the rest keep their values.
    assert len(gdf) == source.geometry.notna().sum() == 20
    src = source.dropna(subset=["geometry"]).set_index("code")
    got = gdf.set_index("code")
    assert (got["score"].fillna(-1) == src.loc[got.index, "score"].fillna(-1)).all()


def test_geopackage_layer_crs_and_rows(written):
    _, paths, source = written
    info = pyogrio.read_info(paths["gpkg"], layer="buurt_2024")
    assert info["crs"] == "EPSG:28992" and info["features"] == 20
    gdf = gpd.read_file(paths["gpkg"], layer="buurt_2024")
    assert set(gdf["code"]) == set(source.dropna(subset=["geometry"])["code"])


def test_qgis_style_classes_and_aliases(written):
    _, paths, _ = written
    for name in ("qml_buurt_2024_4326", "qml_buurt_2024_28992", "qml_buurt_2024"):
        root = ET.parse(paths[name]).getroot()
        renderer = root.find("renderer-v2")
        assert renderer.get("attr") == "score_class"
        assert [c.get("value") for c in renderer.iter("category")] == ["1", "2", "3", "4", "5", ""]
        aliases = {a.get("field") for a in root.iter("alias")}
        assert {"score", "druk", "score_null_reason"} <= aliases


def test_geopackage_holds_the_geoparquet_values_and_field_types(written):
    """GDAL's arrow write path: every column of the 28992 GeoParquet, with its values (NULLs
    included), booleans as GeoPackage booleans and integers as integers."""
    _, paths, _ = written
    parquet = gpd.read_parquet(paths["parquet_28992"]).set_index("code")
    gpkg = pyogrio.read_dataframe(paths["gpkg"], layer="buurt_2024").set_index("code").loc[parquet.index]
    info = pyogrio.read_info(paths["gpkg"], layer="buurt_2024")
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert set(types) == set(parquet.columns) - {"geometry", "bbox"} | {"code"}
    for col in parquet.columns.drop(["geometry", "bbox"], errors="ignore"):
        src, got = parquet[col], gpkg[col]
        assert (src.isna() == got.isna()).all(), col
        ok = src.notna()
        if pd.api.types.is_bool_dtype(src):  # a boolean field with NULLs reads back as 0.0 / 1.0
            assert (got[ok].astype(bool).to_numpy() == src[ok].astype(bool).to_numpy()).all(), col
        elif pd.api.types.is_numeric_dtype(src):
            assert got[ok].astype(float).to_numpy() == pytest.approx(src[ok].to_numpy()), col
        else:
            assert (got[ok].astype(str) == src[ok].astype(str)).all(), col
        if str(src.dtype) == "boolean":
            assert types[col] == "bool", col
        elif str(src.dtype) in ("Int32", "Int64", "int32", "int64"):
            assert types[col].startswith("int"), col
    assert gpkg.geometry.geom_equals_exact(parquet.geometry, tolerance=0).all()
