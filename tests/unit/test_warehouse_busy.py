"""A DuckDB file another process is writing: a clear "busy" error naming the file and the
process, not DuckDB's raw lock message (issue 26.6)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from veerkracht import warehouse

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_a_file_written_by_another_process_is_busy(tmp_path):
    path = tmp_path / "build.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(
            warehouse.WarehouseBusy, match=rf"build.duckdb is busy: another process \(PID {holder.pid}\)"
        ):
            warehouse.connect(path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with warehouse.connection(path) as con:  # free again once the other process is gone
        assert con.execute("SELECT x FROM t").fetchone() == (1,)


TURN = """
import sys
from veerkracht import warehouse
with warehouse.writer_turn(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.read()
"""


def _holder(path):
    holder = subprocess.Popen(
        [sys.executable, "-c", TURN, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_step_waits_for_the_writer_turn_another_process_holds(tmp_path):
    """Steps of two runs into one folder take turns on the build file, whatever Dagster's pool
    let through: the second says it waits, then gets the turn once the first lets go."""
    path = tmp_path / "build.duckdb"
    holder = _holder(path)
    said = []

    def say(line):  # the holder lets go only after we said we wait: we must have waited
        said.append(line)
        holder.stdin.close()

    with warehouse.writer_turn(path, say=say), warehouse.connection(path) as con:
        assert holder.wait(timeout=30) == 0
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert said == ["build.duckdb: another run's step is writing it; waiting for its turn"]


def test_a_killed_holder_leaves_the_turn_free(tmp_path):
    path = tmp_path / "build.duckdb"
    holder = _holder(path)
    holder.kill()  # SIGKILL: no clean-up of its own runs
    holder.wait(timeout=30)
    take = TURN.replace('print("holding", flush=True)\n    sys.stdin.read()', "print('mine')")
    got = subprocess.run([sys.executable, "-c", take, str(path)], capture_output=True, text=True, timeout=30)
    assert got.stdout.strip() == "mine", got.stderr


def test_a_filesystem_without_file_locks_runs_as_before_and_says_so(tmp_path, monkeypatch):
    """Some network shares answer flock with ENOSYS: every run in such a folder must not fail on
    the lock. The step goes ahead (DuckDB's own lock still refuses a second writer) and says why.
    The filesystem is simulated: flock answers as such a share does."""
    import errno
    import fcntl

    def no_flock(fd, operation):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    said = []
    path = tmp_path / "build.duckdb"
    with warehouse.writer_turn(path, say=said.append), warehouse.connection(path) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert said == [
        "build.duckdb: this filesystem has no file locks (flock); steps of concurrent runs into this "
        "folder rely on Dagster's pool and DuckDB's own lock"
    ]
    with warehouse.connection(path) as con:
        assert con.execute("SELECT x FROM t").fetchone() == (1,)
