"""Publishing a file atomically: write it under a temporary name beside the target, rename it.

Belongs here: the one way every stage replaces a file that someone may read (layers, the web
map, the warehouse, staged Parquet, downloads). A failure or kill before the rename leaves the
previous complete file in place; the temporary name keeps the target's extension because GDAL
and DuckDB choose drivers by it, and it starts with ``.partial-`` so leftovers are recognisable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_PREFIX = ".partial-"


def partial_path(target: Path) -> Path:
    """The temporary name of ``target`` while it is being written."""
    target = Path(target)
    return target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}")


def _remove(tmp: Path) -> None:
    # The temporary file and anything a writer put beside it (DuckDB's .wal).
    for path in tmp.parent.glob(f"{tmp.name}*"):
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: Path, verify=None) -> Iterator[Path]:
    """Yield a temporary path (not yet created) to write ``target`` to; rename it into place.

    ``verify(tmp)``, when given, runs before the rename and raises if the file is not what it
    should be, so a damaged file is never published.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(target)
    _remove(tmp)
    try:
        yield tmp
        if verify is not None:
            verify(tmp)
        os.replace(tmp, target)
    finally:
        _remove(tmp)
