"""Turns between processes: an OS file lock beside what they take turns on.

Belongs here: the one way a process waits for another before it writes something they share (the
build DuckDB file, a file the cache makes). ``flock`` through ``filelock``: a killed holder's lock
goes with its process, never a stale lock file. The lock file is kept (a lock file deleted on
release lets a waiter and a newcomer lock two different files at once), and there is no soft,
file-exists fallback (a killed holder would leave it behind): where the filesystem has no
``flock`` (some network shares), the caller is told and goes ahead without a turn.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

#: What a filesystem without ``flock`` answers (some network shares).
NO_FLOCK = {errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP}


@contextmanager
def turn(
    lock_path: str | Path, wait: float | None = None, on_wait: Callable[[], None] | None = None
) -> Iterator[bool]:
    """Hold the lock ``lock_path`` for the block; yields whether it is held. When another
    process holds it, ``on_wait`` is called once and the block waits for it, for at most ``wait``
    seconds (None: as long as it takes); after that, or on a filesystem without ``flock``, the
    block runs without it (False). Other errors (an unwritable folder) are raised."""
    lock = FileLock(str(lock_path), preserve_lock_file=True, fallback_to_soft=False)
    held = True
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        try:
            lock.acquire(timeout=-1 if wait is None else wait)
        except Timeout:
            held = False
    except OSError as exc:
        if exc.errno not in NO_FLOCK:
            raise
        held = False
    # Yielded outside the handlers: an error of the block is not shown as raised during them.
    try:
        yield held
    finally:
        if held:
            lock.release()
