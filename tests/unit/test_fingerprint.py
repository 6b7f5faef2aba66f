"""The run ledger: what the published outputs were built from, and what a new run must redo.

On the real code and data files: the code hash covers the SQL models and reference tables, the
inputs hash the embedded checksums and a boundary file's folder.
"""

from __future__ import annotations

import shutil

from testpaths import FIXTURES

from veerkracht.fingerprint import Fingerprint, Ledger, code_fingerprint, inputs_fingerprint
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


def test_the_ledger_decides_per_year(tmp_path):
    layout = _outputs(tmp_path / "out", 2024)
    _outputs(tmp_path / "out", 2023)
    ledger = Ledger(layout)
    fp = {2024: Fingerprint("in24", "spec", "code"), 2023: Fingerprint("in23", "spec", "code")}
    assert set(ledger.decide(fp).values()) == {"not run into this output folder before"}
    ledger.record(fp)
    assert ledger.decide(fp) == {2024: "up to date", 2023: "up to date"}
    assert ledger.decide({2024: Fingerprint("in24", "spec2", "code")}) == {2024: "spec changed"}
    assert ledger.decide({2024: Fingerprint("new", "spec2", "code")}) == {2024: "inputs changed"}
    assert ledger.decide({2024: Fingerprint("in24", "spec", "code2")}) == {2024: "code or libraries changed"}
    assert ledger.decide({2024: Fingerprint("", "spec", "code")}) == {2024: "inputs cannot be fingerprinted"}
    # A run that began and did not record (killed, failed) leaves its years unfinished.
    ledger.begin([2024])
    verdicts = ledger.decide(fp)
    assert verdicts[2023] == "up to date" and verdicts[2024].endswith("did not finish")
    ledger.record({2024: fp[2024]})
    assert ledger.decide(fp) == {2024: "up to date", 2023: "up to date"}
    (layout.layers / "2023" / "buurt_2023.gpkg").unlink()
    assert ledger.decide(fp) == {2024: "up to date", 2023: "outputs missing"}
    ledger.path.write_text("{not json")
    assert set(ledger.decide(fp).values()) == {"not run into this output folder before"}
