"""DuckDB's single-writer lock under Dagster's multiprocess executor and concurrent runs.

Two runs of the 2023 partition (Utrecht: the small year, as the lock is the same at any size)
start at once in two processes (a re-run racing a backfill),
each with the multiprocess executor, so several step processes want the build file at the same
time. The ``duckdb`` pool (limit 1 in dagster.yaml) must serialise them: both runs succeed and
no step fails on DuckDB's lock. With the limit raised to 10 the same test fails ("Could not set
lock on file ... Conflicting lock is held"); checked by hand, not in CI, because without the
pool a collision depends on timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from testpaths import REPO


def _two_concurrent_runs(tmp_path: Path, pool_limit: int) -> list[subprocess.CompletedProcess]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    yaml = (REPO / "dagster.yaml").read_text().replace("default_limit: 1", f"default_limit: {pool_limit}")
    (home / "dagster.yaml").write_text(yaml)
    env = {**os.environ, "DAGSTER_HOME": str(home), "VEERKRACHT_OUTPUT_DIR": str(tmp_path / "out")}
    # Create the instance's storage once, so the two runs do not race on its migrations.
    subprocess.run(
        [sys.executable, "-c", "import dagster as dg; dg.DagsterInstance.get().dispose()"],
        env=env,
        check=True,
        cwd=REPO,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipelines", "--executor", "multiprocess", "--year", "2023"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=600), p.stdout.read()) for p in procs]


DUCKDB_STEPS = {
    "warehouse_core",
    "veerkracht_scores",
    "resident_estimates",
    "area_layers",
    "dashboard_warehouse",
    "boundary_crosswalk",
    "score_validation",
}


def _duckdb_step_intervals(home: Path) -> list[tuple[float, float, str, str]]:
    """(start, end, run id, step) of every DuckDB step, from the instance's event log."""
    os.environ["DAGSTER_HOME"] = str(home)
    intervals = []
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs():
            starts, ends = {}, {}
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None or record.step_key not in DUCKDB_STEPS:
                    continue
                if event.event_type_value == "STEP_START":
                    starts[record.step_key] = record.timestamp
                elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                    ends[record.step_key] = record.timestamp
            intervals += [(starts[k], ends[k], run.run_id, k) for k in starts]
    return sorted(intervals)


def test_concurrent_multiprocess_runs_share_the_duckdb_pool(tmp_path, dagster_home):
    runs = _two_concurrent_runs(tmp_path, pool_limit=1)
    logs = "\n".join(r.stdout for r in runs)
    assert "Could not set lock" not in logs and "build.duckdb is busy" not in logs
    # A failed run's own last lines (its cause), not the other run's.
    assert [r.returncode for r in runs] == [0, 0], "\n---\n".join(
        r.stdout[-2500:] for r in runs if r.returncode
    )
    intervals = _duckdb_step_intervals(tmp_path / "dagster_home")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    assert len(intervals) == 2 * len(DUCKDB_STEPS)
    # One writer at a time: no DuckDB step of either run overlaps another.
    for (_s1, e1, r1, k1), (s2, _e2, r2, k2) in zip(intervals, intervals[1:], strict=False):
        assert e1 <= s2, f"{k1} ({r1[:8]}) overlaps {k2} ({r2[:8]})"
    assert len({r for _, _, r, _ in intervals}) == 2
    assert (tmp_path / "out" / "warehouse" / "veerkracht.duckdb").is_file()


def test_instance_supports_pools(dagster_home):
    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.supports_global_concurrency_limits
