"""The pdok geometry source on the real code path: a wijk- en buurtkaart GeoPackage downloaded
from a local HTTP server on 127.0.0.1, read, cleaned and staged.

The fixture GeoPackage is written here from the embedded real polygons of Baarn (PDOK 2024
buurten, full detail) and its wijken and gemeente, in PDOK's layer and field names, plus one
real water wijk (the first ``WKxxxx99`` of the embedded wijken) marked ``water = 'JA'`` as PDOK
marks water parts; nothing is invented but that flag.
"""

from __future__ import annotations

import threading

import geopandas as gpd
import pandas as pd
import pytest

from veerkracht.codes import LEVELS, is_pseudo
from veerkracht.geo import pdok
from veerkracht.geo.embedded import embedded_geometry_path
from veerkracht.geo.stage import stage_geometries
from veerkracht.http_limits import ResponseLimits
from veerkracht.paths import EMBEDDED_DIR
from veerkracht.publish.serve import make_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdok")
    gpkg = folder / "wijkenbuurten_2024_v1.gpkg"
    read = lambda level: gpd.read_parquet(embedded_geometry_path(EMBEDDED_DIR, 2024, level))  # noqa: E731
    gm = read("gemeente")
    gm = gm[gm["code"] == "GM0308"].assign(water="NEE")
    wk = read("wijk")
    water = wk[wk["code"].str.endswith("99")].head(1).assign(water="JA")
    wk = pd.concat([wk[wk["code"].str.startswith("WK0308")].assign(water="NEE"), water])
    bu = read("buurt")
    bu = bu[bu["code"].str.startswith("BU0308")].assign(water="NEE")
    for level, frame in (("gemeente", gm), ("wijk", wk), ("buurt", bu)):
        layer, code_field, name_field = pdok.LAYERS[level]
        frame.rename(columns={"code": code_field, "name": name_field})[
            [code_field, name_field, "water", "geometry"]
        ].to_file(gpkg, layer=layer, driver="GPKG", engine="pyogrio")
    (folder / "broken.gpkg").write_text("<html>moved</html>")
    server = make_server(folder, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", water["code"].iat[0]
    server.shutdown()


def test_download_read_and_stage(served, tmp_path):
    base, water_code = served
    stats = stage_geometries(
        2024,
        LEVELS,
        EMBEDDED_DIR,
        tmp_path / "staging",
        source="pdok",
        raw_dir=tmp_path / "raw",
        url=f"{base}/wijkenbuurten_2024_v1.gpkg",
        timeout=10,
    )
    assert {lv: s["areas"] for lv, s in stats.items()} == {"gemeente": 1, "wijk": 5, "buurt": 21}
    wijken = gpd.read_parquet(tmp_path / "staging" / "geometry_wijk.parquet")
    assert water_code not in set(wijken["code"])  # the water part (water = 'JA') is not a land area
    assert wijken.crs.to_epsg() == 28992 and wijken.geometry.is_valid.all()
    assert set(wijken["geometry_source"]) == {"pdok_wijkenbuurten_2024"}
    manifest = (tmp_path / "raw" / "geometries" / "2024" / "wijkenbuurten_2024.json").read_text()
    assert '"sha256"' in manifest


def test_not_a_geopackage_is_refused_and_leaves_earlier_file(served, tmp_path):
    base, _ = served
    url = f"{base}/wijkenbuurten_2024_v1.gpkg"
    good = pdok.download_gpkg(2024, tmp_path, url=url, timeout=10)
    before = good.read_bytes()
    with pytest.raises(pdok.PdokDownloadError, match="not a GeoPackage"):
        pdok.download_gpkg(2024, tmp_path, url=f"{base}/broken.gpkg", timeout=10)
    with pytest.raises(
        pdok.PdokDownloadError, match=r"2024 from http://127\.0\.0\.1:\d+/missing\.gpkg failed: HTTP 404"
    ):
        pdok.download_gpkg(2024, tmp_path, url=f"{base}/missing.gpkg", timeout=10, retries=0)
    # Limits per response (issue 15, item 3): the size cap (declared or counted), the deadline;
    # neither is retried, and the earlier file stays.
    with pytest.raises(pdok.PdokDownloadError, match=r"failed: the response from \S+ declares [\d,]+ bytes"):
        pdok.download_gpkg(2024, tmp_path, url=url, timeout=10, limits=ResponseLimits(max_bytes=4096))
    with pytest.raises(pdok.PdokDownloadError, match=r"failed: the response from \S+ was still arriving"):
        pdok.download_gpkg(2024, tmp_path, url=url, timeout=10, limits=ResponseLimits(deadline_s=1e-6))
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "wijkenbuurten_2024.gpkg",
        "wijkenbuurten_2024.json",
    ]


def test_urls_in_one_place_and_pseudo_codes():
    assert pdok.WIJKBUURTKAART_URLS[2024].endswith("wijkenbuurten_2024_v1.gpkg")
    with pytest.raises(pdok.PdokDownloadError, match="No wijk- en buurtkaart URL known for 2019"):
        pdok.download_gpkg(2019, __import__("pathlib").Path("/tmp"))
    assert is_pseudo("GM0998") and is_pseudo("WK036399") and is_pseudo("BU03639997")
    assert not is_pseudo("WK036398") and not is_pseudo("BU03080102")


def test_pseudo_codes_are_counted_not_dropped(tmp_path):
    stats = stage_geometries(2024, LEVELS, EMBEDDED_DIR, tmp_path)
    assert stats["gemeente"]["pseudo_code_areas"] == 1  # GM0998 Buitenland
    # 82 water wijken and two real KWB wijken whose code also ends in 99 (WK010699, WK168199).
    assert stats["wijk"]["pseudo_code_areas"] == 84 and stats["wijk"]["areas"] == 3475
    wijken = gpd.read_parquet(tmp_path / "geometry_wijk.parquet")
    assert {"WK010699", "WK168199"} <= set(wijken["code"])
