"""Publishing a file atomically: write it under a temporary name beside the target, rename it.

Belongs here: the one way every stage replaces a file that someone may read (layers, the web
map, the warehouse, staged Parquet, downloads). A failure or kill before the rename leaves the
previous complete file in place; the temporary name keeps the target's extension because GDAL
and DuckDB choose drivers by it, and it is ``.partial-<pid>-<name>``, so the leftovers of a killed
writer are recognised (its process is gone) and removed by the next writer in that folder.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_PREFIX = ".partial-"
log = logging.getLogger(__name__)


def partial_path(target: Path) -> Path:
    """The temporary name of ``target`` while it is being written."""
    target = Path(target)
    return target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}")


def partial_dir(parent: Path, label: str) -> Path:
    """A new temporary folder in ``parent`` for work that is renamed or deleted when done."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{os.getpid()}-{label}-", dir=parent))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (someone else's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove the leftovers of killed writers in ``folder``: ``.partial-<pid>-…`` files and folders
    whose process is gone (a live writer's are kept). Returns what was removed."""
    removed = []
    for path in Path(folder).glob(f"{PARTIAL_PREFIX}*"):
        pid = path.name[len(PARTIAL_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.warning(
            "Removed %d leftovers of killed runs in %s: %s",
            len(removed),
            folder,
            ", ".join(p.name for p in removed),
        )
    return removed


def sweep_tree(root: Path) -> list[Path]:
    """:func:`sweep_stale` in ``root`` and every folder under it (the whole output folder)."""
    root = Path(root)
    if not root.is_dir():
        return []
    folders = [root, *(p for p in root.rglob("*") if p.is_dir() and not p.name.startswith(PARTIAL_PREFIX))]
    return [removed for folder in folders if folder.is_dir() for removed in sweep_stale(folder)]


def _remove(tmp: Path) -> None:
    # The temporary file and anything a writer put beside it (DuckDB's .wal).
    for path in tmp.parent.glob(f"{tmp.name}*"):
        path.unlink(missing_ok=True)


class DiskFullError(OSError):
    """A write ran out of space (ENOSPC); the message names the file and says nothing was published."""

    def __str__(self) -> str:
        return self.strerror  # the message alone: it already says "No space left on device (ENOSPC)"


def is_disk_full(exc: BaseException, where: Path | None = None) -> bool:
    """True for ENOSPC, as the OS raises it, as DuckDB and GDAL word it, or as SQLite does
    (SQLITE_FULL, "database or disk is full": tippecanoe's temporary tile store). GDAL's FlatGeobuf
    writer reports a full disk only as "Unexpected I/O failure": with ``where`` given, such an
    error counts when the file system there has less than 1 MiB free."""
    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return True
        text = str(e).lower() if e is not None else ""
        if "no space left on device" in text or "database or disk is full" in text:
            return True
        if where is not None and "i/o failure" in text and _free_bytes(where) < 2**20:
            return True
    return False


def _free_bytes(where: Path) -> int:
    for folder in (Path(where), *Path(where).parents):
        if folder.exists():
            return shutil.disk_usage(folder).free
    return 2**63


@contextmanager
def atomic_path(target: Path, verify=None) -> Iterator[Path]:
    """Yield a temporary path (not yet created) to write ``target`` to; rename it into place.

    ``verify(tmp)``, when given, runs before the rename and raises if the file is not what it
    should be, so a damaged file is never published.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    tmp = partial_path(target)
    _remove(tmp)
    try:
        yield tmp
        if verify is not None:
            verify(tmp)
        _fsync(tmp)  # the bytes on disk before the name points at them
        os.replace(tmp, target)
        _fsync(target.parent)  # and the rename itself: a power cut could leave an empty file
    except Exception as exc:
        raise_if_disk_full(exc, target)
        raise
    finally:
        _remove(tmp)


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk (a folder is opened read-only)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def raise_if_disk_full(exc: BaseException, target: Path) -> None:
    """Re-raise ``exc`` as a :class:`DiskFullError` naming ``target`` when it is ENOSPC."""
    if is_disk_full(exc, Path(target).parent) and not isinstance(exc, DiskFullError):
        raise DiskFullError(
            errno.ENOSPC,
            f"No space left on device (ENOSPC) while writing {target}; nothing was published, the "
            f"previous {Path(target).name} is untouched. "
            f"Free space under {Path(target).parent} and run again",
        ) from exc
