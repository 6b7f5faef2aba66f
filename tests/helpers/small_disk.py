"""A small real filesystem (tmpfs) to run out of space on: ENOSPC from the kernel, not a mock."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(where: Path, size_mb: int):
    """Mount a ``size_mb`` tmpfs at ``where`` (root only; skipped with the reason otherwise)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("disk-full tests mount a small tmpfs: they need root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path, leave_bytes: int) -> Path:
    """Fill the filesystem of ``where`` until ``leave_bytes`` are free."""
    stat = os.statvfs(where)
    free = stat.f_bavail * stat.f_frsize
    filler = where / "filler.bin"
    with open(filler, "wb") as f:
        remaining = max(0, free - leave_bytes)
        block = b"\0" * (1 << 20)
        while remaining > 0:
            n = min(len(block), remaining)
            f.write(block[:n])
            remaining -= n
    return filler
