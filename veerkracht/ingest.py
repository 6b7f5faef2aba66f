"""KWB ingest for one year: pick the source, get the snapshots, stage them as Parquet.

Belongs here: the decision *where* a year's statistics come from (``embedded`` or ``cbs``) and
writing the harmonised tables the warehouse loads. A ``cbs`` run that cannot reach CBS fails;
it never falls back to the embedded data behind the user's back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from veerkracht import harmonise
from veerkracht.cbs_client import download_kwb
from veerkracht.registry import table_for_year
from veerkracht.snapshot import KwbSnapshot, list_snapshots, read_snapshot, write_snapshot

Source = Literal["embedded", "cbs"]
SOURCES: tuple[str, ...] = ("embedded", "cbs")


def check_source(source: str) -> Source:
    """Return ``source`` if it is known, else raise a ValueError listing the choices."""
    if source not in SOURCES:
        raise ValueError(f"Unknown KWB source {source!r}; choose one of {', '.join(SOURCES)}")
    return source  # type: ignore[return-value]


def kwb_snapshots(year: int, source: Source, *, embedded_dir: Path, raw_dir: Path,
                  catalog_url: str = "opendata.cbs.nl", use_https: bool = True,
                  timeout: float = 60.0) -> list[KwbSnapshot]:
    """All snapshots (vintages) of ``year``'s KWB table to combine, oldest first.

    ``embedded``: the vintages shipped in ``embedded_dir/kwb``. ``cbs``: download the current
    table, store it as a new immutable snapshot under ``raw_dir`` (earlier downloads are kept:
    CBS publishes a year's table in phases), and return every stored vintage.
    """
    table_id = table_for_year(year)
    check_source(source)
    if source == "cbs":
        write_snapshot(download_kwb(table_id, catalog_url=catalog_url, use_https=use_https,
                                    timeout=timeout), raw_dir)
        folders = list_snapshots(raw_dir, table_id)
    else:
        folders = list_snapshots(Path(embedded_dir) / "kwb", table_id)
        if not folders:
            raise FileNotFoundError(
                f"The embedded snapshot has no KWB {year} ({table_id}) under {embedded_dir}/kwb; "
                "run with source 'cbs' to download it")
    return [read_snapshot(f) for f in folders]


def stage_kwb(snapshots: list[KwbSnapshot], staging_dir: Path) -> dict[str, int]:
    """Write regions, indicator metadata and long-form values of all vintages as Parquet."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    regions, values, catalogues = [], [], []
    for snap in snapshots:
        cat = harmonise.indicator_catalogue(snap.data_properties)
        catalogues.append(cat.assign(table_id=snap.table_id, vintage=snap.vintage))
        regions.append(harmonise.regions(snap))
        values.append(harmonise.long_values(snap, cat))
    tables = {
        "kwb_region": pd.concat(regions, ignore_index=True),
        "kwb_indicator": pd.concat(catalogues, ignore_index=True),
        "kwb_value": pd.concat(values, ignore_index=True).astype({"null_reason": "string"}),
    }
    for name, frame in tables.items():
        frame.to_parquet(staging_dir / f"{name}.parquet", compression="zstd", index=False)
    return {name: len(frame) for name, frame in tables.items()}


def drift_report(snapshots: list[KwbSnapshot]) -> list[dict]:
    """Canonical indicators whose OData key, title or unit differs between vintages."""
    cats = [harmonise.indicator_catalogue(s.data_properties).assign(vintage=s.vintage) for s in snapshots]
    if len(cats) < 2:
        return []
    allcat = pd.concat(cats)
    out = []
    for canonical, g in allcat.groupby("canonical"):
        keys, titles, units = set(g["source_key"]), set(g["title"]), set(g["unit"])
        if len(keys) > 1 or len(titles) > 1 or len(units) > 1 or len(g) < len(cats):
            out.append({"canonical": canonical,
                        "keys": "; ".join(f"{v}={k}" for v, k in zip(g["vintage"], g["source_key"])),
                        "in_vintages": len(g), "title_changed": len(titles) > 1,
                        "unit_changed": len(units) > 1})
    return out
