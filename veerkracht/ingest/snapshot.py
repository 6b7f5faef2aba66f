"""Immutable KWB snapshots on disk: one folder per table and vintage.

A snapshot is what one cbsodata download returns (TypedDataSet, DataProperties, TableInfos)
plus a manifest with the download time and a content hash. Snapshots are written once, into a
temporary folder that is renamed into place, so a failed or killed download never leaves a
half-written snapshot and never touches an older one. The embedded snapshot in
``data/embedded/kwb`` has the same layout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from veerkracht.atomic import partial_dir, sweep_stale
from veerkracht.integrity import IntegrityError, sha256


@dataclass(frozen=True)
class KwbSnapshot:
    """One vintage of one KWB table, as downloaded.

    ``data`` has one row per region and the table's OData keys as columns; ``vintage`` is the
    release date (TableInfos ``Modified``) or the download date when CBS gives none.
    """

    table_id: str
    vintage: str
    data: pd.DataFrame
    data_properties: list[dict]
    table_infos: list[dict]
    manifest: dict = field(default_factory=dict)

    @property
    def null_may_hide_zero(self) -> bool:
        """True for copies whose builder turned 0 into null (see the manifest's null_meaning)."""
        return bool(self.manifest.get("null_may_hide_zero", False))


@dataclass(frozen=True)
class Snapshots:
    """The vintages to combine for one year, and how they were obtained."""

    snapshots: list[KwbSnapshot]
    #: Set when a ``cbs`` download failed and stored snapshots were used instead.
    download_error: str | None = None
    #: Stored snapshots that failed their hash check and were moved aside.
    quarantined: list[str] = field(default_factory=list)


def read_snapshot(folder: Path) -> KwbSnapshot:
    """Read a snapshot folder, after checking its files against the MANIFEST's hashes (a changed,
    truncated or damaged snapshot raises :class:`~veerkracht.integrity.IntegrityError`)."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "MANIFEST.json").read_text())
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{folder}: MANIFEST.json unreadable ({exc})") from exc
    if "sha256" in manifest:  # a download: the hash of its three files
        if _content_hash(folder) != manifest["sha256"]:
            raise IntegrityError(
                f"{folder} does not match the SHA-256 in its MANIFEST.json (changed or truncated)"
            )
    elif "sha256_TypedDataSet" in manifest:  # the embedded snapshot: the hash of its data file
        if sha256(folder / "TypedDataSet.parquet") != manifest["sha256_TypedDataSet"]:
            raise IntegrityError(
                f"{folder}/TypedDataSet.parquet does not match the SHA-256 in its MANIFEST.json"
            )
    try:
        return KwbSnapshot(
            table_id=manifest["table_id"],
            vintage=manifest["vintage"],
            data=pd.read_parquet(folder / "TypedDataSet.parquet"),
            data_properties=json.loads((folder / "DataProperties.json").read_text()),
            table_infos=json.loads((folder / "TableInfos.json").read_text()),
            manifest=manifest,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise IntegrityError(f"{folder}: unreadable snapshot ({exc})") from exc


def quarantine(folder: Path, reason: str) -> Path:
    """Move a bad snapshot folder aside (``.quarantine-<vintage>-<time>``, never listed again) so
    the next run goes on with the good ones; the folder is kept for inspection."""
    folder = Path(folder)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    target = folder.with_name(f".quarantine-{folder.name}-{stamp}")
    os.replace(folder, target)
    (target / "QUARANTINED.txt").write_text(reason + "\n")
    return target


def list_snapshots(root: Path, table_id: str) -> list[Path]:
    """Complete snapshot folders of ``table_id`` under ``root``, oldest vintage first."""
    base = Path(root) / table_id
    if not base.is_dir():
        return []
    # ".partial-…" folders are downloads still being written, or left by a killed run.
    return sorted(p for p in base.iterdir() if not p.name.startswith(".") and (p / "MANIFEST.json").is_file())


def write_snapshot(snapshot: KwbSnapshot, root: Path) -> Path:
    """Write ``snapshot`` under ``root/<table>/<vintage>`` atomically and return the folder.

    An existing folder for the same vintage is kept when its content hash is the same (a
    re-download of an unchanged table); a changed table under the same vintage label gets a
    ``-<hash prefix>`` suffix so earlier snapshots stay immutable.
    """
    base = Path(root) / snapshot.table_id
    base.mkdir(parents=True, exist_ok=True)
    sweep_stale(base)
    tmp = partial_dir(base, snapshot.vintage)
    try:
        snapshot.data.to_parquet(tmp / "TypedDataSet.parquet", compression="zstd", index=False)
        (tmp / "DataProperties.json").write_text(json.dumps(snapshot.data_properties, ensure_ascii=False))
        (tmp / "TableInfos.json").write_text(json.dumps(snapshot.table_infos, ensure_ascii=False))
        digest = _content_hash(tmp)
        manifest = {
            **snapshot.manifest,
            "table_id": snapshot.table_id,
            "vintage": snapshot.vintage,
            "rows": len(snapshot.data),
            "sha256": digest,
        }
        (tmp / "MANIFEST.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
        target = base / snapshot.vintage
        if target.exists():
            if json.loads((target / "MANIFEST.json").read_text()).get("sha256") == digest:
                shutil.rmtree(tmp)
                return target
            target = base / f"{snapshot.vintage}-{digest[:8]}"
        os.replace(tmp, target)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _content_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("TypedDataSet.parquet", "DataProperties.json", "TableInfos.json"):
        h.update((folder / name).read_bytes())
    return h.hexdigest()
