"""DuckDB's single-writer lock under Dagster's multiprocess executor and concurrent runs.

Two runs of the 2023 partition (Utrecht: the small year, as the lock is the same at any size)
start at once in two processes, each with the multiprocess executor, under two Dagster instances
(two ``DAGSTER_HOME``s: a re-run from a terminal racing a backfill in someone's ``dagster dev``),
so their pools know nothing of each other and their steps want the build file at the same time.
The build file's writer lock (``veerkracht.warehouse.writer_turn``) must serialise them: both
runs succeed, no step fails on DuckDB's lock, and the logs show a step that waited its turn.
Before the lock, the same test failed with "build.duckdb is busy" at the first DuckDB step; and
with one instance its ``duckdb`` pool (Dagster's slot claim on SQLite is not atomic) let two steps
in at once in a CI run.

The same runs show what the command prints with the multiprocess executor: a line per step and
the wait under its step, as in process, not Dagster's event log (which it printed before).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
from cli import JOB_STEPS
from testpaths import REPO


def _two_concurrent_runs(tmp_path: Path) -> list[subprocess.CompletedProcess]:
    envs = []
    for name in ("home_a", "home_b"):
        home = tmp_path / name
        home.mkdir()
        (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        env = {**os.environ, "DAGSTER_HOME": str(home), "VEERKRACHT_OUTPUT_DIR": str(tmp_path / "out")}
        # Create the instance's storage first, so start-up costs the same in both.
        subprocess.run(
            [sys.executable, "-c", "import dagster as dg; dg.DagsterInstance.get().dispose()"],
            env=env,
            check=True,
            cwd=REPO,
        )
        envs.append(env)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipelines", "--executor", "multiprocess", "--year", "2023"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in envs
    ]
    # A few dozen lines each: neither pipe fills while the other run's is read.
    outputs = [p.communicate(timeout=600) for p in procs]
    return [
        subprocess.CompletedProcess(p.args, p.returncode, *out) for p, out in zip(procs, outputs, strict=True)
    ]


def test_concurrent_runs_into_one_folder_take_turns_on_the_build_file(tmp_path):
    runs = _two_concurrent_runs(tmp_path)
    logs = "\n".join(r.stdout + r.stderr for r in runs)
    assert "Could not set lock" not in logs and "build.duckdb is busy" not in logs
    # A failed run's own last lines (its cause), not the other run's.
    assert [r.returncode for r in runs] == [0, 0], "\n---\n".join(
        (r.stdout + r.stderr)[-2500:] for r in runs if r.returncode
    )
    # The two runs did meet at the file (else this test proved nothing), and one waited: the
    # command says so under the step that waited.
    waited = "    ! build.duckdb: another run's step is writing it; waiting for its turn"
    assert any(waited in r.stdout.splitlines() for r in runs), logs
    for r in runs:
        # What the user reads: each step's line with its seconds, as with the in-process executor,
        # read from the events the step processes stored; not Dagster's log of every event.
        for step in JOB_STEPS:
            assert re.search(rf"^  {step} +\d+\.\d s", r.stdout, re.M), (step, r.stdout)
        assert re.search(r"^Done in \d+\.\d s$", r.stdout, re.M), r.stdout
        assert " - STEP_SUCCESS - " not in r.stderr and " - ASSET_MATERIALIZATION - " not in r.stderr
    published = tmp_path / "out" / "warehouse" / "veerkracht.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        years = con.execute("SELECT DISTINCT year FROM marts.area WHERE score IS NOT NULL").fetchall()
    assert years == [(2023,)]


def test_instance_supports_pools(dagster_home):
    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.supports_global_concurrency_limits
