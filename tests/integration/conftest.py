"""The whole asset graph materialised once for the embedded years, shared read-only.

Tests that need to change a warehouse or a layer copy it into their own ``tmp_path`` first
(``writable_build``), so no test depends on the order the others ran in.

The suite runs in three worker processes (pytest-xdist, see tests/conftest.py). A shared build is
made once per session by whichever worker asks first (:func:`_build_once`: a file lock and a
marker in the folder the workers share); the others wait for it and read the same files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from cli import run_cli
from filelock import FileLock

from assets.resources import PipelineSettings, resources_for
from pipelines.definitions import build_defs
from veerkracht import warehouse
from veerkracht.paths import OutputLayout

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


def _build_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``build`` once per test session. Under xdist the workers
    share it: the first to ask builds it while holding a file lock, the others wait on the lock
    and then read it. A build that fails leaves no marker, so the next worker to ask builds (and
    fails) again instead of reading half a folder."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent  # shared by the workers of this session
    folder, built = root / name, root / f"{name}.built"
    with FileLock(str(root / f"{name}.lock")):
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            built.touch()
    return folder


def _materialise_2024(out: Path) -> None:
    defs = build_defs(resources_for(PipelineSettings(output_dir=str(out))))
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("veerkracht_job").execute_in_process(
            partition_key="2024", instance=instance
        )
    assert result.success


@pytest.fixture(scope="session")
def embedded_run(tmp_path_factory, dagster_home) -> OutputLayout:
    """The whole asset graph materialised for 2024 from the embedded snapshot."""
    return OutputLayout(_build_once(tmp_path_factory, "out", _materialise_2024))


@pytest.fixture()
def writable_build(embedded_run, tmp_path):
    """A connection to a private copy of the real build database (the shared one stays as it is)."""
    path = tmp_path / "build.duckdb"
    shutil.copy(embedded_run.build_db, path)
    with warehouse.connection(path) as con:
        yield con


def _readme_command(tmp: Path) -> None:
    # As a user runs it: helper processes as the machine's cores give (the suite's default is none);
    # test_order.py compares its outputs with builds without them.
    proc = run_cli(tmp / "home", tmp / "out", env={"VEERKRACHT_HELPERS": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tmp / "stdout.txt").write_text(proc.stdout)


@pytest.fixture(scope="session")
def years_run(tmp_path_factory):
    """README's first command (the CLI on every embedded year) in a fresh folder: the outputs a
    new user gets. Yields the layout, the CLI's stdout, a read-only warehouse connection and None
    (test_order.py rebuilds these years in other orders and compares)."""
    tmp = _build_once(tmp_path_factory, "years", _readme_command)
    layout = OutputLayout(tmp / "out")
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    yield layout, (tmp / "stdout.txt").read_text(), con, None
    con.close()
