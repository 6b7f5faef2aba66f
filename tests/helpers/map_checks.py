"""What the web map shows a person, read from a real browser: the colour MapLibre drew for every
rendered area (``queryRenderedFeatures`` evaluates the style per feature) and the screenshot's
pixels, next to what the warehouse says the colour must be.

Used by ``tests/integration/test_webmap.py``; ``python tests/helpers/map_checks.py WEB WAREHOUSE``
runs the same checks on any output folder (e.g. an older build's, to see them fail).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from veerkracht.publish import styles  # noqa: E402
from veerkracht.publish.serve import make_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
VIEWS = ["national", "gemeente", "bivariate", "bewoners"]
BACKGROUND = np.array([0xF4, 0xF6, 0xF8])

# The colour of every rendered fill feature, as MapLibre evaluated the style for it.
DRAWN_JS = """(level) => {
  const byte = (v) => Math.round(v * 255).toString(16).padStart(2, '0');
  const hex = (c) => '#' + [c.r, c.g, c.b].map(byte).join('');
  const out = {};
  for (const f of window.vk.map.queryRenderedFeatures({layers: [`${level}-fill`]})) {
    out[f.properties.code] = hex(f.layer.paint['fill-color']);
  }
  return out;
}"""
# The circles drawn: every area has a point; where the year has no count its circle is transparent.
CIRCLES_JS = """(level) => {
  const out = {};
  for (const f of window.vk.map.queryRenderedFeatures({layers: [`${level}-bewoners`]})) {
    if (f.layer.paint['circle-opacity'] > 0) {
      out[f.properties.code] = [f.layer.paint['circle-radius'], f.layer.paint['circle-opacity']];
    }
  }
  return out;
}"""
NO_FADES_JS = "() => { window.vk.map.style.stylesheet.transition = {duration: 0, delay: 0}; }"
# Resolves with nothing: resolving with the idle event made Playwright serialise the whole map
# (every tile and feature state) back to Python, 3-18 s a view.
SETTLE_JS = """() => new Promise(r => {
  window.vk.map.once('idle', () => r(null));
  window.vk.map.triggerRepaint();
})"""


@contextmanager
def serving(web: Path):
    os.environ["VEERKRACHT_SERVE_QUIET"] = "1"
    server = make_server(web, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()


def expected_colour(view: str, level: str, row: dict) -> str:
    """The colour the legend promises for one marts.area row."""
    if view == "bewoners":
        return styles.BEWONERS_FILL_COLOUR
    if view == "bivariate":
        return styles.BIVARIATE_COLOURS.get(row["bivariate_class"] or "", styles.NO_SCORE_COLOUR)
    if view == "gemeente" and level != "gemeente":
        value = row["score_within_gemeente"]
        if value is None:
            return styles.NO_SCORE_COLOUR
        return styles.CLASS_COLOURS[int(np.searchsorted(styles.WITHIN_GEMEENTE_BREAKS, value, side="right"))]
    cls = row["score_class"]
    return styles.CLASS_COLOURS[cls - 1] if cls is not None else styles.NO_SCORE_COLOUR


def blended(hex_colour: str, opacity: float) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return opacity * rgb + (1 - opacity) * BACKGROUND


def class_pixel_shares(png: Path) -> list[float]:
    """Share of the map's pixels drawn in each class colour (certain 0.92 or uncertain 0.5
    opacity over the background), left of the panel excluded."""
    pixels = np.asarray(Image.open(png).convert("RGB"))[:, 300:].reshape(-1, 3).astype(np.int32)
    # Each distinct colour once (a map has a few thousand of its ~700,000 pixels), with its count.
    packed, counts = np.unique(pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2], return_counts=True)
    colours = np.column_stack([packed >> 16, packed >> 8 & 255, packed & 255]).astype(float)
    shares = []
    for colour in styles.CLASS_COLOURS:
        near = np.zeros(len(colours), dtype=bool)
        for opacity in (0.92, 0.5):
            near |= np.abs(colours - blended(colour, opacity)).max(axis=1) <= 6
        shares.append(float(counts[near].sum() / len(pixels)))
    return shares


def marts_rows(con: duckdb.DuckDBPyConnection, year: int, level: str) -> dict[str, dict]:
    cur = con.execute(
        "SELECT code, score, score_class, score_within_gemeente, bivariate_class, "
        "kwetsbare_bewoners, estimate_kind, coverage FROM marts.area WHERE year = ? AND level = ?",
        [year, level],
    )
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def check_map(page, url: str, con, screenshots: Path) -> list[str]:
    """Every year of the year switch, every level it has, every view: the colour drawn for each
    area is the one its marts.area row asks for. Returns the problems found (empty: all good)."""
    problems: list[str] = []
    page.goto(url)
    page.wait_for_function("window.vk && window.vk.ready && window.vk.map.areTilesLoaded()", timeout=60_000)
    # No colour fades between views (MapLibre's default 300 ms paint transition): the checks read
    # each view's final colours, and 40 fades took 9 of the check's 20 s of settling.
    page.evaluate(NO_FADES_JS)
    years = json.loads(page.evaluate("() => fetch('years.json').then(r => r.text())"))
    for year in years:
        page.select_option("#year", str(year))
        page.wait_for_function(
            f"window.vk.ready && window.vk.shownYear === {year} && window.vk.map.areTilesLoaded()",
            timeout=60_000,
        )
        meta = json.loads(page.evaluate(f"() => fetch('meta_{year}.json').then(r => r.text())"))
        for level in meta["levels"]:
            page.select_option("#level", level)
            rows = marts_rows(con, year, level)
            for view in VIEWS:
                page.check(f"input[name=view][value={view}]")
                page.evaluate(SETTLE_JS)
                problems += _check_view(page, year, level, view, rows, meta, screenshots)
    page.check("input[name=view][value=national]")
    return problems


def _check_view(page, year, level, view, rows, meta, screenshots) -> list[str]:
    where = f"{year} {level} {view}"
    drawn = page.evaluate(DRAWN_JS, level)
    problems = []
    if len(drawn) < 0.5 * len(rows):
        problems.append(f"{where}: {len(drawn)} of {len(rows)} areas drawn")
    unknown = set(drawn) - set(rows)
    if unknown:
        problems.append(f"{where}: drawn areas not in marts.area: {sorted(unknown)[:5]}")
    wrong = {c: (got, expected_colour(view, level, rows[c])) for c, got in drawn.items() if c in rows}
    wrong = {c: pair for c, pair in wrong.items() if pair[0] != pair[1]}
    if wrong:
        sample = dict(list(wrong.items())[:3])
        problems.append(
            f"{where}: {len(wrong)} of {len(drawn)} areas in the wrong colour (drawn, expected): {sample}"
        )
    if view == "national":
        scored = [c for c in drawn if c in rows and rows[c]["score"] is not None]
        shares = [
            sum(drawn[c] == colour for c in scored) / max(len(scored), 1) for colour in styles.CLASS_COLOURS
        ]
        if (
            meta["coverage"] == "national"
            and len(scored) >= 100
            and not all(0.15 <= s <= 0.25 for s in shares)
        ):
            problems.append(
                f"{where}: class shares of the scored areas drawn {shares}, not about a fifth each"
            )
        png = screenshots / f"webmap_{year}_{level}.png"
        page.screenshot(path=str(png))
        pixel_shares = class_pixel_shares(png)
        if len(scored) >= 100 and min(pixel_shares) < 0.002:
            problems.append(f"{where}: a class colour is (nearly) absent from the screenshot: {pixel_shares}")
    if view == "bewoners":
        circles = page.evaluate(CIRCLES_JS, level)
        # A circle for (nearly) every drawn area with a count, and none for an area without one
        # (a circle may show where its tiny polygon is not drawn at this zoom).
        counted = {c for c in drawn if c in rows and rows[c]["kwetsbare_bewoners"] is not None}
        with_count = {c for c, r in rows.items() if r["kwetsbare_bewoners"] is not None}
        if len(circles) < 0.9 * len(counted) or set(circles) - with_count:
            problems.append(f"{where}: {len(circles)} circles for {len(counted)} drawn areas with a count")
        for code, (radius, opacity) in circles.items():
            want = styles.CIRCLE_SCALE[level] * np.sqrt(rows[code]["kwetsbare_bewoners"])
            if abs(radius - want) > 1e-6 * max(want, 1):
                problems.append(f"{where}: circle of {code} has radius {radius}, its count asks {want}")
                break
            modelled = rows[code]["estimate_kind"] == "modelled"
            if opacity != (styles.MODELLED_OPACITY if modelled else styles.COUNTED_OPACITY):
                kind = rows[code]["estimate_kind"]
                problems.append(f"{where}: circle of {code} ({kind}) has opacity {opacity}")
                break
    return problems


def main(web: str, warehouse: str) -> int:
    from playwright.sync_api import sync_playwright

    con = duckdb.connect(warehouse, read_only=True)
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "map_checks"
    out.mkdir(exist_ok=True)
    with serving(Path(web)) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems = check_map(page, url, con, out)
        browser.close()
    print("\n".join(problems) or "the map shows the data")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
