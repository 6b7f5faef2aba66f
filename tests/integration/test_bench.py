"""Smoke run of the benchmark (python -m bench --scale smoke): it runs end to end on SYNTHETIC
data and reports every stage, the references and the dashboard latency. No timing is asserted:
these machines are noisy, and speed is measured in bench/, not tested."""

from __future__ import annotations

import json
import subprocess
import sys

from testpaths import REPO


def test_bench_smoke(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "smoke", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("SYNTHETIC inputs")
    (result,) = json.loads(out.read_text())
    assert result["scale"] == "smoke" and result["areas_per_year"] > 1000
    assert set(result["stages"]) == {
        "ingest (staged Parquet -> DuckDB)",
        "warehouse SQL",
        "score (SQL models)",
        "Monte Carlo (1,000 runs)",
        "resident counts (model + buurt validation)",
        "layers: marts (SQL)",
        "layers: read the mart's rows",
        "layers: write GeoParquet x2 + GPKG",
        "publish (atomic copy)",
        "crosswalk (buurten, two years)",
    }
    assert all(v > 0 for v in result["stages"].values())
    # Where the SQL time went: every model the stages ran, each with its own seconds.
    assert {"score_value", "mart_area", "fact_indicator", "score_change"} <= set(result["sql_models"])
    assert all(v > 0 for v in result["sql_models"].values())
    assert "where the SQL went" in proc.stdout
    assert result["floor_s"] > 0 and result["baseline_s"] > 0
    assert "ratio pipeline / I/O floor" in proc.stdout and "ratio baseline / pipeline" in proc.stdout
    # The baseline computed the pipeline's outputs: every indicator row, sampled values and ranks,
    # and the newest year's layers (bench/baseline.py raises on a difference).
    checked = result["baseline_checked"]
    assert checked["rows"] > 1000 and checked["sampled"] == 2000 and checked["layer_areas"] > 1000
    assert "checked equal" in proc.stdout
    assert 0 < result["dashboard_ms"]["p50"] <= result["dashboard_ms"]["p95"]
    assert 0 < result["dashboard_writing_ms"]["p50"]
