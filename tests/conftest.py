"""Shared test set-up: the helpers folder on the path and a throw-away Dagster instance.

Layout: ``tests/unit/<stage>/`` mirrors ``veerkracht/<stage>/`` and runs in well under a minute
without building the whole graph; ``tests/integration/`` holds the end-to-end tests (marked
``integration``), which share one materialisation of the graph on the embedded real data.
``python -m pytest tests/unit`` runs the fast half; ``-m integration`` the other.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

from testpaths import REPO  # noqa: E402


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home
