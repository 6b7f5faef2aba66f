"""Your own boundaries: a boundary file (any format GDAL reads) that replaces the polygons of the
areas it covers and leaves the rest of the country to the run's geometry source.

Belongs here: reading such a file into our shape (code, name, level, geometry_source, geometry in
EPSG:28992) and saying what was done to it. Municipalities and housing associations hold better
boundaries than the national generalised map (full-detail buurt files, last year's map); their
files come with other field names, CRSs and defects:

* every layer of the file is read (or the ones named); GeoPackage, shapefile, GeoJSON, TopoJSON,
  FlatGeobuf, ...;
* the CRS is the file's; where none is declared, RD New or WGS84 is recognised from the
  coordinate ranges (and said so), anything else is refused;
* the code field is found by name (``buurtcode``, ``BU_CODE``, ``statcode``, ``cbsCode``, ...)
  or by content (values like ``BU03630001`` or Amsterdam's ``BU0363AA01``), but only a field
  whose values are CBS codes counts: Eindhoven's ``buurtcode`` 544 is the city's own number, not
  a CBS code. Numeric codes get their prefix and zero padding from ``level``. A file without codes
  is refused with a message that lists its fields;
* PDOK sentinel values (-99999999, -99997, -99995) become NULL; invalid polygons are repaired
  and counted; parts marked ``water = 'JA'`` are dropped; duplicate codes are dissolved with a
  warning.

:func:`overlay` puts the file's polygons over the base polygons, level by level;
``geometry_source`` is ``file:<name>`` on every row that came from the file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from veerkracht.codes import LEVELS
from veerkracht.geo import RD_NEW
from veerkracht.geo.geometry import clean

log = logging.getLogger(__name__)

#: Field names that hold CBS codes in the files we know, most specific first (case-insensitive).
CODE_FIELDS = (
    "buurtcode",
    "bu_code",
    "wijkcode",
    "wk_code",
    "gemeentecode",
    "gm_code",
    "statcode",
    "cbscode",
    "cbs_code",
    "code",
    "id",
)
NAME_FIELDS = (
    "buurtnaam",
    "bu_naam",
    "wijknaam",
    "wk_naam",
    "gemeentenaam",
    "gm_naam",
    "statnaam",
    "naam",
    "name",
)
SENTINELS = (-99999999, -99997, -99995)
_PREFIX = {"buurt": ("BU", 8), "wijk": ("WK", 6), "gemeente": ("GM", 4)}
_LEVEL_OF_PREFIX = {p: lv for lv, (p, _) in _PREFIX.items()}
_CODE = re.compile(r"^(BU|WK|GM)(\d{4})([0-9A-Z]*)$")
_LENGTH = {"BU": 10, "WK": 8, "GM": 6}
#: Bounds of the Netherlands in RD New (metres, with a margin) and WGS84 (degrees).
_RD_BOUNDS = (-7_000, 289_000, 300_000, 629_000)
_WGS84_BOUNDS = (3.0, 50.5, 7.5, 53.8)
#: Share of a field's values that must be CBS codes for the field to count as the code field.
MIN_CODE_SHARE = 0.9


class BoundaryFileError(ValueError):
    """The boundary file cannot be used; the message names the file and what is wrong."""


@dataclass
class FileReport:
    """What reading one boundary file found and did (asset metadata, log)."""

    path: str
    layers: list[str]
    crs: str
    crs_detected: bool
    code_field: str
    found_by: str
    features: int
    per_level: dict[str, int] = field(default_factory=dict)
    repaired_invalid: int = 0
    dropped_empty: int = 0
    dropped_water: int = 0
    dissolved_duplicates: int = 0
    sentinels_nulled: int = 0
    replaced: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)

    @property
    def source_name(self) -> str:
        return f"file:{Path(self.path).name}"


def normalise_codes(values: pd.Series, level: str | None = None) -> pd.Series:
    """CBS codes from a field's values (strip, upper, prefix and pad numeric ones); NA where the
    value is not a CBS code. Numeric values need ``level`` and a gemeente part other than 0000."""
    text = values.astype("string").str.strip().str.upper().str.replace(r"\.0$", "", regex=True)
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    prefixed = text.str.match(_CODE.pattern).fillna(False)
    lengths_ok = prefixed & (text.str.len() == text.str[:2].map(_LENGTH).astype("Int64")).fillna(False)
    # Amsterdam-style alphanumeric buurt and wijk codes keep their own length.
    alnum = prefixed & text.str.match(r"^(BU\d{4}[A-Z]{1,2}\d{2}|WK\d{4}[A-Z]{1,2})$").fillna(False)
    out[lengths_ok | alnum] = text[lengths_ok | alnum]
    if level is not None:
        prefix, width = _PREFIX[level]
        digits = text.str.fullmatch(r"\d+").fillna(False)
        padded = prefix + text[digits].str.zfill(width)
        plausible = padded.str[2:6] != "0000"
        out[padded[plausible].index] = padded[plausible]
    return out


def _code_share(values: pd.Series, level: str | None) -> float:
    present = values.dropna()
    return float(normalise_codes(present, level).notna().mean()) if len(present) else 0.0


def _level_of_field(name: str) -> str | None:
    lower = name.lower()
    for level, hints in (
        ("buurt", ("buurt", "bu_")),
        ("wijk", ("wijk", "wk_")),
        ("gemeente", ("gemeente", "gm_")),
    ):
        if any(lower.startswith(h) for h in hints):
            return level
    return None


def find_code_field(
    gdf: pd.DataFrame, path: str, code_field: str | None, level: str | None
) -> tuple[str, str]:
    """(field, how it was found): the named field, the first known name whose values are CBS
    codes, or else any field whose values are; a BoundaryFileError listing the fields otherwise."""
    fields = [c for c in gdf.columns if c != gdf.geometry.name]
    if code_field:
        if code_field not in fields:
            raise BoundaryFileError(f"{path}: no field {code_field!r}; fields: {', '.join(fields)}")
        share = _code_share(gdf[code_field], level or _level_of_field(code_field))
        if share < MIN_CODE_SHARE:
            raise BoundaryFileError(
                f"{path}: field {code_field!r} holds no CBS codes ({share:.0%} of its "
                "values are); pass --level for numeric codes"
            )
        return code_field, "named"
    by_lower = {c.lower(): c for c in fields}
    for name in CODE_FIELDS:
        column = by_lower.get(name)
        if (
            column is not None
            and _code_share(gdf[column], level or _level_of_field(column)) >= MIN_CODE_SHARE
        ):
            return column, "by name"
    for column in fields:
        if gdf[column].dtype == object or str(gdf[column].dtype).startswith("string"):
            if _code_share(gdf[column], level) >= MIN_CODE_SHARE:
                return column, "by content"
    raise BoundaryFileError(
        f"{path}: no field holds CBS region codes (BU/WK/GM + digits, e.g. BU03630001); fields: "
        f"{', '.join(fields)}. Name one with --code-field (and --level for numeric codes), or add codes "
        "to the file (a file with names only cannot be joined to the statistics safely)."
    )


def _crs(gdf: gpd.GeoDataFrame, path: str) -> tuple[gpd.GeoDataFrame, str, bool]:
    if gdf.crs is not None:
        return gdf, gdf.crs.to_string(), False
    minx, miny, maxx, maxy = gdf.total_bounds
    for name, (x0, y0, x1, y1) in (("EPSG:28992", _RD_BOUNDS), ("EPSG:4326", _WGS84_BOUNDS)):
        if x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1:
            log.warning("%s declares no CRS; its coordinates are %s (RD New or WGS84 by range)", path, name)
            return gdf.set_crs(name), name, True
    raise BoundaryFileError(
        f"{path} declares no CRS and its coordinates ({minx:.1f}, {miny:.1f}, {maxx:.1f}, {maxy:.1f}) are "
        "neither RD New (EPSG:28992) nor WGS84 in the Netherlands; set the CRS in the file"
    )


def read_boundary_file(
    path: str | Path,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    level: str | None = None,
    layers: list[str] | None = None,
) -> tuple[gpd.GeoDataFrame, FileReport]:
    """Read a boundary file into (code, name, level, geometry_source, geometry) in EPSG:28992."""
    path = str(path)
    if not Path(path).exists():
        raise BoundaryFileError(f"No boundary file at {path}")
    if level is not None and level not in LEVELS:
        raise BoundaryFileError(f"--level must be one of {', '.join(LEVELS)}, not {level!r}")
    try:
        available = [name for name, geom in pyogrio.list_layers(path)]
    except Exception as exc:  # GDAL's own error names the problem
        raise BoundaryFileError(f"{path}: not a file GDAL can read ({exc})") from exc
    chosen = layers or available
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise BoundaryFileError(f"{path}: no layer {missing}; layers: {', '.join(available)}")
    frames = []
    for layer in chosen:
        part, crs, detected = _crs(gpd.read_file(path, layer=layer, engine="pyogrio"), path)
        frames.append(part.to_crs(RD_NEW) if crs != RD_NEW else part)
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=RD_NEW)
    minx, miny, maxx, maxy = gdf.total_bounds
    x0, y0, x1, y1 = _RD_BOUNDS
    if not (x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1):
        raise BoundaryFileError(
            f"{path}: in its CRS ({crs}) the polygons lie outside the Netherlands (RD New bounds "
            f"{minx:.0f}, {miny:.0f}, {maxx:.0f}, {maxy:.0f}); is the file's CRS wrong?"
        )
    field_name, found_by = find_code_field(gdf, path, code_field, level)
    report = FileReport(path, list(chosen), crs, detected, field_name, found_by, len(gdf))

    numeric = gdf.select_dtypes("number").columns
    sentinel = gdf[numeric].isin(SENTINELS)
    report.sentinels_nulled = int(sentinel.to_numpy().sum())
    gdf[numeric] = gdf[numeric].mask(sentinel)
    if "water" in gdf.columns:
        water = gdf["water"].astype("string").str.upper().eq("JA").fillna(False)
        report.dropped_water = int(water.sum())
        gdf = gdf[~water]

    codes = normalise_codes(gdf[field_name], level or _level_of_field(field_name))
    names = _names(gdf, name_field, path)
    invalid = ~gdf.geometry.is_valid
    report.repaired_invalid = int(invalid.sum())
    out = gpd.GeoDataFrame(
        {"code": codes, "name": names, "geometry_source": report.source_name},
        geometry=gdf.geometry.values,
        crs=RD_NEW,
    )
    out = out[out["code"].notna()]
    before = len(out)
    out = clean(out)  # make_valid; keeps polygonal parts
    report.dropped_empty = before - len(out)
    duplicated = out["code"].duplicated(keep=False)
    if duplicated.any():
        report.dissolved_duplicates = int(out.loc[duplicated, "code"].nunique())
        log.warning(
            "%s: %d codes occur more than once; their polygons are dissolved into one",
            path,
            report.dissolved_duplicates,
        )
        out = out.dissolve(by="code", as_index=False, aggfunc="first")
    out["level"] = out["code"].str[:2].map(_LEVEL_OF_PREFIX)
    if level is not None:
        out = out[out["level"] == level]
    if out.empty:
        raise BoundaryFileError(
            f"{path}: no polygon with a CBS code{f' of level {level}' if level else ''} left"
        )
    report.per_level = out["level"].value_counts().to_dict()
    return out[["code", "name", "level", "geometry_source", "geometry"]].reset_index(drop=True), report


def _names(gdf: pd.DataFrame, name_field: str | None, path: str) -> pd.Series:
    if name_field:
        if name_field not in gdf.columns:
            raise BoundaryFileError(f"{path}: no field {name_field!r} for names")
        return gdf[name_field].astype("string").str.strip()
    by_lower = {c.lower(): c for c in gdf.columns}
    for name in NAME_FIELDS:
        if name in by_lower:
            return gdf[by_lower[name]].astype("string").str.strip()
    return pd.Series(pd.NA, index=gdf.index, dtype="string")


def overlay(
    base: dict[str, gpd.GeoDataFrame], files: list[tuple[gpd.GeoDataFrame, FileReport]]
) -> dict[str, gpd.GeoDataFrame]:
    """The base polygons per level with every file's polygons put over them (later files win):
    an area the file has gets the file's polygon; every other area keeps its base polygon."""
    out = dict(base)
    for gdf, report in files:
        for level, part in gdf.groupby("level"):
            current = out.get(level)
            known = set(current["code"]) if current is not None else set()
            report.replaced[level] = int(part["code"].isin(known).sum())
            report.added[level] = int((~part["code"].isin(known)).sum())
            keep = current[~current["code"].isin(part["code"])] if current is not None else None
            rows = part.drop(columns="level")
            out[level] = gpd.GeoDataFrame(
                pd.concat([keep, rows], ignore_index=True) if keep is not None else rows, crs=RD_NEW
            )
    return out
