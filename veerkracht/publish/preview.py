"""Static PNG previews of a score layer (for the Dagster UI and the README).

Belongs here: drawing only. Uses matplotlib's Agg backend so it runs on machines without a
screen.
"""

from __future__ import annotations

import base64
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ATTRIBUTION = "Bron: CBS, Kadaster/PDOK (CC BY 4.0); buurtgrenzen deels benaderd"


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed), imported on first use. Not at
    this module's import: a step whose helper process draws its previews (or writes the validation
    chart, veerkracht/publish/validation_report.py) only names the function (0.29 s of the step's
    own time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render_score_map(gdf: gpd.GeoDataFrame, path: Path, title: str, dpi: int = 110) -> Path:
    """Choropleth of ``score`` (the YlOrRd colour ramp, 0-1); areas without a score in light grey."""
    plt = pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig, ax = plt.subplots(figsize=(6.4, 7.2))
    drawn = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    scored = drawn["score"].notna().to_numpy()
    cmap, norm = plt.get_cmap("YlOrRd"), Normalize(vmin=0, vmax=1)
    if (~scored).any():
        _fill(ax, drawn.geometry.to_numpy()[~scored], np.zeros((~scored).sum(), int), ["#dddddd"])
    if scored.any():
        # The colour ramp's own 256 steps: one compound path per step (what the colormap would
        # pick for each area), not one patch per area.
        level = np.clip((norm(drawn["score"].to_numpy()[scored]) * cmap.N).astype(int), 0, cmap.N - 1)
        _fill(ax, drawn.geometry.to_numpy()[scored], level, cmap(np.arange(cmap.N)))
        fig.colorbar(
            ScalarMappable(norm=norm, cmap=cmap),
            ax=ax,
            label="veerkracht score (0 = least, 1 = most vulnerable)",
            shrink=0.6,
        )
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    fig.text(0.01, 0.01, ATTRIBUTION, fontsize=6, color="#555555")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def _fill(ax, geoms: np.ndarray, colour_index: np.ndarray, colours) -> None:
    """Fill polygons with ``colours[colour_index]``: their rings become one compound path per
    colour, built from shapely's coordinate arrays (a matplotlib patch per area cost ~0.3 ms
    each: 4 s for the country's buurten)."""
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path as MplPath

    polygons, of_geom = shapely.get_parts(geoms, return_index=True)
    rings, of_polygon = shapely.get_rings(polygons, return_index=True)
    coords, of_ring = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    starts = np.r_[True, of_ring[1:] != of_ring[:-1]]
    codes[starts] = MplPath.MOVETO
    codes[np.r_[starts[1:], True]] = MplPath.CLOSEPOLY
    colour = colour_index[of_geom[of_polygon[of_ring]]]
    order = np.argsort(colour, kind="stable")  # rings keep their order within a colour
    used, first = np.unique(colour[order], return_index=True)
    paths = [
        MplPath(coords[order[a:b]], codes[order[a:b]])
        for a, b in zip(first, [*first[1:], len(order)], strict=True)
    ]
    ax.add_collection(
        PathCollection(paths, facecolors=[colours[i] for i in used], linewidths=0, edgecolors="none")
    )


def markdown_image(path: Path) -> str:
    """Markdown embedding ``path`` as a data URI (how the Dagster UI shows a PNG in metadata)."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![preview](data:image/png;base64,{data})"
