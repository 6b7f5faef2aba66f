"""Rebuild ``data/embedded/`` from the real CBS/PDOK files in ``../shared/cbs``.

Run from the repository root::

    python scripts/build_embedded.py [--shared ../shared/cbs]

What it writes (all real data, nothing synthetic; see data/embedded/README.md):

* ``kwb/85984NED/<vintage>/`` -- two real vintages of KWB 2024, each as a cbsodata-shaped
  ``TypedDataSet.parquet`` (one row per region, columns = real OData keys) with its
  ``DataProperties.json``, ``TableInfos.json`` and a ``MANIFEST.json`` saying where it came from.
* ``extra/misdrijven_47022NED_kwb2024.parquet`` -- registered crime per KWB-2024 area (Politie/CBS).
* ``geometries/2024/{gemeente,wijk,buurt}.parquet`` -- GeoParquet in EPSG:28992 with a
  ``geometry_source`` column per area.
* ``kwb_files/kwb-2021.csv``, ``kwb-2022.csv`` -- KWB 2021 and 2022 (gemeenten, wijken) in CBS's
  download-file format, the 2021 rows with their dropped decimal separators repaired per field
  (``kwb_files/REPAIRS.json`` says what was done to which field); ``kwb-2023-GM0344-utrecht.xlsx``
  -- CBS's own kwb-2023.xlsx for Utrecht, unchanged.
* ``geometries/2021``, ``2022``, ``2023`` -- polygons for those years' areas where the boundary is
  known (veerkracht/geo/derive.py), NULL with the reason where it is not.

This script is a one-off data-preparation tool; the pipeline never imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from veerkracht.geo import derive
from veerkracht.geo.geometry import clean
from veerkracht.ingest.kwbfile import load_file_map, repair_dropped_decimals
from veerkracht.integrity import write_sums

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "embedded"
TABLE = "85984NED"
RD = "EPSG:28992"

# The April-2025 vintage (dertje copy) and its real metadata (niquedegraaff copy).
V2025 = "2025-03-27"
# The 2026 revision (woonikveilig copy, peildatum 2026-07-19).
V2026 = "2026-07-19"

STRUCTURAL = ["WijkenEnBuurten", "Gemeentenaam_1", "SoortRegio_2", "Codering_3"]
LEVEL_LABEL = {"gemeente": "Gemeente", "wijk": "Wijk", "buurt": "Buurt"}


def _stem(key: str) -> str:
    return re.sub(r"_\d+$", "", key)


def _typed(frame: pd.DataFrame, props: list[dict]) -> pd.DataFrame:
    """Cast columns the way a cbsodata TypedDataSet download types them (Long/Double/String)."""
    types = {p["Key"]: p.get("Datatype") for p in props if p.get("Type") == "Topic"}
    out = frame.copy()
    for col in out.columns:
        kind = types.get(col)
        raw = out[col]
        if kind in ("Long", "Double"):
            num = pd.to_numeric(raw.replace({"": None}), errors="raise")
            out[col] = num.round().astype("Int64") if kind == "Long" else num.astype("Float64")
        elif col != "ID":
            out[col] = raw.replace({"": None}).astype("string")
    return out


def _write_vintage(vintage: str, data: pd.DataFrame, props: list, infos: list, manifest: dict) -> None:
    folder = OUT / "kwb" / TABLE / vintage
    folder.mkdir(parents=True, exist_ok=True)
    data.to_parquet(folder / "TypedDataSet.parquet", compression="zstd", index=False)
    (folder / "DataProperties.json").write_text(json.dumps(props, ensure_ascii=False, indent=1))
    (folder / "TableInfos.json").write_text(json.dumps(infos, ensure_ascii=False, indent=1))
    manifest["sha256_TypedDataSet"] = hashlib.sha256(
        (folder / "TypedDataSet.parquet").read_bytes()
    ).hexdigest()
    (folder / "MANIFEST.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))


def build_kwb(shared: Path) -> None:
    meta = shared / "kwb2024_gm_wk_meta_niquedegraaff"
    props_2025 = json.loads((meta / "DataProperties.json").read_text())
    infos_2025 = json.loads((meta / "TableInfos.json").read_text())

    # Vintage 1: the April-2025 release, all 130 columns, NL + 171 complete gemeenten.
    raw = pd.read_csv(
        shared / "kwb2024_85984NED_partial_dertje" / "85984NED_171_complete_gemeenten.csv",
        sep=";",
        encoding="utf-8-sig",
        dtype=str,
        keep_default_na=False,
    )
    data = _typed(raw, props_2025)
    data["ID"] = data["ID"].astype("int64")
    _write_vintage(
        V2025,
        data,
        props_2025,
        infos_2025,
        {
            "table_id": TABLE,
            "vintage": V2025,
            "rows": len(data),
            "source": "CBS StatLine 85984NED TypedDataSet as fetched in April 2025 via cbsodata "
            "(github.com/dertje/cbs_datasets, commit fda6426); truncated at the 10,000-row "
            "OData page by that script, so it holds Nederland + 171 complete gemeenten "
            "(Aa en Hunze .. Losser). DataProperties/TableInfos: the real ones of that release "
            "(github.com/niquedegraaff/Wikipedia-Generator-CBS-Kerncijfers-Wijken-en-Buurten, 5598198).",
            "region_column": "WijkenEnBuurten holds labels (cbsodata.get_data replaces "
            "dimension keys by titles); "
            "the code is Codering_3, space padded.",
            "null_meaning": "null = blank in StatLine (not applicable, or not yet published when the whole "
            "column is empty); '.' = unknown, unreliable or secret.",
            "licence": "CC BY 4.0, (c) CBS",
        },
    )

    # Vintage 2: the 2026 revision, 18 KWB keys, all NL (342 GM / 3,393 WK / 14,574 BU).
    sel = pd.read_csv(
        shared / "kwb2024_all_buurten_woonikveilig" / "kwb2024_selection_gm_wk_bu.csv",
        dtype=str,
        keep_default_na=False,
    )
    # Non-KWB columns (crime, health) also end in digits (misdrijven_2021): keep the KWB keys only.
    kwb_keys = [
        c for c in sel.columns if re.search(r"_\d+$", c) and not c.startswith(("misdrijven_", "pct_"))
    ]
    by_stem = {_stem(p["Key"]): p for p in props_2025 if p.get("Type") == "Topic"}
    props_2026 = [p for p in props_2025 if p.get("Type") == "GeoDetail"]
    props_2026 += [dict(by_stem[_stem(k)]) for k in STRUCTURAL[1:]]
    for key in kwb_keys:
        entry = dict(by_stem[_stem(key)])
        entry["Key"] = key
        entry["Provenance"] = (
            "Key as published in the 2026 revision; Title/Unit/Decimals/Datatype copied from the "
            f"April-2025 DataProperties entry {by_stem[_stem(key)]['Key']} (same key stem): the "
            "revision's own DataProperties are not available offline."
        )
        props_2026.append(entry)
    frame = pd.DataFrame(
        {
            "ID": range(len(sel)),
            "WijkenEnBuurten": sel["naam"],
            "Gemeentenaam_1": sel["gemeentenaam"],
            "SoortRegio_2": sel["level"].map(LEVEL_LABEL),
            "Codering_3": sel["code"],
        }
    )
    for key in kwb_keys:
        # The flattened copy writes counts as floats (243768.0); _typed casts Long back to int.
        frame[key] = sel[key]
    data = _typed(frame, props_2026)
    infos_2026 = [
        {
            "Identifier": TABLE,
            "Title": infos_2025[0]["Title"],
            "Modified": None,
            "Period": "2024",
            "Language": "nl",
            "Catalog": "CBS",
            "Provenance": "Revision of 85984NED as downloaded on 2026-07-19 (peildatum) by "
            "github.com/loukanton/woonikveilig (df5ed99); its TableInfos were not kept, "
            "so Modified is unknown.",
        }
    ]
    _write_vintage(
        V2026,
        data,
        props_2026,
        infos_2026,
        {
            "table_id": TABLE,
            "vintage": V2026,
            "rows": len(data),
            "source": "CBS 85984NED, later revision, 18 KWB keys for all 342 gemeenten / 3,393 wijken / "
            "14,574 buurten, via github.com/loukanton/woonikveilig (commit df5ed99, data/gemeente/*.json "
            "flattened back to OData keys by the collectors of ../shared/cbs).",
            "region_column": "WijkenEnBuurten holds labels; Codering_3 the code (unpadded in this copy); "
            "Gemeentenaam_1/SoortRegio_2 rebuilt from the copy's gemeentenaam/level fields.",
            "null_meaning": "null = missing in the copy; its builder also turned 0 and negative values into "
            "null, so a null here may hide a real 0.",
            "null_may_hide_zero": True,
            "licence": "CC BY 4.0, (c) CBS",
        },
    )

    # Registered crime (Politie via CBS 47022NED) for the same areas: the 'druk' data.
    crime_cols = [c for c in sel.columns if c.startswith("misdrijven_")]
    crime = sel[["code", "level"] + crime_cols].replace({"": None})
    for col in crime_cols:
        crime[col] = pd.to_numeric(crime[col]).astype("Float64")
    (OUT / "extra").mkdir(parents=True, exist_ok=True)
    crime.to_parquet(OUT / "extra" / "misdrijven_47022NED_kwb2024.parquet", compression="zstd", index=False)


def _clean(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = clean(gdf.to_crs(RD))
    # Centimetre precision is far below the source accuracy and roughly halves the file size.
    gdf.geometry = shapely.set_precision(gdf.geometry.values, 0.01)
    return gdf


def build_geometries(shared: Path) -> None:
    out = OUT / "geometries" / "2024"
    out.mkdir(parents=True, exist_ok=True)
    geo = shared / "geo_wijk_2024_gemeente_2019_2024_geoinzicht"

    gm = gpd.read_file(geo / "gemeenten_2024.geojson")[["gemeentecode", "gemeentenaam", "geometry"]]
    gm = gm.rename(columns={"gemeentecode": "code", "gemeentenaam": "name"})
    gm["geometry_source"] = "pdok_wijkenbuurten_2024_simplified"
    _clean(gm).to_parquet(
        out / "gemeente.parquet", compression="zstd", schema_version="1.1.0", write_covering_bbox=True
    )

    wk = gpd.read_file(geo / "wijken_2024_rd.gpkg")[["wijkcode", "wijknaam", "gemeentecode", "geometry"]]
    wk = wk.rename(columns={"wijkcode": "code", "wijknaam": "name", "gemeentecode": "gemeente_code"})
    wk["geometry_source"] = "pdok_wijkenbuurten_2024_simplified"
    _clean(wk).to_parquet(
        out / "wijk.parquet", compression="zstd", schema_version="1.1.0", write_covering_bbox=True
    )

    recon = gpd.read_file(
        shared / "geo_buurt_2024_nl_reconstructed" / "buurten_2024_woonikveilig_reconstructed_rd.gpkg"
    )
    recon = recon.rename(columns={"bu_code": "code", "bu_naam": "name", "gm_code": "gemeente_code"})
    recon["geometry_source"] = "reconstructed_approximate"
    recon.loc[~recon["fit_ok"].astype(bool), "geometry_source"] = "reconstructed_approximate_fit_failed"

    ams = gpd.read_file(
        shared / "geo_buurt_amsterdam_GM0363_2022indeling" / "buurten_amsterdam_gebieden.geojson"
    )
    ams = ams[ams["eindGeldigheid"].isna()].drop(columns="code")  # municipal code, not CBS
    ams = ams.rename(columns={"cbsCode": "code", "naam": "name"})
    ams["geometry_source"] = "municipal_amsterdam_full_detail"
    baarn = gpd.read_file(shared / "subset_baarn_GM0308_buurten_2024_pdok" / "baarn_buurten.geojson")
    baarn = baarn.rename(columns={"buurtcode": "code", "buurtnaam": "name"})
    baarn["geometry_source"] = "pdok_wijkenbuurten_2024_full_detail"
    ehv = gpd.read_file(shared / "geo_buurt_eindhoven_GM0772_2023" / "eindhoven_buurten_with_cbs_code.gpkg")
    ehv = ehv.rename(columns={"bu_code": "code", "buurtnaam": "name"})
    ehv["geometry_source"] = "municipal_eindhoven_full_detail"

    detail = pd.concat(
        [g.to_crs(RD)[["code", "name", "geometry_source", "geometry"]] for g in (ams, baarn, ehv)]
    )
    # Only replace a reconstructed buurt by a full-detail one with the same 2024 code.
    detail = detail[detail["code"].isin(recon["code"])]
    keep = recon[~recon["code"].isin(detail["code"])]
    detail = detail.merge(recon[["code", "gemeente_code"]], on="code")
    bu = pd.concat(
        [keep[["code", "name", "gemeente_code", "geometry_source", "geometry"]], detail], ignore_index=True
    )
    bu = gpd.GeoDataFrame(bu, geometry="geometry", crs=RD).sort_values("code", ignore_index=True)
    _clean(bu).to_parquet(
        out / "buurt.parquet", compression="zstd", schema_version="1.1.0", write_covering_bbox=True
    )
    print(bu["geometry_source"].value_counts().to_string())

    # 2019: the other real year with all-NL gemeente and buurt boundaries (for crosswalks).
    out19 = OUT / "geometries" / "2019"
    out19.mkdir(parents=True, exist_ok=True)
    gm19 = gpd.read_file(geo / "gemeenten_2019.geojson")[["gemeentecode", "gemeentenaam", "geometry"]]
    gm19 = gm19.rename(columns={"gemeentecode": "code", "gemeentenaam": "name"})
    gm19["geometry_source"] = "pdok_wijkenbuurten_2019_simplified"
    _clean(gm19).to_parquet(
        out19 / "gemeente.parquet", compression="zstd", schema_version="1.1.0", write_covering_bbox=True
    )
    bu19 = gpd.read_file(shared / "geo_buurt_2019_nl_powerbi" / "buurten_nl_2019_rd.gpkg")
    bu19 = bu19.rename(columns={"statcode": "code", "gemeentecode": "gemeente_code"})
    bu19["name"] = None  # the 2019 copy carries codes only
    bu19["geometry_source"] = "pdok_wijkenbuurten_2019_quantised"
    _clean(bu19[["code", "name", "gemeente_code", "geometry_source", "geometry"]]).to_parquet(
        out19 / "buurt.parquet", compression="zstd", schema_version="1.1.0", write_covering_bbox=True
    )


KWB_FILES = OUT / "kwb_files"
#: Columns the re-exporter joined onto the 2021/2022 rows from another table (CBS "Jeugdzorg per
#: wijk"): not part of the KWB download file, left out of the embedded copy.
JOINED_COLUMNS_FROM = "ID"


def build_kwb_files(shared: Path) -> None:
    """KWB 2021/2022 (all NL gemeenten + wijken) and Utrecht 2023 as download files."""
    KWB_FILES.mkdir(parents=True, exist_ok=True)
    src = shared / "kwb2021_2022_wijk_download_format" / "kwb_2021_2022_gm_wk_with_jeugdzorg.csv"
    both = pd.read_csv(src, dtype=str, keep_default_na=False)
    kwb_columns = list(both.columns[: list(both.columns).index(JOINED_COLUMNS_FROM)])
    fmap = load_file_map()
    decimals = dict(zip(fmap["short_name"], fmap["decimals"], strict=True))
    repairs = {}
    for year in ("2021", "2022"):
        rows = both[both["year"] == year][kwb_columns]
        rows, decisions = repair_dropped_decimals(rows, decimals)
        repairs[year] = decisions
        rows.to_csv(KWB_FILES / f"kwb-{year}.csv", sep=";", index=False)
    (KWB_FILES / "REPAIRS.json").write_text(
        json.dumps(
            {
                "source": "semkjaer/capybara1.0 commit 1170206389b07699df3579f8dd18ab95cc1ac7ac data.csv "
                "(../shared/cbs/kwb2021_2022_wijk_download_format)",
                "defect": "decimal separators dropped in the 2021 rows: one-decimal fields 10x too large",
                "rule": "veerkracht.ingest.kwbfile.repair_dropped_decimals with the CBS Decimals of "
                "veerkracht/ingest/kwb_file_map.csv",
                "decisions": repairs,
            },
            indent=1,
        )
    )
    utrecht = shared / "kwb2023_2024_utrecht_download_xlsx" / "CBS-Utrecht-kwb-2023.xlsx"
    (KWB_FILES / "kwb-2023-GM0344-utrecht.xlsx").write_bytes(utrecht.read_bytes())
    # KWB 2021 buurten with income figures (9 gemeenten, complete cases): the only buurt-level
    # income truth offline. Not a year's statistics (it would add 548 buurten without polygons to
    # 2021): the resident-count estimates carry it by code and fit and validate their model on it.
    subset = shared / "kwb2021_buurt_income_subset_9gemeenten" / "kwb2021_buurt_income_subset.csv"
    (OUT / "extra" / "kwb2021_buurt_income_9gemeenten.csv").write_bytes(subset.read_bytes())


def _areas(year: str, level: str) -> pd.DataFrame:
    """(code, name) of the ``level`` areas of an embedded download file."""
    name = {"2021": "kwb-2021.csv", "2022": "kwb-2022.csv", "2023": "kwb-2023-GM0344-utrecht.xlsx"}[year]
    from veerkracht.ingest.kwbfile import read_table

    rows = read_table(KWB_FILES / name)
    rows = rows[rows["recs"].str.strip().str.lower() == level]
    return pd.DataFrame({"code": rows["gwb_code_10"].str.strip(), "name": rows["regio"].str.strip()})


def _write_geo(gdf: gpd.GeoDataFrame, year: int, level: str) -> None:
    folder = OUT / "geometries" / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    known = gdf.geometry.notna()
    gdf = pd.concat([_clean(gdf[known]), gdf[~known]]).sort_values("code", ignore_index=True)
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=RD)
    gdf.to_parquet(folder / f"{level}.parquet", compression="zstd", schema_version="1.1.0")
    print(year, level, gdf["geometry_source"].str.split(":").str[0].value_counts().to_dict())


def build_year_geometries(shared: Path) -> None:
    """Polygons for the areas of 2021, 2022 and Utrecht 2023 (rules in veerkracht/geo/derive.py)."""
    geo = shared / "geo_wijk_2024_gemeente_2019_2024_geoinzicht"
    wk24 = gpd.read_parquet(OUT / "geometries" / "2024" / "wijk.parquet")
    bu19 = gpd.read_parquet(OUT / "geometries" / "2019" / "buurt.parquet")
    wk19 = derive.dissolve_buurten(bu19, "pdok_buurten_2019_quantised_dissolved_by_wijk_code")
    gm_files = {
        2021: (shared / "geo_buurt_2019_nl_powerbi" / "gemeente_2021_wgs84.topojson", "code", "naam"),
        2022: (geo / "gemeenten_2022.geojson", "gemeentecode", "gemeentenaam"),
        2023: (geo / "gemeenten_2023.geojson", "gemeentecode", "gemeentenaam"),
    }
    for year, (path, code, name) in gm_files.items():
        gm = gpd.read_file(path)
        if gm.crs is None:  # the 2021 TopoJSON declares none; it is lon/lat
            gm = gm.set_crs("EPSG:4326")
        gm = gm.rename(columns={code: "code", name: "name"})[["code", "name", "geometry"]]
        gm["geometry_source"] = f"pdok_gemeenten_{year}_simplified"
        gm_year = derive.same_codes(_areas(str(year), "gemeente"), gm.to_crs(RD))
        _write_geo(gm_year, year, "gemeente")
    for year in (2021, 2022):
        wk = derive.boundaries_for(
            _areas(str(year), "wijk"), wk24, wk19, later_year=2024, earlier_year=2019
        ).drop(columns="overlap")
        _write_geo(wk, year, "wijk")
    for level in ("wijk", "buurt"):
        later = gpd.read_parquet(OUT / "geometries" / "2024" / f"{level}.parquet")
        _write_geo(derive.same_codes(_areas("2023", level), later), 2023, level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "cbs")
    parser.add_argument(
        "--only-years", action="store_true", help="only the 2021-2023 files (2024 and 2019 stay as they are)"
    )
    args = parser.parse_args()
    if not args.only_years:
        build_kwb(args.shared)
        build_geometries(args.shared)
    build_kwb_files(args.shared)
    build_year_geometries(args.shared)
    write_sums(OUT)  # what the pipeline checks every embedded file against before using it
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"data/embedded: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
