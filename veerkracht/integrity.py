"""Stored inputs are checked against their hashes before they are used.

Belongs here: verifying the embedded snapshot (``data/embedded/SHA256SUMS``: every file of it,
checked as a whole before a run uses any of it) and downloaded snapshots (their MANIFEST's
content hash). A file that was changed, truncated or damaged is an error naming it; a changed
file that is still valid Parquet would otherwise be published silently.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path


class IntegrityError(ValueError):
    """A stored input does not match its recorded hash (changed, truncated or damaged)."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def update_with_frame(digest, frame) -> None:
    """Add a table's column names and values (not its index) to the running hash ``digest``: the
    keys of what is made from tables (staged statistics, resident estimates) hash them so."""
    import pandas as pd  # where a key is made: checking files needs no pandas

    digest.update("\0".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())


def _sums_of(root: str) -> dict[str, str]:
    sums = Path(root) / "SHA256SUMS"
    if not sums.is_file():
        return {}
    pairs = (line.split(None, 1) for line in sums.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def _files(root: Path) -> list[Path]:
    """Every file of a snapshot folder but the checksum list itself (and Python's caches)."""
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.name != "SHA256SUMS" and "__pycache__" not in p.parts
    )


@functools.cache
def _verified(root: str, signature: tuple) -> None:
    """Hash every file of the snapshot once per state of its files (``signature``: names, sizes
    and modification times; a changed file changes it)."""
    sums = _sums_of(root)
    base = Path(root)
    present = {p.relative_to(base).as_posix(): p for p in _files(base)}  # one walk of the folder
    problems = []
    for name, p in present.items():
        if name not in sums:
            problems.append(f"{name} is not listed in SHA256SUMS")
        elif sha256(p) != sums[name]:
            problems.append(f"{name} does not match its SHA-256")
    problems += [f"{name} is missing" for name in sorted(set(sums) - set(present))]
    if problems:
        raise IntegrityError(
            f"The snapshot {root} is changed or damaged ({'; '.join(problems)}): restore it "
            "(git checkout data/embedded, or reinstall) before running"
        )


def verify_snapshot(embedded_dir: Path) -> None:
    """Raise IntegrityError unless every file of the snapshot matches ``SHA256SUMS`` and every
    listed file is there: the whole snapshot, so a damaged file of any year (a KWB download file,
    a vintage's DataProperties.json, a geometry) stops a run before it publishes anything.

    A folder without a SHA256SUMS (a user's own snapshot) is trusted.
    """
    root = str(Path(embedded_dir).resolve())
    if not _sums_of(root):
        return
    signature = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in _files(Path(root)))
    _verified(root, signature)


def verify_embedded(path: Path, embedded_dir: Path) -> None:
    """Raise IntegrityError when the snapshot ``path`` belongs to is changed or damaged
    (:func:`verify_snapshot`), or ``path`` is not part of it."""
    verify_snapshot(embedded_dir)
    root = Path(embedded_dir).resolve()
    sums = _sums_of(str(root))
    if sums and Path(path).resolve().relative_to(root).as_posix() not in sums:
        raise IntegrityError(f"{path} is not listed in {embedded_dir}/SHA256SUMS")


def write_sums(embedded_dir: Path) -> Path:
    """(Re)write ``SHA256SUMS`` over every file of the embedded snapshot (data, each vintage's
    DataProperties, TableInfos and MANIFEST, the download files, the README). Run by
    scripts/build_embedded.py after it rebuilt the files."""
    root = Path(embedded_dir)
    lines = [f"{sha256(p)}  {p.relative_to(root).as_posix()}" for p in _files(root)]
    out = root / "SHA256SUMS"
    out.write_text("\n".join(lines) + "\n")
    _verified.cache_clear()
    return out
