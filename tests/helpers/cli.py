"""Running ``python -m pipelines`` as a user does, in a child process with its own Dagster home
and output folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testpaths import REPO


def cli_env(home: Path, out: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DAGSTER_HOME": str(home), "VEERKRACHT_OUTPUT_DIR": str(out), **extra}


def run_cli(
    home: Path, out: Path, *args: str, timeout: float = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the CLI to the end; stdout and stderr captured as text (``env``: more variables)."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=cli_env(home, out, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(home: Path, out: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Start the CLI; its stdout (with stderr) is a byte pipe the caller reads."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=cli_env(home, out, **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def cli_in_process(monkeypatch, capsys, home: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m pipelines ARGS`` as ``main()`` in this process: for argument errors, which are
    refused before any Dagster run (no child process needed). Same result shape as run_cli."""
    from pipelines.__main__ import main

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("VEERKRACHT_OUTPUT_DIR", str(out))
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["python", "-m", "pipelines", *args], code, captured.out, captured.err)


#: Every step of a whole run of the job, in the order the in-process executor runs them (a line
#: each in the command's output).
JOB_STEPS = [
    "kwb_statistics",
    "region_geometries",
    "warehouse_core",
    "boundary_crosswalk",
    "resident_estimates",
    "validation_criteria",
    "veerkracht_scores",
    "area_layers",
    "score_validation",
    "web_map",
    "dashboard_warehouse",
]
