"""Stored inputs are checked against their hashes before they are used.

Belongs here: verifying the embedded snapshot (``data/embedded/SHA256SUMS`` for geometries and
extracts; each KWB vintage's MANIFEST for its data) and downloaded snapshots (their MANIFEST's
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


@functools.cache
def _sums(root: str) -> dict[str, str]:
    sums = Path(root) / "SHA256SUMS"
    if not sums.is_file():
        return {}
    pairs = (line.split(None, 1) for line in sums.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def verify_embedded(path: Path, embedded_dir: Path) -> None:
    """Raise IntegrityError when ``path`` (under ``embedded_dir``) differs from SHA256SUMS.

    A folder given as ``embedded_dir`` without a SHA256SUMS (a user's own snapshot) is trusted.
    """
    sums = _sums(str(Path(embedded_dir).resolve()))
    if not sums:
        return
    name = str(Path(path).resolve().relative_to(Path(embedded_dir).resolve()))
    expected = sums.get(name)
    if expected is None:
        raise IntegrityError(f"{path} is not listed in {embedded_dir}/SHA256SUMS")
    if sha256(path) != expected:
        raise IntegrityError(
            f"{path} does not match its SHA-256 in {embedded_dir}/SHA256SUMS: it was "
            "changed or damaged; restore it (git checkout data/embedded) before running"
        )


def write_sums(embedded_dir: Path) -> Path:
    """(Re)write ``SHA256SUMS`` for the embedded geometries, extracts and KWB download files (KWB
    OData vintages carry their hash in their MANIFEST). Run by scripts/build_embedded.py after it
    rebuilt the files."""
    root = Path(embedded_dir)
    files = [p for p in root.rglob("*.parquet") if "kwb" not in p.parts]
    files += [p for p in (root / "kwb_files").glob("*") if p.is_file()]
    lines = [f"{sha256(p)}  {p.relative_to(root)}" for p in sorted(files)]
    out = root / "SHA256SUMS"
    out.write_text("\n".join(lines) + "\n")
    _sums.cache_clear()
    return out
