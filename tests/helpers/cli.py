"""Running ``python -m pipelines`` as a user does, in a child process with its own Dagster home
and output folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testpaths import REPO


def cli_env(home: Path, out: Path) -> dict[str, str]:
    return {**os.environ, "DAGSTER_HOME": str(home), "VEERKRACHT_OUTPUT_DIR": str(out)}


def run_cli(home: Path, out: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the CLI to the end; stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=cli_env(home, out),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(home: Path, out: Path, *args: str) -> subprocess.Popen:
    """Start the CLI; its stdout (with stderr) is a byte pipe the caller reads."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=cli_env(home, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
