"""Helper processes (veerkracht/helpers.py): a piece handed to a worker gives what it gives in the
step's own process (with the same garbage-collector thresholds), an error comes back as the same
error, a worker does not outlive a run that was killed (SIGKILL: the pool cannot tell it to
stop), and work done ahead runs in a process of its own at the lowest priority, only where the run
has workers, and stops when the helpers close."""

from __future__ import annotations

import gc
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from dagster._utils.error import serializable_error_info_from_exc_info
from testpaths import REPO

from pipelines import GC_THRESHOLDS
from pipelines.summary import failure_message
from veerkracht.helpers import AHEAD_NICE, Helpers


def test_a_piece_gives_the_same_in_a_worker_and_here():
    helpers = Helpers(1, preload=())
    try:
        assert helpers.submit(math.comb, 40, 7).result(timeout=60) == math.comb(40, 7)
        assert os.getpid() != helpers.submit(os.getpid).result(timeout=60)  # it did run elsewhere
        # With the collector's thresholds of the process that started it (pipelines/__init__.py).
        assert helpers.submit(gc.get_threshold).result(timeout=60) == gc.get_threshold() == GC_THRESHOLDS
        with pytest.raises(ValueError, match="must be a non-negative integer") as raised:
            helpers.submit(math.comb, -1, 2).result(timeout=60)
        # The command's failure line names the error, not the traceback the worker sent with it.
        error = serializable_error_info_from_exc_info((raised.type, raised.value, raised.value.__traceback__))
        assert error.cause.cls_name == "_RemoteTraceback"
        assert failure_message(error) == "n must be a non-negative integer"
    finally:
        helpers.close()
    here = Helpers(0)
    assert here.submit(os.getpid).result() == os.getpid()
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        here.submit(math.comb, -1, 2).result()


def _write_after(path: str, seconds: float) -> tuple[int, int]:
    time.sleep(seconds)
    with open(path, "w") as f:
        f.write("done")
    return os.getpid(), os.nice(0)


def _size(cache: dict) -> int:
    return len(cache)


def test_a_piece_gets_its_arguments_as_they_were_when_it_was_handed_over():
    # The validation hands a worker its matching and goes on filling that matching's cache: the
    # worker gets the cache as it was (pickled at once), never a failed pickle ("dictionary changed
    # size during iteration": 63 of 100 rounds like these when the pool's thread pickled later).
    frame = pd.DataFrame({"code": [f"WK{i:06d}" for i in range(3000)], "value": range(3000)})
    helpers = Helpers(1, preload=())
    try:
        for _ in range(20):
            cache = {k: frame.copy() for k in range(50)}
            handed = helpers.submit(_size, cache)
            for k in range(50, 150):
                cache[k] = frame.copy()
            assert handed.result(timeout=60) == 50
        ahead = helpers.ahead(_size, cache)
        cache[150] = frame
        assert ahead.result(timeout=60) == 150
    finally:
        helpers.close()


def test_work_ahead_runs_at_the_lowest_priority_and_stops_with_the_run(tmp_path):
    # SIGTERM ignored, as in a run started where SIGINT is ignored (a background job) once Dagster
    # has mapped SIGTERM to SIGINT's handler: the workers inherit it, and must still be stopped.
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    done = tmp_path / "done"
    helpers = None
    try:
        helpers = Helpers(1, preload=())
        assert helpers.can_work_ahead
        ahead = helpers.ahead(_write_after, str(done), 1.0)
        assert not done.exists()  # beside the caller, which goes on
        # At the lowest priority it may wait long for a core where the suite's other worker is busy.
        pid, nice = ahead.result(timeout=600)
        assert done.read_text() == "done"
        assert pid != os.getpid() and nice == min(19, os.nice(0) + AHEAD_NICE)
        # Work no step waited for when the run ends (a failed run's): stopped, not waited for.
        unfinished = helpers.ahead(_write_after, str(tmp_path / "late"), 120)
        while not unfinished.running():
            time.sleep(0.05)
        started = time.monotonic()
    finally:
        if helpers is not None:
            helpers.close()
        signal.signal(signal.SIGTERM, before)
    assert time.monotonic() - started < 30 and not (tmp_path / "late").exists()
    assert not _alive(pid), "the process working ahead outlived the run"
    # Without workers (a step process of the multiprocess executor): nothing runs ahead.
    here = Helpers(0)
    assert not here.can_work_ahead and here.ahead(_write_after, str(tmp_path / "no"), 0) is None
    here.close()
    assert not (tmp_path / "no").exists()


def test_a_worker_leaves_with_its_killed_parent(tmp_path):
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, sys, time
                from veerkracht.helpers import Helpers
                if __name__ == "__main__":
                    helpers = Helpers(1, preload=())
                    print(helpers.submit(os.getpid).result(timeout=60), flush=True)
                    helpers.submit(time.sleep, 600)  # busy when the run is killed
                    time.sleep(600)
                """
            ),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.1)
    assert not _alive(worker), f"worker {worker} outlived its killed parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
