"""The versions Dagster decides "up to date" with, and what a new run must redo.

On the real code and data files: the code hash covers the SQL models and reference tables, the
inputs hash the embedded checksums and a boundary file's folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
from testpaths import FIXTURES

from veerkracht.fingerprint import code_fingerprint, inputs_fingerprint, inputs_version, spec_version
from veerkracht.method.spec import load_spec
from veerkracht.paths import EMBEDDED_DIR, SQL_DIR, OutputLayout


def _outputs(root, year):
    layout = OutputLayout(root)
    for path in (
        layout.layers / str(year) / f"buurt_{year}.gpkg",
        layout.warehouse_db,
        layout.build_db,
        layout.web / "index.html",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return layout


def test_a_changed_sql_model_changes_the_code_fingerprint(tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    before = code_fingerprint([sql])
    assert code_fingerprint([sql]) == before  # stable
    model = sql / "score_theme.sql"
    model.write_text(model.read_text() + "\n-- a comment is a change too\n")
    assert code_fingerprint([sql]) != before
    (sql / "__pycache__").mkdir()
    (sql / "__pycache__" / "x.py").write_text("cache")
    after = code_fingerprint([sql])
    (sql / "__pycache__" / "x.py").write_text("other cache")
    assert code_fingerprint([sql]) == after  # caches are not code


def test_inputs_cover_file_contents_and_folders(tmp_path):
    sums = EMBEDDED_DIR / "SHA256SUMS"
    parts = {"year": 2024, "source": "embedded"}
    base = inputs_fingerprint(parts, [sums])
    assert base == inputs_fingerprint(dict(reversed(parts.items())), [sums])
    assert base != inputs_fingerprint({**parts, "year": 2023}, [sums])
    folder = tmp_path / "grenzen"
    shutil.copytree(FIXTURES / "boundaries", folder)
    with_folder = inputs_fingerprint(parts, [sums, folder])
    first = sorted(folder.iterdir())[0]
    first.write_bytes(first.read_bytes() + b" ")
    assert inputs_fingerprint(parts, [sums, folder]) not in (base, with_folder)


def test_input_and_spec_versions():
    settings = {"source": "embedded", "geometry_source": "embedded", "output_dir": "/tmp/a"}
    v = inputs_version(settings, 2024)
    assert v == inputs_version(dict(settings), 2024) and v != inputs_version(settings, 2023)
    # Another output folder is another build: nothing built into the first is up to date there.
    assert v != inputs_version({**settings, "output_dir": "/tmp/b"}, 2024)
    assert spec_version("h", "/tmp/a") != spec_version("h", "/tmp/b") != spec_version("g", "/tmp/b")
    # CBS not answering, or a file gone: a version never seen before, so the year runs.
    live = {**settings, "source": "cbs"}
    assert inputs_version(live, 2024, lambda year: None).startswith("unknown")
    assert inputs_version(live, 2024, lambda year: "2026-01-01") == inputs_version(
        live, 2024, lambda y: "2026-01-01"
    )
    gone = {**settings, "source": "file", "kwb_file": "/nonexistent/kwb-2024.xlsx"}
    assert inputs_version(gone, 2024).startswith("unknown")


def _toy(code: str, fail: bool = False):
    """The shape of the real graph: the two observed sources, a yearly asset, one over all years
    and one after it, each with a code version."""
    years = dg.StaticPartitionsDefinition(["2023", "2024"])

    @dg.observable_source_asset(partitions_def=years)
    def kwb_inputs():
        return dg.DataVersionsByPartition({})

    @dg.observable_source_asset
    def method_spec():
        return dg.DataVersion("")

    @dg.asset(
        partitions_def=years,
        deps=[kwb_inputs],
        code_version=code,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def warehouse_core():
        return dg.MaterializeResult()

    @dg.asset(deps=[warehouse_core, method_spec], code_version=code)
    def veerkracht_scores():
        return dg.MaterializeResult()

    @dg.asset(deps=[veerkracht_scores], code_version=code)
    def area_layers():
        if fail:
            raise OSError("No space left on device")
        return dg.MaterializeResult()

    @dg.observable_source_asset
    def validation_inputs():
        return dg.DataVersion("")

    @dg.asset(deps=[warehouse_core, validation_inputs], code_version=code)
    def validation_criteria():
        return dg.MaterializeResult()

    @dg.asset(deps=[veerkracht_scores, validation_criteria], code_version=code)
    def score_validation():
        return dg.MaterializeResult()

    job = dg.define_asset_job("veerkracht_job", selection=dg.AssetSelection.all())
    assets = [kwb_inputs, method_spec, validation_inputs, warehouse_core, veerkracht_scores, area_layers]
    return dg.Definitions(assets=[*assets, validation_criteria, score_validation], jobs=[job])


def test_what_is_stale_decides_what_runs(tmp_path, monkeypatch):
    """Dagster's versions decide: nothing new runs nothing, a new spec the scores and after,
    revised inputs or new code everything, a killed run what it did not materialise."""
    from pipelines import staleness

    layout = _outputs(tmp_path / "out", 2024)
    _outputs(tmp_path / "out", 2023)
    spec = load_spec()
    settings = {"source": "embedded", "geometry_source": "embedded", "output_dir": str(layout.root),
                "method_spec": spec.path}  # fmt: skip
    instance = dg.DagsterInstance.ephemeral()
    defs = _toy("c1")
    range_tags = {"dagster/asset_partition_range_start": "2023", "dagster/asset_partition_range_end": "2024"}

    def decide(d=defs, **changes):
        return staleness.decide(d, instance, {**settings, **changes}, [2023, 2024], None)

    assert decide().stale == "all"  # never built
    defs.resolve_job_def("veerkracht_job").execute_in_process(instance=instance, tags=range_tags)
    assert decide().stale is None
    other = tmp_path / "other.toml"
    other.write_text(Path(spec.path).read_text().replace("top_share = 0.1 ", "top_share = 0.2 "))
    got = decide(method_spec=str(other))
    assert got.stale == {"veerkracht_scores", "area_layers", "score_validation"} and got.why == {
        "spec changed": ["veerkracht_scores"]
    }
    # A run killed after the scores: the layers are stale, the scores are not.
    defs.resolve_job_def("veerkracht_job").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("veerkracht_scores")]
    )
    assert decide(method_spec=str(other)).stale == {"area_layers", "score_validation"}
    # back to the default spec
    assert decide().stale == {"veerkracht_scores", "area_layers", "score_validation"}
    defs.resolve_job_def("veerkracht_job").execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(k) for k in ("veerkracht_scores", "area_layers", "score_validation")],
    )
    assert decide().stale is None
    assert decide(geometry_code_field="CODE").why == {"inputs changed": ["2023", "2024"]}
    assert decide().stale is None
    # A criterion file of yours: the criteria are matched again and the scores measured, nothing
    # else (the scores do not read criteria).
    criterion = tmp_path / "criteria.csv"
    criterion.write_text("code,year,level,criterion,value,direction\nWK001400,2022,wijk,mine,3.5,1\n")
    got = decide(validation_files=[str(criterion)])
    assert got.stale == {"validation_criteria", "score_validation"}
    assert got.why == {"criteria changed": ["validation_criteria"]}
    assert decide().stale is None
    assert decide(_toy("c2")).why == {"code or libraries changed": ["2023", "2024"]}
    # A run that fails in a step (the same inputs, --force): that step may have written half.
    _toy("c1", fail=True).resolve_job_def("veerkracht_job").execute_in_process(
        instance=instance, tags=range_tags, raise_on_error=False
    )
    got = decide()
    assert got.stale == {"area_layers"} and got.why == {"a run did not finish": ["area_layers"]}
    defs.resolve_job_def("veerkracht_job").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("area_layers")]
    )
    assert decide().stale is None
    (layout.layers / "2023" / "buurt_2023.gpkg").unlink()
    assert decide().why == {"outputs missing": ["2023", "2024"]}
