"""Fault injection: ``kill -9`` of a real run at a step, then the next run as a user would start it.

The rerun must succeed without manual cleanup (a killed run used to hold the ``duckdb`` pool's
only slot for ever), leave no leftovers (``.partial-…`` files and folders, an orphaned
tippecanoe), and the published files are always a complete version.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyogrio
import pytest
from cli import run_cli, start_cli
from testpaths import REPO

from veerkracht.method.spec import load_spec
from veerkracht.publish.webmap import verify_pmtiles, year_tiles

pytestmark = pytest.mark.faults


def _start(tmp_path: Path, **env: str) -> subprocess.Popen:
    """A run of the small Utrecht year (a kill works the same at any size)."""
    return start_cli(tmp_path / "home", tmp_path / "out", "--year", "2023", env=env)


def _kill_when(
    proc: subprocess.Popen, step: str, after_s: float = 0.0, timeout: float = 300, until=None
) -> str:
    """Read the CLI's output until ``step`` starts (its summary line opens), wait ``after_s`` (or,
    with ``until``, until it returns something true, polled for up to 60 s), then kill -9. (The
    step name alone could match the output folder's path.)"""
    return _kill_at_line(proc, f"\n  {step} ", timeout=timeout, after_s=after_s, until=until)


def _rerun(tmp_path: Path) -> subprocess.CompletedProcess:
    return run_cli(tmp_path / "home", tmp_path / "out", "--year", "2023", timeout=600)


def _leftovers(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob(".partial-*"))


def test_kill_during_a_duckdb_step_does_not_block_the_next_run(tmp_path):
    proc = _start(tmp_path)
    _kill_when(proc, "warehouse_core", after_s=0.5)
    started = time.monotonic()
    rerun = _rerun(tmp_path)  # used to wait for the dead run's pool slot for ever
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "Recovered from a killed run" in rerun.stdout and "pool slots released" in rerun.stdout
    assert time.monotonic() - started < 400
    # Every area of the year's layers is in the published warehouse (Utrecht 2023: 1 gemeente,
    # its wijken and buurten).
    drawn = sum(
        pyogrio.read_info(path)["features"]
        for path in (tmp_path / "out" / "layers" / "2023").glob("*_2023.gpkg")
    )
    with duckdb.connect(str(tmp_path / "out" / "warehouse" / "veerkracht.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.area WHERE year = 2023").fetchone()[0] == drawn > 100
    assert _leftovers(tmp_path / "out") == []


def _tippecanoes(folder: Path) -> list[int]:
    """Live tippecanoe processes writing under ``folder`` (its output path is in their command
    line, which the workers it forks share): another test's tippecanoe, running at the same time
    in the other worker, is not this run's. Zombies, already dead and waiting to be reaped, do
    not count."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                comm = (proc / "comm").read_text().strip()
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                args = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if comm == "tippecanoe" and state != "Z" and str(folder) in args:
                found.append(int(proc.name))
    return found


def test_kill_during_the_web_map_leaves_nothing_behind(tmp_path):
    proc = _start(tmp_path, VEERKRACHT_CACHE="off")  # tiles made here, not copied
    # Killed while tippecanoe runs: once the web map step has started, as soon as a tippecanoe
    # process of this run is alive (a fixed delay missed it once the step got faster).
    _kill_when(proc, "web_map", after_s=0.0, until=lambda: _tippecanoes(tmp_path))
    time.sleep(1.0)
    # tippecanoe forks workers; all of them die with the run (veerkracht/publish/supervise.py).
    assert _tippecanoes(tmp_path) == [], "an orphaned tippecanoe survived the kill"
    web = tmp_path / "out" / "web"
    assert _leftovers(tmp_path / "out"), "the kill should have left a partial tile folder to clean"
    rerun = _rerun(tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert _leftovers(tmp_path / "out") == []
    verify_pmtiles(year_tiles(web, 2023))
    assert not [p for p in web.iterdir() if p.is_dir() and p.name not in ("vendor",)]


def _kill_at_line(
    proc: subprocess.Popen, line: str, timeout: float = 300, after_s: float = 0.0, until=None
) -> str:
    """Read the CLI's output until ``line`` is printed, wait ``after_s``, then kill -9."""
    seen, deadline = b"", time.monotonic() + timeout
    while line.encode() not in seen:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk or time.monotonic() > deadline:
            pytest.fail(f"the run ended or hung before {line!r}: {seen.decode()[-2000:]}")
        seen += chunk
    time.sleep(after_s)
    waited = time.monotonic() + 60
    while until is not None and not until() and time.monotonic() < waited:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return seen.decode()


def _spec_hashes(out: Path) -> set[str]:
    with duckdb.connect(str(out / "warehouse" / "veerkracht.duckdb"), read_only=True) as con:
        marts = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT spec_hash FROM marts.area WHERE spec_hash IS NOT NULL"
            ).fetchall()
        }
    layers = set()
    for path in (out / "layers").rglob("*_4326.parquet"):
        with duckdb.connect() as con:
            rows = con.execute(
                f"SELECT DISTINCT spec_hash FROM '{path}' WHERE spec_hash IS NOT NULL"
            ).fetchall()
        layers |= {r[0] for r in rows}
    return marts | layers


def test_a_run_killed_after_publishing_a_year_is_not_nothing_to_do(tmp_path):
    """Issue 26.1: a run with another spec, killed once a year is published (before it records
    what it built), left the ledger naming the old spec: the next plain run said "Nothing to do"
    over outputs of the other method. Now Dagster's own versions decide: every asset the killed
    run materialised records the other spec, so the next plain run scores again, and everything
    published is of one spec. On the small Utrecht year."""
    home, out = tmp_path / "home", tmp_path / "out"
    first = run_cli(home, out, "--year", "2023")
    assert first.returncode == 0, first.stdout + first.stderr
    default_hash = _spec_hashes(out)
    other = tmp_path / "other.toml"
    other.write_text(Path(load_spec().path).read_text().replace("top_share = 0.1 ", "top_share = 0.2 "))
    proc = start_cli(home, out, "--year", "2023", "--method", str(other))
    _kill_at_line(proc, "\nDone in ")  # published, not yet recorded
    assert _spec_hashes(out) != default_hash  # the killed run did publish its year
    again = run_cli(home, out, "--year", "2023")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing to do" not in again.stdout and "Why: spec changed" in again.stdout
    assert _spec_hashes(out) == default_hash
    assert "Nothing to do" in run_cli(home, out, "--year", "2023").stdout  # and now it is done


def test_a_second_run_into_a_busy_folder_says_busy(tmp_path):
    """Issue 26.6: a run met DuckDB's raw "Could not set lock … Conflicting lock is held" when
    another process had the build file open. Runs of the pipeline now take turns on it (under any
    DAGSTER_HOME, tests/integration/test_concurrency.py); a program other than a run (here a bare
    DuckDB session) is not waited for: the run's last line says the folder is busy, which process
    holds it, and what to do."""
    out = tmp_path / "out"
    build = out / "work" / "build.duckdb"
    build.parent.mkdir(parents=True)
    hold = "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('holding', flush=True); input()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(build)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        run = run_cli(tmp_path / "other_home", out, "--year", "2023")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert f"build.duckdb is busy: another process (PID {holder.pid})" in last, last
    assert "a program other than a veerkracht run" in last and "Close it" in last, last
    assert "Conflicting lock" not in last


UI_RUN = """
import sys
import dagster as dg
from assets.resources import PipelineSettings, resources_for
from pipelines.definitions import build_defs

defs = build_defs(resources_for(PipelineSettings(output_dir=sys.argv[1])))
with dg.DagsterInstance.get() as instance:
    result = defs.resolve_job_def("veerkracht_job").execute_in_process(
        partition_key="2023", instance=instance, raise_on_error=False
    )
print("success" if result.success else "failed", flush=True)
"""


def test_a_killed_run_blocks_no_later_run_however_started(tmp_path):
    """Issue 26.5: a killed CLI run kept the duckdb pool's slot, and a run started from Dagster
    (execute_in_process here, as a script or a test does; the UI and the sensor go through the
    code location's executor) waited for it for ever at 100 % CPU, ignoring SIGTERM; a killed
    Dagster run then blocked the CLI the same way. Each is now released by the next run, of
    either kind. On the small Utrecht year; a run that hangs is killed at the timeout."""
    home, out = tmp_path / "home", tmp_path / "out"
    env = {**os.environ, "DAGSTER_HOME": str(home), "VEERKRACHT_OUTPUT_DIR": str(out)}
    cli = start_cli(home, out, "--year", "2023")
    _kill_at_line(cli, "\n  warehouse_core ", after_s=0.5)  # in the Utrecht year's DuckDB steps
    script = tmp_path / "ui_run.py"
    script.write_text(UI_RUN)

    def ui_run(**kwargs):
        return subprocess.Popen(
            [sys.executable, str(script), str(out)], env=env, cwd=REPO, stdout=subprocess.PIPE, **kwargs
        )

    started = time.monotonic()
    first = ui_run()
    try:
        stdout, _ = first.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        first.kill()
        pytest.fail("a Dagster run waited for the killed CLI run's pool slot")
    assert stdout.decode().strip().endswith("success") and time.monotonic() - started < 180

    def kill_a_ui_run():  # while it writes the build file
        run = ui_run(stderr=subprocess.STDOUT)
        seen = b""
        while b"warehouse_core" not in seen:
            chunk = os.read(run.stdout.fileno(), 4096)
            assert chunk, seen.decode()[-2000:]
            seen += chunk
        time.sleep(1.0)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)

    kill_a_ui_run()
    rerun = run_cli(home, out, "--year", "2023", timeout=180)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "Recovered from a killed run" in rerun.stdout and "pool slots released" in rerun.stdout
    assert _leftovers(out) == []
    # The CLI frees what a killed run holds before it decides anything (it used to clean nothing
    # when it then had nothing to do); what the killed run had planned and not finished is stale.
    kill_a_ui_run()
    again = run_cli(home, out, "--year", "2023", timeout=180)
    lines = again.stdout.splitlines()
    recovered = [i for i, line in enumerate(lines) if line.startswith("Recovered from a killed run")]
    why = next(i for i, line in enumerate(lines) if line.startswith("Why: "))
    assert again.returncode == 0 and "pool slots released" in again.stdout, again.stdout
    assert recovered and max(recovered) < why and "a run did not finish" in lines[why], again.stdout
    assert "Nothing to do" in run_cli(home, out, "--year", "2023", timeout=180).stdout
