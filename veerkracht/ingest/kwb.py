"""KWB ingest for one year: get the snapshots from the chosen source, stage them as Parquet.

Belongs here: the dispatch to a statistics source of :mod:`veerkracht.sources` (the sources
themselves are :mod:`veerkracht.ingest.embedded` and :mod:`veerkracht.ingest.cbs`), reconciling
indicator keys across vintages (mapping file, units, drift report), polling CBS for revisions,
and writing the harmonised tables the warehouse loads.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from veerkracht import sources
from veerkracht.atomic import atomic_path
from veerkracht.cache import FileCache
from veerkracht.ingest import harmonise
from veerkracht.ingest.canonicals import INDICATOR_MAP
from veerkracht.ingest.cbs_client import CbsDownloadError, CbsEndpoint, table_modified
from veerkracht.ingest.snapshot import KwbSnapshot, Snapshots, list_snapshots, read_snapshot
from veerkracht.integrity import update_with_frame
from veerkracht.registry import table_for_year

OnFailure = Literal["use_stored", "fail"]


def kwb_snapshots(
    year: int,
    source: str,
    *,
    embedded_dir: Path,
    raw_dir: Path,
    endpoint: CbsEndpoint = CbsEndpoint(),
    on_failure: OnFailure = "use_stored",
    kwb_file: str | Path | None = None,
) -> Snapshots:
    """All snapshots (vintages) of ``year``'s KWB table to combine, oldest first, from ``source``
    (a statistics source of :mod:`veerkracht.sources`: ``embedded``, ``cbs`` or ``file``, see
    their modules; ``kwb_file`` is the download file the ``file`` source reads).
    """
    reader = sources.get("statistics", source).load()
    return reader.snapshots(
        year,
        embedded_dir=embedded_dir,
        raw_dir=raw_dir,
        endpoint=endpoint,
        on_failure=on_failure,
        kwb_file=kwb_file,
    )


def stage_kwb(
    snapshots: list[KwbSnapshot],
    staging_dir: Path,
    cats: list[pd.DataFrame] | None = None,
    extra: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, int]:
    """Write regions, indicator metadata and long-form values of all vintages as Parquet.

    ``cats``: the vintages' catalogues from :func:`catalogues`, when the caller has them already.
    ``extra``: (indicator rows, value rows) of another source on the same areas, such as the
    crime counts of :mod:`veerkracht.pressure`, staged alongside the KWB values.
    """
    cats = catalogues(snapshots) if cats is None else cats
    regions = [harmonise.regions(snap) for snap in snapshots]
    values = [harmonise.long_values_table(snap, cat) for snap, cat in zip(snapshots, cats, strict=False)]
    extra_cat, extra_values = extra if extra is not None else (pd.DataFrame(), pd.DataFrame())
    if len(extra_values.columns):
        extra_table = pa.Table.from_pandas(extra_values[harmonise.LONG_SCHEMA.names], preserve_index=False)
        values.append(extra_table.cast(harmonise.LONG_SCHEMA))
    tables = {
        "kwb_region": pd.concat(regions, ignore_index=True),
        "kwb_indicator": pd.concat([*cats, extra_cat], ignore_index=True),
        "kwb_value": pa.concat_tables(values) if values else harmonise.LONG_SCHEMA.empty_table(),
    }
    # Write all three, then rename them into place: a failure part-way leaves the previous
    # staged files as they were.
    with ExitStack() as stack:
        for name, frame in tables.items():
            tmp = stack.enter_context(atomic_path(Path(staging_dir) / f"{name}.parquet"))
            if isinstance(frame, pa.Table):
                # Without the Arrow schema: readers get the text columns as text, as pandas wrote
                # them, not as dictionaries (pandas would make them categoricals).
                pq.write_table(frame, tmp, compression="zstd", store_schema=False)
            else:
                frame.to_parquet(tmp, compression="zstd", index=False)
    return {name: len(frame) for name, frame in tables.items()}


#: The files :func:`stage_kwb` writes, and how many of them the cache keeps (the ones used last:
#: three a year and source, ~10 MB for KWB 2024).
STAGED = ("kwb_region", "kwb_indicator", "kwb_value")
KEEP_STAGED = 48


def staging_key(
    snapshots: list[KwbSnapshot], extra: tuple[pd.DataFrame, pd.DataFrame] | None, code: str
) -> str:
    """What :func:`stage_kwb` makes its files from, as one hash: every vintage's table, metadata
    and manifest, the other source's rows and ``code`` (the code version, which covers the
    mapping files and the harmonisation). Equal keys, equal staged files."""
    digest = hashlib.sha256(f"staged-kwb-v1|{code}".encode())
    for snap in snapshots:
        meta = [snap.table_id, snap.vintage, snap.data_properties, snap.table_infos, snap.manifest]
        digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
        update_with_frame(digest, snap.data)
    for frame in extra or ():
        update_with_frame(digest, frame)
    return digest.hexdigest()[:24]


class _NotCached(Exception):
    """A cached staged file was damaged: the three are staged again."""


def stage_kwb_cached(
    snapshots: list[KwbSnapshot],
    staging_dir: Path,
    cats: list[pd.DataFrame],
    extra: tuple[pd.DataFrame, pd.DataFrame] | None,
    cache: FileCache | None,
    code: str,
) -> tuple[dict[str, int], str]:
    """:func:`stage_kwb`, or its three files copied from ``cache`` when another output folder
    staged the same snapshots with the same code (:func:`staging_key`); the counts and how
    (``staged`` or ``from the cache``). Copied files are renamed into place together, as
    staged ones are; what was staged is kept in the cache."""
    if cache is None:
        return stage_kwb(snapshots, staging_dir, cats, extra=extra), "staged"
    key = staging_key(snapshots, extra, code)
    names = {name: f"{key}_{name}.parquet" for name in STAGED}
    files = {name: Path(staging_dir) / f"{name}.parquet" for name in STAGED}
    with cache.making(names[STAGED[0]]):  # one run at a time stages them; the next copies them
        if all(cache.has(n) for n in names.values()):
            try:
                with ExitStack() as stack:
                    partial = {name: stack.enter_context(atomic_path(files[name])) for name in STAGED}
                    for name in STAGED:
                        if not cache.fetch(names[name], partial[name]):
                            raise _NotCached(name)  # nothing is renamed into place
                return {name: pq.read_metadata(files[name]).num_rows for name in STAGED}, "from the cache"
            except _NotCached:
                pass
        counts = stage_kwb(snapshots, staging_dir, cats, extra=extra)
        for name in STAGED:
            cache.keep(files[name], names[name])
    return counts, "staged"


def catalogues(snapshots: list[KwbSnapshot], mapping: pd.DataFrame | None = None) -> list[pd.DataFrame]:
    """Indicator catalogue of every vintage, reconciled across vintages.

    Canonical names come from the mapping file where it lists the (table, vintage, key), else
    from the key stem. A key whose unit differs from the newest vintage's unit for the same
    canonical name is *not* combined with it: it gets the canonical name
    ``<canonical>__unit_<unit>`` so values in different units never mix.
    """
    mapping = load_indicator_map() if mapping is None else mapping
    cats = []
    for snap in snapshots:
        cat = harmonise.indicator_catalogue(snap.data_properties)
        rows = mapping[(mapping["table_id"] == snap.table_id) & (mapping["vintage"] == snap.vintage)]
        mapped = dict(zip(rows["source_key"], rows["canonical"], strict=False))
        cat["mapped"] = cat["source_key"].isin(mapped)
        cat["canonical"] = [
            mapped.get(k, c) for k, c in zip(cat["source_key"], cat["canonical"], strict=False)
        ]
        cats.append(cat.assign(table_id=snap.table_id, vintage=snap.vintage))
    newest_unit: dict[str, str] = {}
    for cat in reversed(cats):
        for canonical, unit in zip(cat["canonical"], cat["unit"], strict=False):
            newest_unit.setdefault(canonical, unit)
    for cat in cats:
        clash = [newest_unit[c] != u for c, u in zip(cat["canonical"], cat["unit"], strict=False)]
        cat.loc[clash, "canonical"] = [
            f"{c}__unit_{harmonise.slug(u)}"
            for c, u in zip(cat.loc[clash, "canonical"], cat.loc[clash, "unit"], strict=False)
        ]
    return cats


def drift_report(cats: list[pd.DataFrame]) -> list[dict]:
    """What changed between consecutive vintages, per canonical indicator.

    ``change`` is one of ``key_renamed`` (same indicator, other OData key: the numeric suffix
    drifted), ``appeared``, ``vanished``, ``title_changed`` or ``unit_changed`` (the two are
    kept apart, see :func:`catalogues`).
    """
    out = []
    for old, new in zip(cats, cats[1:], strict=False):
        a, b = old.set_index("canonical"), new.set_index("canonical")
        pair = f"{old['vintage'].iat[0]} -> {new['vintage'].iat[0]}"

        def row(canonical, change, old_value=None, new_value=None, a=a, b=b, pair=pair):
            out.append(
                {
                    "vintages": pair,
                    "canonical": canonical,
                    "change": change,
                    "old_key": a.at[canonical, "source_key"] if canonical in a.index else None,
                    "new_key": b.at[canonical, "source_key"] if canonical in b.index else None,
                    "old": old_value,
                    "new": new_value,
                }
            )

        for canonical in sorted(set(a.index) - set(b.index)):
            base = canonical.split("__unit_")[0]
            if base != canonical and base in b.index:
                row(canonical, "unit_changed", a.at[canonical, "unit"], b.at[base, "unit"])
            else:
                row(canonical, "vanished")
        renamed_units = {c.split("__unit_")[0] for c in a.index if "__unit_" in c}
        for canonical in sorted(set(b.index) - set(a.index) - renamed_units):
            row(canonical, "appeared")
        for canonical in sorted(set(a.index) & set(b.index)):
            if a.at[canonical, "source_key"] != b.at[canonical, "source_key"]:
                row(canonical, "key_renamed", a.at[canonical, "source_key"], b.at[canonical, "source_key"])
            if a.at[canonical, "title"] != b.at[canonical, "title"]:
                row(canonical, "title_changed", a.at[canonical, "title"], b.at[canonical, "title"])
    return out


MAP_COLUMNS = ["table_id", "vintage", "source_key", "canonical", "title", "unit"]


def load_indicator_map(path: Path = INDICATOR_MAP) -> pd.DataFrame:
    """The reviewed key -> canonical indicator mapping (per table and vintage)."""
    if not Path(path).is_file():
        return pd.DataFrame(columns=MAP_COLUMNS)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def derive_indicator_map(snapshots: list[KwbSnapshot]) -> pd.DataFrame:
    """The mapping harmonisation derives for ``snapshots`` (to write or to review a diff)."""
    cats = catalogues(snapshots, pd.DataFrame(columns=MAP_COLUMNS))
    return pd.concat(cats)[MAP_COLUMNS].sort_values(["table_id", "vintage", "source_key"], ignore_index=True)


@dataclass(frozen=True)
class Revision:
    """A KWB table whose live ``TableInfos.Modified`` differs from the newest stored download."""

    year: int
    table_id: str
    modified: str
    stored: str | None


def find_revisions(
    years: list[int], raw_dir: Path, endpoint: CbsEndpoint
) -> tuple[list[Revision], dict[int, str]]:
    """Poll TableInfos of each year's table; return the revised ones and per-year errors.

    KWB tables are revised in phases (income and benefits arrive months after population), and
    each revision changes ``Modified``; comparing it with the stored snapshots needs no cursor.
    """
    revisions, errors = [], {}
    for year in years:
        table_id = table_for_year(year)
        try:
            modified = table_modified(table_id, endpoint)
        except CbsDownloadError as exc:
            errors[year] = str(exc)
            continue
        stored = None
        folders = list_snapshots(raw_dir, table_id)
        if folders:
            infos = read_snapshot(folders[-1]).table_infos
            stored = infos[0].get("Modified") if infos else None
        if modified and modified != stored:
            revisions.append(Revision(year, table_id, modified, stored))
    return revisions, errors
