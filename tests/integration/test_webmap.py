"""The web map in a real browser: headless Debian Chromium driven by Playwright, offline, on the
outputs of README's first command (every embedded year).

Needs /usr/bin/chromium (Debian package ``chromium``; .ci/run installs it). Playwright is used
only as a driver: no browser is downloaded. ``VEERKRACHT_SCREENSHOT_DIR=docs/img`` keeps the
screenshots: the README's picture comes from here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from map_checks import CHROMIUM, check_map, class_pixel_shares, serving
from PIL import Image

from veerkracht.publish.webmap import year_tiles

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian chromium: apt-get install chromium"
)
SCREENSHOT_DIR = os.environ.get("VEERKRACHT_SCREENSHOT_DIR")  # keep screenshots (README picture)


@pytest.fixture(scope="module")
def page_url(years_run):
    with serving(years_run[0].web) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def test_web_folder_is_self_contained(years_run):
    web = years_run[0].web
    assert year_tiles(web, 2024).stat().st_size > 1_000_000
    # One archive per boundary set: each embedded year has its own boundaries, none is left over.
    assert sorted(p.name for p in web.glob("*.pmtiles")) == sorted(
        {year_tiles(web, year).name for year in (2021, 2022, 2023, 2024)}
    )
    assert json.loads((web / "years.json").read_text()) == [2024, 2023, 2022, 2021]
    html = (web / "index.html").read_text() + (web / "app.js").read_text()
    assert "http://" not in html.replace("http://127", "") and "https://" not in html, "no CDN, no network"


def test_range_requests_are_served(years_run, page_url):
    import urllib.request

    tiles = year_tiles(years_run[0].web, 2024).name
    req = urllib.request.Request(page_url.replace("index.html", tiles), headers={"Range": "bytes=0-126"})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 206 and resp.read()[:7] == b"PMTiles"


def _non_background_share(path: Path) -> float:
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
    background = np.array([0xF4, 0xF6, 0xF8])
    return float((np.abs(pixels - background).sum(axis=1) > 30).mean())


def test_every_view_of_every_year_draws_the_warehouse_colours(years_run, page_url, browser, tmp_path):
    """What a person sees (issue 24: every area was grey, and the test above it passed): in every
    year of the year switch, at every level, in every view, each rendered area has the colour its
    marts.area row asks for (class, rank within the gemeente, bivariate class; circles sized by
    the count); in "landelijk" each class colour covers about a fifth of the scored areas of a
    national year, and shows in the screenshot's pixels."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    problems = check_map(page, page_url, years_run[2], tmp_path)
    assert not problems, "\n".join(problems)
    assert not errors, errors
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "webmap_2024_buurt.png", Path(SCREENSHOT_DIR) / "webmap_national.png")


def test_map_loads_tiles_and_shows_a_popup(years_run, page_url, browser, tmp_path):
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_url)
    page.wait_for_function("window.vk && window.vk.ready && window.vk.map.areTilesLoaded()", timeout=60_000)
    national = tmp_path / "webmap_national.png"
    page.screenshot(path=str(national))
    n_buurten = page.evaluate("window.vk.map.queryRenderedFeatures({layers: ['buurt-fill']}).length")
    assert n_buurten > 5000  # the whole country's buurten are drawn at national zoom

    # The page zooms out no further than the archive's lowest zoom (below it there would be no
    # tile: an empty map; every area is in the tiles of that zoom: tests/unit/publish). Not
    # zoomed here: a new zoom over the whole country takes this software renderer ~20 s.
    from pmtiles.reader import MmapSource, Reader

    with open(year_tiles(years_run[0].web, 2024), "rb") as f:
        lowest = Reader(MmapSource(f)).header()["min_zoom"]
    assert page.evaluate("window.vk.map.getMinZoom()") == lowest

    # Search a known buurt, jump to it, click its middle: the popup names it.
    page.fill("#search", "Staatsliedenwijk")
    page.click("#results li:has-text('buurt, Baarn')")
    page.wait_for_function("window.vk.map.areTilesLoaded()", timeout=30_000)
    page.wait_for_timeout(500)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.wait_for_selector(".maplibregl-popup", timeout=10_000).inner_text()
    assert "Staatsliedenwijk" in popup and "BU03080102" in popup and "Baarn" in popup
    assert "Woningen in bezit van een woningcorporatie 48.0 % (p86)" in popup  # the top contributor
    assert "Rang-interval (5–95%)\t0.68 – 0.87" in popup  # the Monte Carlo rank interval
    assert "Bivariaat\tK3D2" in popup
    # How many: the estimate, its 90 % interval and its kind, as the warehouse has them.
    n, lo, hi = (
        years_run[2]
        .execute(
            "SELECT kwetsbare_bewoners, kwetsbare_bewoners_p05, kwetsbare_bewoners_p95 FROM marts.area "
            "WHERE year = 2024 AND code = 'BU03080102' AND estimate_kind = 'modelled'"
        )
        .fetchone()
    )
    nl = [f"{v:,}".replace(",", ".") for v in (n, lo, hi)]
    want = f"≈ {nl[0]} bewoners ({nl[1]}–{nl[2]}), gemodelleerd uit cijfers van 2021"
    assert f"Kwetsbare bewoners\t{want}" in popup

    # Names are text, never HTML: a hostile name shows as typed and creates no element.
    hostile = '<img src=x onerror="window.pwned=1"> Tuindorp & Co'
    shown = page.evaluate(
        "(name) => { const n = popupNode({name, code: 'BU0', geometry_source: '<i>f</i>'});"
        " document.body.append(n); return [n.querySelector('b').textContent,"
        " n.querySelectorAll('img, i').length, n.innerText.includes('<i>f</i>')]; }",
        hostile,
    )
    assert shown == [hostile, 0, True]
    assert page.evaluate("window.pwned === undefined")

    # The relative and the bivariate views recolour without errors; the legend follows.
    page.check("input[name=view][value=gemeente]")
    page.wait_for_timeout(300)
    page.check("input[name=view][value=bivariate]")
    page.wait_for_timeout(300)
    assert "Kwetsbaarheid × druk" in page.inner_text("#legend")
    page.check("input[name=view][value=bewoners]")
    page.wait_for_timeout(300)
    assert "Geschat aantal kwetsbare bewoners" in page.inner_text("#legend")
    legend = page.inner_text("#legend")  # how many of which kind, from the data
    kinds = json.loads((years_run[0].web / "meta_2024.json").read_text())["areas"]["buurt"]
    assert f"{kinds['counted_by_kind']['modelled']:,} gemodelleerd (lichter)".replace(",", ".") in legend
    # What the map measures comes from the spec: its themes, no v1 household theme.
    method = page.evaluate("document.getElementById('method').textContent")
    assert "Woonpositie" in method and "Inkomensonzekerheid" in method and "Huishoudenspositie" not in method
    assert "1.000 varianten" in page.inner_text("#notes")  # what "onzeker" means: the spec's runs
    detail = tmp_path / "webmap_popup.png"
    page.screenshot(path=str(detail))

    # The shortlist page: the 2024 top decile per level, uncertain ones marked.
    page.goto(page_url.replace("index.html", "") + "shortlist.html")
    page.wait_for_selector("#list tbody tr", timeout=10_000)
    summary = page.inner_text("#summary")
    assert "in de top-10%" in summary and "gemarkeerd als onzeker" in summary
    assert page.locator("#list tbody tr").count() > 50  # gemeenten first
    page.select_option("#level", "buurt")
    assert page.locator("#list tbody tr").count() > 1000
    assert not errors, errors
    assert _non_background_share(national) > 0.25, "the national map is (nearly) blank"
    assert min(class_pixel_shares(national)) > 0.002, "a class colour is missing from the national map"
