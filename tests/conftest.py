"""Shared test set-up: the helpers folder on the path and a throw-away Dagster instance.

Layout: ``tests/unit/<stage>/`` mirrors ``veerkracht/<stage>/`` and runs in well under a minute
without building the whole graph; ``tests/integration/`` holds the end-to-end tests (marked
``integration``), which share one materialisation of the graph on the embedded real data.
``python -m pytest tests/unit`` runs the fast half; ``-m integration`` the other.

Three worker processes run the suite on two cores (pytest-xdist, ``-n 3`` in pyproject.toml):
much of a test is waiting (for a CLI child to start, a kill, a lock, Chromium), and a third
worker fills those waits (measured alternating: 323, 339 and 318 s against 359 and 330 s with
two; docs/architecture.md). Each test module is one unit of work, so a
module's fixtures are built once; the modules that read the four-year build are one unit,
handed out first because it is the longest (:func:`pytest_xdist_make_scheduler`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

import pipelines  # noqa: F401  (first: its process defaults hold for the builds in this process too)

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

from testpaths import REPO  # noqa: E402

# One cache (veerkracht/cache.py) for the whole session (both workers and every CLI they start),
# set before the settings resource reads its default: each boundary set is tiled and overlaid
# once, not once per build. Tests of tiling itself turn it off or give their own.
# The first process to load this file (xdist's controller, before it starts the workers) makes
# the folder and removes it at the end.
if "VEERKRACHT_CACHE" not in os.environ:
    os.environ["VEERKRACHT_CACHE"] = tempfile.mkdtemp(prefix="veerkracht-test-cache-")
    os.environ["VEERKRACHT_TEST_CACHE_OWNER"] = str(os.getpid())


# No helper processes (veerkracht/helpers.py) in the suite's runs unless a test asks: its two
# workers keep both cores busy, where a helper only adds its start-up (measured: the CLI-heavy
# modules 94 s without, 110 s with). The README's own command runs with the product's default
# (tests/integration/conftest.py), and tests/unit/test_helpers.py tests the helpers themselves.
os.environ.setdefault("VEERKRACHT_HELPERS", "0")


def pytest_unconfigure(config):
    if os.environ.get("VEERKRACHT_TEST_CACHE_OWNER") == str(os.getpid()):
        shutil.rmtree(os.environ["VEERKRACHT_CACHE"], ignore_errors=True)


HERE = Path(__file__).parent
#: The modules that read the four-year build (``years_run``): one xdist unit, so one worker
#: builds it and runs them while the other workers run the rest.
YEARS_MODULES = {"test_order.py", "test_residents.py", "test_webmap.py", "test_years.py"}


def _unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or ``years`` for the four-year build's."""
    module = nodeid.split("::", 1)[0]
    years = Path(module).parent.name == "integration" and Path(module).name in YEARS_MODULES
    return "years" if years else module


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: _unit(item.nodeid) != "years")  # the longest unit first (stable)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduling by scope with our units (xdist_group marks cannot do it on pytest 9:
    xdist renames the test ids to group them, and pytest 9 ignores that)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return ByUnit(config, log)


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home
