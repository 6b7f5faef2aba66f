"""The installed ``veerkracht`` console script, run as a user runs it (a child process): help,
version, plan (writes nothing), run with a JSON summary, validate, serve. On Utrecht 2023."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cli import JOB_STEPS
from testpaths import FIXTURES

SCRIPT = Path(sys.executable).with_name("veerkracht")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the package is not installed (pip install -e .)")


def _veerkracht(tmp_path: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "VEERKRACHT_OUTPUT_DIR": str(tmp_path / "out"),
    }
    return subprocess.run(
        [str(SCRIPT), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_help_and_version(tmp_path):
    top = _veerkracht(tmp_path, "--help")
    assert top.returncode == 0
    for command in ("run", "plan", "validate", "serve", "ui"):
        assert re.search(rf"^  {command}\s", top.stdout, re.M), top.stdout
    assert "VEERKRACHT_OUTPUT_DIR" in top.stdout and "DAGSTER_HOME" in top.stdout
    run_help = _veerkracht(tmp_path, "run", "--help")
    assert run_help.returncode == 0 and run_help.stdout.startswith("usage: veerkracht run")
    assert "(default: embedded)" in run_help.stdout and "--json PATH" in run_help.stdout
    assert _veerkracht(tmp_path, "--version").stdout.strip() == "veerkracht, version 0.1.0"
    bad = _veerkracht(tmp_path, "run", "--year", "2018")
    assert bad.returncode == 2 and "no KWB table known for [2018]" in bad.stderr and bad.stdout == ""


def test_plan_run_json_validate(tmp_path):
    planned = _veerkracht(tmp_path, "plan", "--year", "2023")
    assert planned.returncode == 0 and "Would run" in planned.stdout and "KWB 2023" in planned.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "plan wrote something"

    done = _veerkracht(tmp_path, "run", "--year", "2023", "--json", str(tmp_path / "run.json"))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["exit_code"] == 0 and summary["failure"] is None and summary["years"] == [2023]
    (run,) = summary["runs"]
    steps = {s["step"]: s for s in run["steps"]}
    assert run["success"] and {"kwb_statistics", "veerkracht_scores", "web_map"} <= set(steps)
    assert steps["veerkracht_scores"]["numbers"]["scored buurten"] > 100
    assert all(s["status"] == "success" and s["seconds"] >= 0 for s in steps.values())
    # In process, each step's own CPU (its threads, and tippecanoe for the web map): at most what
    # the machine's cores give in the step's seconds, not the process's total so far.
    cores = os.cpu_count() or 1
    assert all(0 <= s["cpu_seconds"] <= s["seconds"] * cores + 0.1 for s in steps.values()), steps
    assert steps["veerkracht_scores"]["cpu_seconds"] > 0
    assert any("indicators_published" in w for w in summary["warnings"])
    assert Path(summary["outputs"]["warehouse"]).is_file()
    assert "\x1b[" not in done.stdout  # into a pipe (a log): plain lines, no progress display

    again = _veerkracht(tmp_path, "plan", "--year", "2023")
    assert "Nothing would run" in again.stdout

    checked = _veerkracht(tmp_path, "validate", "--json", str(tmp_path / "validate.json"))
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert (tmp_path / "out" / "validation" / "validation.md").is_file()
    assert json.loads((tmp_path / "validate.json").read_text())["runs"][0]["success"]


def test_a_failure_in_the_json_and_on_stderr(tmp_path):
    names_only = FIXTURES / "boundaries" / "delft_buurten_names_excerpt.geojson"
    failed = _veerkracht(
        tmp_path,
        "run",
        "--year",
        "2023",
        "--geometry-file",
        str(names_only),
        "--json",
        str(tmp_path / "s.json"),
    )
    assert failed.returncode == 1
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["exit_code"] == 1 and summary["failure"].startswith(
        "Run for 2023 failed at region_geometries"
    )
    assert summary["failure"] in failed.stderr and "failed at" not in failed.stdout
    assert summary["runs"][0]["steps"][-1]["status"] == "failed"


def test_serve(tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<title>kaart</title>")
    proc = subprocess.Popen(
        [str(SCRIPT), "serve", str(web), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        port = re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            assert resp.status == 200 and b"kaart" in resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    missing = subprocess.run([str(SCRIPT), "serve", str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and "no web map in" in missing.stderr


def test_progress_on_a_terminal(tmp_path):
    """On a terminal a running step shows a spinner and its elapsed time, erased when its line is
    written (issue 29: long steps were silent for tens of seconds); every step's line arrives
    right there, in step order, before "Done in". Dagster copies a run's captured stdout back to
    the terminal through ``tail -F``; a slow one here (it starts 2 s late) is what a loaded
    machine does: lines written to the captured stdout came late, out of order with the spinner,
    or not at all (the tail is stopped when the run ends), and this test failed that way."""
    import pty

    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "tail").write_text('#!/bin/sh\nsleep 2\nexec /usr/bin/tail "$@"\n')
    (slow / "tail").chmod(0o755)
    master, slave = pty.openpty()
    env = {
        **os.environ,
        "TERM": "xterm",
        "PATH": f"{slow}:{os.environ['PATH']}",
        "DAGSTER_HOME": str(tmp_path / "home"),
        "VEERKRACHT_OUTPUT_DIR": str(tmp_path / "out"),
    }
    proc = subprocess.Popen([str(SCRIPT), "run", "--year", "2023"], stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed: the run ended
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0, out[-2000:]
    text = out.decode(errors="replace")
    shown = repr(text[-3000:])  # what the terminal got, if it fails
    # The spinner line: the step's name and its elapsed time, in colour.
    assert re.search(r"boundary_crosswalk +\x1b\[33m0:00:0\d", text), shown
    # Then each step's own line, right where its spinner line was erased, in order, before Done.
    found = [re.search(rf"\r  {step} +\d+\.\d s", text) for step in JOB_STEPS]
    assert all(found), (dict(zip(JOB_STEPS, map(bool, found), strict=True)), shown)
    where = [m.start() for m in found]
    assert where == sorted(where) and where[-1] < text.index("Done in"), shown
