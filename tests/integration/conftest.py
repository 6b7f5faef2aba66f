"""The whole asset graph materialised once for the embedded years, shared read-only.

Tests that need to change a warehouse or a layer copy it into their own ``tmp_path`` first
(``writable_build``), so no test depends on the order the others ran in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from cli import run_cli

from assets.resources import PipelineSettings, resources_for
from pipelines.definitions import build_defs
from veerkracht import warehouse
from veerkracht.paths import OutputLayout

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def embedded_run(tmp_path_factory, dagster_home) -> OutputLayout:
    """The whole asset graph materialised for 2024 from the embedded snapshot."""
    out = tmp_path_factory.mktemp("out")
    defs = build_defs(resources_for(PipelineSettings(output_dir=str(out))))
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("veerkracht_job").execute_in_process(
            partition_key="2024", instance=instance
        )
    assert result.success
    return OutputLayout(out)


@pytest.fixture()
def writable_build(embedded_run, tmp_path):
    """A connection to a private copy of the real build database (the shared one stays as it is)."""
    path = tmp_path / "build.duckdb"
    shutil.copy(embedded_run.build_db, path)
    with warehouse.connection(path) as con:
        yield con


@pytest.fixture(scope="session")
def years_run(tmp_path_factory):
    """README's first command (the CLI on every embedded year) in a fresh folder: the outputs a
    new user gets. Yields the layout, the CLI's stdout, a read-only warehouse connection and None
    (test_order.py rebuilds these years in other orders and compares)."""
    tmp = tmp_path_factory.mktemp("years")
    proc = run_cli(tmp / "home", tmp / "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    layout = OutputLayout(tmp / "out")
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    yield layout, proc.stdout, con, None
    con.close()
