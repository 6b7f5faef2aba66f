"""Statistics source ``file``: CBS's KWB download files (``kwb-YYYY.xls``, ``.xlsx``, ``.csv``).

Belongs here: reading a download file as CBS publishes it (short column names such as ``a_inw``
and ``p_hh_lkk``, ``.`` for "not published", one row per region with ``recs`` Land, Gemeente,
Wijk or Buurt), translating the short names to our canonical indicators with the reviewed table
``kwb_file_map.csv``, and turning the file into a :class:`~veerkracht.ingest.snapshot.KwbSnapshot`
so that the rest of the pipeline cannot tell it from an OData download. Columns the table does not
know are reported (``manifest["unknown_columns"]``), never silently dropped into the score.

Also here: :func:`repair_dropped_decimals`, for re-exports that lost their decimal separators
(the KWB 2021 copy in ``../shared/cbs``), decided per field from the concept's CBS ``Decimals``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from veerkracht.ingest.snapshot import KwbSnapshot, Snapshots
from veerkracht.registry import year_info

FILE_MAP = Path(__file__).with_name("kwb_file_map.csv")
#: Region columns of a download file, and the OData-shaped names they become.
REGION_COLUMNS = {
    "gwb_code_10": "Codering",
    "regio": "WijkenEnBuurten",
    "recs": "SoortRegio",
    "gm_naam": "Gemeentenaam",
}
#: Columns of a download file that are labels or codes, not indicators: read, never scored.
LABEL_COLUMNS = {"gwb_code_8", "gwb_code", "ind_wbi", "pst_mvp", "pst_dekp", "year"}
SUFFIXES = (".csv", ".xlsx", ".xls", ".ods")
RECS = {"land", "gemeente", "wijk", "buurt"}


class KwbFileError(ValueError):
    """A file that is not a KWB download file (or not one we can read), with what is wrong."""


def load_file_map(path: Path = FILE_MAP) -> pd.DataFrame:
    """The reviewed short name -> canonical indicator table (title, unit, CBS decimals, note)."""
    return pd.read_csv(path, dtype={"decimals": int}, keep_default_na=False)


def read_table(path: Path) -> pd.DataFrame:
    """Every cell of a download file as text (xls/xlsx/ods via calamine, csv with ; or ,)."""
    path = Path(path)
    if not path.is_file():
        raise KwbFileError(f"No KWB download file at {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise KwbFileError(f"{path}: not a KWB download file type ({', '.join(SUFFIXES)})")
    try:
        if suffix == ".csv":
            text = _decode(path.read_bytes())
            # CBS writes ';' (Dutch locale); re-exports often ','. The header line decides.
            header = text.split("\n", 1)[0]
            sep = max(";,\t", key=header.count)
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_excel(path, engine="calamine", dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise KwbFileError(f"{path}: unreadable as a KWB download file ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else Latin-1 (older CBS csv files)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass(frozen=True)
class FileContents:
    """What a download file holds, before it becomes a snapshot."""

    mapped: dict[str, str]  # short name -> canonical
    unknown: list[str]
    levels: dict[str, int]


def to_snapshot(frame: pd.DataFrame, year: int, *, name: str, sha256: str) -> KwbSnapshot:
    """A KWB download file's rows as a snapshot of ``year``'s KWB table (canonical keys).

    Raises :class:`KwbFileError` when the region columns are missing or ``recs`` holds other
    values than Land/Gemeente/Wijk/Buurt. Values stay text here; ``.`` and blanks become NULL with
    their reason (``suppressed``, ``empty``) in :func:`veerkracht.ingest.harmonise.parse_values`.
    """
    fmap = load_file_map()
    code_col = "gwb_code_10" if "gwb_code_10" in frame else "gwb_code" if "gwb_code" in frame else None
    missing = [c for c in ("regio", "recs") if c not in frame]
    if code_col is None or missing:
        raise KwbFileError(
            f"{name}: not a KWB download file: no {', '.join(missing or ['gwb_code_10'])} column "
            f"(first columns: {list(frame.columns[:6])})"
        )
    recs = frame["recs"].str.strip().str.lower()
    bad = sorted(set(recs) - RECS)
    if bad:
        raise KwbFileError(f"{name}: recs holds {bad}; expected Land, Gemeente, Wijk or Buurt")
    contents = describe(frame, fmap)
    data = pd.DataFrame(
        {
            "Codering": frame[code_col].str.strip(),
            "WijkenEnBuurten": frame["regio"].str.strip(),
            "SoortRegio": recs.str.capitalize(),
            "Gemeentenaam": frame["gm_naam"].str.strip() if "gm_naam" in frame else pd.NA,
        }
    )
    values = frame[list(contents.mapped)].rename(columns=contents.mapped)
    data = pd.concat([data, values], axis=1)
    rows = fmap.set_index("short_name").loc[list(contents.mapped)]
    props = [
        {
            "ID": i,
            "Key": r.canonical,
            "Type": "Topic",
            "Title": r.title,
            "Unit": r.unit,
            "Decimals": int(r.decimals),
            # Whole numbers (CBS Decimals 0) are Long, as in the OData table: the continuity
            # check compares counts by that.
            "Datatype": "Long" if int(r.decimals) == 0 and r.unit == "aantal" else "Double",
            "Provenance": f"KWB download file column {short} (veerkracht/ingest/kwb_file_map.csv)",
        }
        for i, (short, r) in enumerate(rows.iterrows())
    ]
    table_id = year_info(year).kwb_table
    return KwbSnapshot(
        table_id=table_id,
        vintage=f"file-{sha256[:12]}",
        data=data,
        data_properties=props,
        table_infos=[{"Identifier": table_id, "Title": f"KWB {year} download file {name}", "Modified": None}],
        manifest={
            "source": "file",
            "file": name,
            "sha256": sha256,
            "year": int(year),
            "unknown_columns": contents.unknown,
            "rows_per_level": contents.levels,
        },
    )


def describe(frame: pd.DataFrame, fmap: pd.DataFrame | None = None) -> FileContents:
    """Which columns the mapping knows (short -> canonical), which it does not, rows per level."""
    fmap = load_file_map() if fmap is None else fmap
    known = dict(zip(fmap["short_name"], fmap["canonical"], strict=True))
    skip = set(REGION_COLUMNS) | LABEL_COLUMNS
    mapped = {c: known[c] for c in frame.columns if c in known}
    unknown = [c for c in frame.columns if c not in known and c not in skip]
    levels = frame["recs"].str.strip().str.lower().value_counts().to_dict() if "recs" in frame else {}
    return FileContents(mapped, unknown, {k: int(v) for k, v in levels.items()})


def read_file(path: Path, year: int) -> KwbSnapshot:
    """Read a KWB download file of ``year`` as a snapshot (see :func:`to_snapshot`)."""
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return to_snapshot(read_table(path), year, name=path.name, sha256=digest)


def snapshots(
    year: int,
    *,
    embedded_dir: Path | None = None,
    raw_dir: Path | None = None,
    endpoint=None,
    on_failure: str = "use_stored",
    kwb_file: str | Path | None = None,
) -> Snapshots:
    """The statistics of ``year`` from the download file ``kwb_file`` (run config ``kwb_file``)."""
    if not kwb_file:
        raise KwbFileError("Source 'file' needs a KWB download file: --kwb-file PATH (run config kwb_file)")
    return Snapshots([read_file(Path(kwb_file), year)])


def repair_dropped_decimals(
    frame: pd.DataFrame, decimals: dict[str, int]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Undo a re-export that dropped decimal separators, per field and per cell.

    ``decimals``: short name -> the concept's CBS ``Decimals``. A field CBS publishes with
    decimals lost its separators when fewer than half of its values carry a fraction: its whole
    numbers are divided by 10**decimals, while the cells that do carry a fraction kept their
    separator and stay (the KWB 2021 copy has one such cell in ``p_ink_li``). A field whose values
    mostly carry fractions was exported right and stays as it is.

    Returns the repaired frame (text cells, like the input) and the decision per field considered.
    """
    out = frame.copy()
    decisions = {}
    for short, dec in decimals.items():
        if dec <= 0 or short not in out:
            continue
        text = out[short].astype("string").str.strip()
        numeric = pd.to_numeric(text.where(~text.isin(["", "."])), errors="coerce")
        present = numeric.dropna()
        if present.empty:
            decisions[short] = "empty"
            continue
        whole = numeric.notna() & (numeric == np.round(numeric))
        if whole.sum() <= len(present) / 2:
            decisions[short] = (
                f"kept ({len(present) - int(whole.sum())} of {len(present)} values carry decimals)"
            )
            continue
        fixed = text.copy()
        fixed[whole] = [f"{v / 10**dec:.{dec}f}" for v in numeric[whole]]
        out[short] = fixed.fillna("")
        decisions[short] = (
            f"divided by {10**dec}: {int(whole.sum())} of {len(present)} values had no fraction"
        )
    return out, decisions
