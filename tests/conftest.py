"""Shared fixtures: one full materialisation of the graph on the embedded data, in a temp dir."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from assets.resources import DuckDBSpatialResource, PipelineSettings  # noqa: E402
from veerkracht.paths import OutputLayout  # noqa: E402


def all_assets():
    from assets import crosswalk, geometries, layers, scores, statistics, warehouse, webmap

    return dg.load_assets_from_modules([statistics, geometries, warehouse, scores, layers, webmap, crosswalk])


def resources_for(out_dir: Path, **settings) -> dict:
    s = PipelineSettings(output_dir=str(out_dir), **settings)
    return {"settings": s, "duckdb": DuckDBSpatialResource(database=str(s.layout.build_db))}


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text((Path(__file__).parents[1] / "dagster.yaml").read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def embedded_run(tmp_path_factory, dagster_home) -> OutputLayout:
    """The whole asset graph materialised for 2024 from the embedded snapshot."""
    out = tmp_path_factory.mktemp("out")
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(all_assets(), resources=resources_for(out), partition_key="2024",
                                instance=instance)
    assert result.success
    return OutputLayout(out)
