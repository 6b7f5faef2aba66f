"""Files kept across output folders by a key of what they were made from (the run's ``cache``).

Belongs here: the one way to keep and fetch such a file. What a key hashes is the caller's (the
tiles' :func:`veerkracht.publish.webmap.boundary_key`, the crosswalk's
:func:`veerkracht.geo.crosswalk.input_key`: the inputs and the code version, so equal names mean
equal files). A new output folder on boundaries seen before (another spec, a test, a second
checkout on the same machine) copies the file instead of tiling or overlaying the country again.

The cache is an aid, never a source of truth: a file is checked (``verify``) before it is handed
out, and one that fails is removed and made again; when the cache cannot be written the run goes on
without it; each folder keeps the files used last (``keep``). Runs that need the same file at the
same time make it once (:meth:`FileCache.making`): the others wait and copy it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from veerkracht import locks
from veerkracht.atomic import atomic_path

#: How long a run waits for another run making the same file (the country's tiles take ~10 s on
#: two cores, 30 times as many areas about a minute) before it makes its own.
MAKING_WAIT_S = 600


class FileCache:
    """One kind of file (a subfolder of the cache), at most ``keep`` of them."""

    def __init__(self, folder: Path, keep: int, verify=None):
        self.folder = Path(folder)
        self.keep_last = keep
        self.verify = verify

    @classmethod
    def under(cls, root: str | Path | None, kind: str, keep: int, verify=None) -> FileCache | None:
        """The cache's ``kind`` subfolder under ``root`` (the settings' ``cache_dir``), or None
        where there is no cache (``root`` empty: ``VEERKRACHT_CACHE=off``, no home folder)."""
        return cls(Path(root) / kind, keep=keep, verify=verify) if root else None

    @contextmanager
    def making(self, name: str) -> Iterator[None]:
        """Hold the turn to make ``name``: a run (of any process, any output folder) that needs
        the file while another is making it waits here for it, then finds it with :meth:`fetch`
        instead of making it too (two folders built at once tiled the country twice). The turn
        is an OS file lock, so a killed maker's turn goes with its process; where the cache
        folder cannot hold a lock (read-only, no ``flock``) or a maker takes over
        :data:`MAKING_WAIT_S`, the run makes its own, as before."""
        with ExitStack() as stack:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                stack.enter_context(locks.turn(self.folder / f".{name}.lock", wait=MAKING_WAIT_S))
            except OSError:  # a cache folder that cannot hold a lock file: make our own
                pass
            yield

    def has(self, name: str) -> bool:
        """Whether the cache holds a file ``name`` (not checked yet: :meth:`fetch` checks)."""
        return (self.folder / name).is_file()

    def fetch(self, name: str, target: Path) -> bool:
        """Copy the cached file ``name`` to ``target`` (checked first, written atomically); whether
        there was one."""
        cached = self.folder / name
        if not cached.is_file():
            return False
        try:
            if self.verify is not None:
                self.verify(cached)
        except Exception:  # a damaged copy in the cache: removed, and the file is made again
            cached.unlink(missing_ok=True)
            return False
        try:
            os.utime(cached)  # used last: kept longest (and not pruned by another run meanwhile)
        except OSError:  # pruned by another run since the check
            return False
        # A byte copy of the file just checked (a short write raises); errors writing the target
        # (a full disk, an unwritable folder) are the run's to report.
        with atomic_path(target) as partial:
            shutil.copyfile(cached, partial)
        return True

    def keep(self, path: Path, name: str) -> None:
        """Copy ``path`` (published, so already checked) into the cache as ``name``, then drop
        all but the files used last."""
        try:
            with atomic_path(self.folder / name) as partial:
                shutil.copyfile(path, partial)
            kept = sorted(
                (p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")),
                key=lambda p: -p.stat().st_mtime,
            )
            for old in kept[self.keep_last :]:
                old.unlink(missing_ok=True)
                (self.folder / f".{old.name}.lock").unlink(missing_ok=True)
        except OSError:  # a full or read-only cache folder: the outputs are published without it
            pass
