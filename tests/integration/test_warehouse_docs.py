"""The example queries in docs/warehouse.md run on the published warehouse, read-only, while a
new version is being published next to it (dashboards keep reading the previous complete file)."""

from __future__ import annotations

import re
import threading

from testpaths import REPO

from veerkracht import warehouse
from veerkracht.publish.dictionary import COLUMNS

DOC = REPO / "docs" / "warehouse.md"


def _queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)


def test_doc_queries_run_while_publishing(embedded_run, tmp_path):
    """Readers of a private copy of the published file while it is republished over and over (the
    shared output of the session stays untouched)."""
    published = warehouse.publish_copy(embedded_run.build_db, tmp_path / "veerkracht.duckdb")
    queries = _queries()
    assert len(queries) == 4
    done, failures = threading.Event(), []

    def publish_repeatedly():
        try:
            while not done.is_set():
                warehouse.publish_copy(embedded_run.build_db, published)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    publisher = threading.Thread(target=publish_repeatedly)
    publisher.start()
    try:
        for _ in range(3):
            for sql in queries:
                with warehouse.connection(published, read_only=True) as con:
                    rows = con.execute(sql).fetchall()
                assert rows, sql
    finally:
        done.set()
        publisher.join()
    assert not failures, failures


def test_baarn_query_answers(embedded_run):
    """The first documented query returns Baarn's buurten, the highest kwetsbaarheid first, as the
    GIS layer of the same run ranks them (an independent read of the scores)."""
    import geopandas as gpd

    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        rows = con.execute(_queries()[0]).df()
    layer = gpd.read_parquet(embedded_run.layers / "2024" / "buurt_2024_28992.parquet")
    baarn = layer[layer["gemeente_name"] == "Baarn"].dropna(subset=["score"])
    assert set(baarn["code"]) <= set(rows["code"]) and rows["code"].str.startswith("BU0308").all()
    assert rows["code"].iloc[0] == baarn.loc[baarn["score"].idxmax(), "code"]


def test_every_mart_column_is_documented_and_commented(embedded_run):
    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        cols = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() "
                "WHERE schema_name = 'marts' AND table_name = 'area'"
            ).fetchall()
        )
        table_comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'marts' AND table_name = 'area'"
        ).fetchone()[0]
    assert set(cols) == set(COLUMNS)
    assert all(cols[c] for c in cols) and table_comment.startswith("One row per gemeente")
    generated = (DOC.parent / "data_dictionary.md").read_text()
    from veerkracht.publish.dictionary import markdown

    assert generated == markdown(), (
        "docs/data_dictionary.md is stale: python -m veerkracht.publish.dictionary"
    )
