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
