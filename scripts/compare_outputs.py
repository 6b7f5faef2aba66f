"""Compare two run-output folders: do the published warehouse and layers hold the same values?

Used to prove that a refactoring changes no output:

    python scripts/compare_outputs.py OLD_OUTPUT_DIR NEW_OUTPUT_DIR [--ignore-table core.crosswalk]

Compares every table of the published warehouse (``warehouse/veerkracht.duckdb``) row for row
(``EXCEPT ALL`` both ways, so duplicates count) and every GeoParquet/GeoPackage layer (values and
geometries, in file order). Columns that record *when* or *where* a run happened
(``recorded_at``, ``spec_file``/``path`` of the spec, its text) are left out, because they differ
between any two runs. Exit code 0 when everything is equal, 1 otherwise, with a line per
difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd

from veerkracht import warehouse

#: Columns that say when or from where a run ran, not what it computed.
RUN_COLUMNS = {"recorded_at", "path", "spec_file", "spec_toml"}


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> set[str]:
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [db]
    ).fetchall()
    return {f"{s}.{t}" for s, t in rows}


def compare_warehouses(old: Path, new: Path, ignore: set[str]) -> list[str]:
    """Differences between the tables of two DuckDB files (empty when equal)."""
    con = warehouse.connect(":memory:")  # spatial loaded: the tables have GEOMETRY columns
    con.execute(f"ATTACH {warehouse.sql_string(old)} AS a (READ_ONLY)")
    con.execute(f"ATTACH {warehouse.sql_string(new)} AS b (READ_ONLY)")
    problems = []
    ta, tb = _tables(con, "a") - ignore, _tables(con, "b") - ignore
    problems += [f"table only in old: {t}" for t in sorted(ta - tb)]
    problems += [f"table only in new: {t}" for t in sorted(tb - ta)]
    for table in sorted(ta & tb):
        cols_a = [r[0] for r in con.execute(f"DESCRIBE a.{table}").fetchall()]
        cols_b = [r[0] for r in con.execute(f"DESCRIBE b.{table}").fetchall()]
        if set(cols_a) != set(cols_b):
            problems.append(f"{table}: columns differ: {sorted(set(cols_a) ^ set(cols_b))}")
            continue
        cols = ", ".join(f'"{c}"' for c in cols_a if c not in RUN_COLUMNS)
        n_ab = con.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM a.{table} EXCEPT ALL SELECT {cols} FROM b.{table})"
        ).fetchone()[0]
        n_ba = con.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM b.{table} EXCEPT ALL SELECT {cols} FROM a.{table})"
        ).fetchone()[0]
        if n_ab or n_ba:
            problems.append(f"{table}: {n_ab} rows only in old, {n_ba} rows only in new")
    con.close()
    return problems


def compare_layers(old: Path, new: Path) -> list[str]:
    """Differences between the layer files (GeoParquet and GeoPackage) of two output folders."""
    problems = []
    files_a = {p.relative_to(old) for p in old.rglob("*") if p.suffix in (".parquet", ".gpkg")}
    files_b = {p.relative_to(new) for p in new.rglob("*") if p.suffix in (".parquet", ".gpkg")}
    problems += [f"layer only in old: {f}" for f in sorted(files_a - files_b)]
    problems += [f"layer only in new: {f}" for f in sorted(files_b - files_a)]
    for rel in sorted(files_a & files_b):
        read = gpd.read_parquet if rel.suffix == ".parquet" else gpd.read_file
        a, b = read(old / rel), read(new / rel)
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            problems.append(f"{rel}: shape or columns differ ({a.shape} vs {b.shape})")
            continue
        attrs = [c for c in a.columns if c != a.geometry.name and c != "bbox"]
        try:
            pd.testing.assert_frame_equal(pd.DataFrame(a[attrs]), pd.DataFrame(b[attrs]), check_exact=True)
        except AssertionError as exc:
            problems.append(f"{rel}: values differ: {str(exc).splitlines()[0:3]}")
        if not a.geometry.geom_equals_exact(b.geometry, tolerance=0).all():
            problems.append(f"{rel}: geometries differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument(
        "--ignore-table",
        action="append",
        default=[],
        help="schema.table to leave out (a table a named defect fix changed)",
    )
    args = parser.parse_args(argv)
    problems = compare_warehouses(
        args.old / "warehouse" / "veerkracht.duckdb",
        args.new / "warehouse" / "veerkracht.duckdb",
        set(args.ignore_table),
    )
    problems += compare_layers(args.old / "layers", args.new / "layers")
    for p in problems:
        print(p)
    print("outputs equal" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
