"""Static PNG previews of a score layer (for the Dagster UI and the README).

Belongs here: drawing only. Uses matplotlib's Agg backend so it runs on machines without a
screen.
"""

from __future__ import annotations

import base64
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ATTRIBUTION = "Bron: CBS, Kadaster/PDOK (CC BY 4.0); buurtgrenzen deels benaderd"


def render_score_map(gdf: gpd.GeoDataFrame, path: Path, title: str, dpi: int = 110) -> Path:
    """Choropleth of ``score`` (quintile classes); areas without a score in light grey."""
    fig, ax = plt.subplots(figsize=(6.4, 7.2))
    scored = gdf[gdf["score"].notna()]
    unscored = gdf[gdf["score"].isna()]
    if len(unscored):
        unscored.plot(ax=ax, color="#dddddd", linewidth=0)
    if len(scored):
        scored.plot(
            ax=ax,
            column="score",
            cmap="YlOrRd",
            linewidth=0,
            legend=True,
            vmin=0,
            vmax=1,
            legend_kwds={"label": "veerkracht score (0 = least, 1 = most vulnerable)", "shrink": 0.6},
        )
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    fig.text(0.01, 0.01, ATTRIBUTION, fontsize=6, color="#555555")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def markdown_image(path: Path) -> str:
    """Markdown embedding ``path`` as a data URI (how the Dagster UI shows a PNG in metadata)."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![preview](data:image/png;base64,{data})"
