"""Boundaries of a year for which no polygons of that year exist, derived from years that have them.

Belongs here: choosing, per area code of a KWB year, a polygon from another year's layer only
when the boundary is known to be the same, and saying on every row where it came from
(``geometry_source``). Used by ``scripts/build_embedded.py`` for the 2021-2023 years of the
embedded snapshot; never a wrong polygon: an area whose boundary is not known gets a NULL
geometry and a ``geometry_source`` that starts with ``no_boundary:`` and says why.

The rules, in order, for an area (code, name) of the target year:

1. The code exists in the later layer (e.g. 2024) with the same name, and in the earlier layer
   (e.g. 2019 buurten dissolved by wijk code) with a polygon that overlaps the later one by at
   least ``min_iou`` (intersection over union): the boundary is the same before and after the
   target year, so it is the later polygon (``<later source>`` + ``_same_code_name_stable``).
2. The code and name exist in the later layer and the code is unknown to the earlier one: the
   later polygon (``..._same_code_name``): the area was created after the earlier year and kept
   its code and name.
3. The code exists in both with an overlap below ``min_iou``: the boundary changed between the two
   years and its shape in the target year is not known: ``no_boundary:changed_between_<a>_<b>``.
4. The code exists only in the earlier layer (or in the later one under another name): the
   earlier polygon (``<earlier source>``).
5. Neither: ``no_boundary:code_unknown_to_<a>_and_<b>``.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from veerkracht.geo import RD_NEW

#: Intersection over union above which two polygons of one code count as the same boundary. The
#: layers are simplified differently (2019 quantised TopoJSON, 2024 simplified PDOK), which costs
#: a few per cent of overlap on an unchanged boundary.
MIN_IOU = 0.85
NO_BOUNDARY = "no_boundary:"


def dissolve_buurten(buurten: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Wijk polygons from buurt polygons: ``BUggggwwbb`` dissolved by ``WKggggww``."""
    codes = buurten["code"].str.strip()
    out = (
        buurten.assign(code="WK" + codes.str[2:8])
        .dissolve(by="code", as_index=False)[["code", "geometry"]]
        .to_crs(RD_NEW)
    )
    out["geometry_source"] = source
    return out


def _norm(names: pd.Series) -> pd.Series:
    # Letters and digits only: "Nuenen, Gerwen en Nederwetten" is "Nuenen Gerwen en Nederwetten".
    return names.astype("string").str.casefold().str.replace(r"[^0-9a-z]+", "", regex=True)


def boundaries_for(
    areas: pd.DataFrame,
    later: gpd.GeoDataFrame,
    earlier: gpd.GeoDataFrame | None,
    *,
    later_year: int,
    earlier_year: int | None,
    min_iou: float = MIN_IOU,
) -> gpd.GeoDataFrame:
    """One row per area of ``areas`` (code, name): its polygon by the rules above, or NULL.

    ``later`` has code, name, geometry_source and geometry; ``earlier`` code, geometry_source and
    geometry (names are not needed: 2019's buurt layer carries none). Returns code, name,
    geometry_source, overlap (the IoU where both layers have the code) and geometry, in EPSG:28992.
    """
    later = later.to_crs(RD_NEW).set_index(later["code"].str.strip())
    later_names = _norm(later["name"])
    earlier = (
        earlier.to_crs(RD_NEW).set_index(earlier["code"].str.strip())
        if earlier is not None
        else gpd.GeoDataFrame({"geometry_source": []}, geometry=gpd.GeoSeries([], crs=RD_NEW))
    )
    a, b = earlier_year, later_year
    rows = []
    for code, name in zip(areas["code"].str.strip(), _norm(areas["name"]), strict=True):
        in_later = code in later.index
        same_name = in_later and later_names.at[code] == name
        in_earlier = code in earlier.index
        iou = None
        if in_later and in_earlier:
            g1, g2 = later.at[code, "geometry"], earlier.at[code, "geometry"]
            union = shapely.union(g1, g2).area
            iou = shapely.intersection(g1, g2).area / union if union else 0.0
        if same_name and in_earlier and iou >= min_iou:
            geom, src = (
                later.at[code, "geometry"],
                f"{later.at[code, 'geometry_source']}_same_code_name_stable",
            )
        elif same_name and not in_earlier:
            geom, src = later.at[code, "geometry"], f"{later.at[code, 'geometry_source']}_same_code_name"
        elif in_later and in_earlier and iou < min_iou:
            geom, src = None, f"{NO_BOUNDARY}changed_between_{a}_and_{b}"
        elif in_earlier:
            geom, src = earlier.at[code, "geometry"], str(earlier.at[code, "geometry_source"])
        else:
            geom, src = None, f"{NO_BOUNDARY}code_unknown_to_{a}_and_{b}"
        rows.append({"code": code, "geometry_source": src, "overlap": iou, "geometry": geom})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=RD_NEW)
    out.insert(1, "name", areas["name"].to_numpy())
    return out


def same_codes(areas: pd.DataFrame, later: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Areas whose code and name are unchanged in ``later``: its polygon (``..._same_code_name``);
    the others NULL (``no_boundary:code_or_name_changed``). For consecutive years (2023 -> 2024)."""
    later = later.to_crs(RD_NEW).set_index(later["code"].str.strip())
    later_names = _norm(later["name"])
    rows = []
    for code, name in zip(areas["code"].str.strip(), _norm(areas["name"]), strict=True):
        if code in later.index and later_names.at[code] == name:
            rows.append(
                {
                    "code": code,
                    "geometry_source": f"{later.at[code, 'geometry_source']}_same_code_name",
                    "geometry": later.at[code, "geometry"],
                }
            )
        else:
            rows.append(
                {"code": code, "geometry_source": f"{NO_BOUNDARY}code_or_name_changed", "geometry": None}
            )
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=RD_NEW)
    out.insert(1, "name", areas["name"].to_numpy())
    return out
