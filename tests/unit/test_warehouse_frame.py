"""``warehouse.frame``: a query's rows through Arrow, typed as DuckDB's own ``.df()`` types them
(the layer files are written from these frames, so a column type that differed would change the
files' schema)."""

import duckdb
import pandas as pd
import pytest

from veerkracht import warehouse

#: The column types of marts.area (and a BLOB, as the layers read their WKB), each with and
#: without NULLs, and entirely NULL: ``.df()`` types each of those differently.
ROWS = """
SELECT * FROM (VALUES
    (1::INTEGER, 1::INTEGER, NULL::INTEGER, 10::BIGINT, NULL::BIGINT, true, true, NULL::BOOLEAN,
     'BU0001', 'Zuid', NULL::VARCHAR, 0.5::DOUBLE, 1.5::DOUBLE, '\\x01'::BLOB),
    (2, NULL, NULL, 20, NULL, false, NULL, NULL, 'BU0002', NULL, NULL, 0.25, NULL, NULL)
) AS t(i, i_null, i_all_null, b, b_all_null, flag, flag_null, flag_all_null, code, name, nothing,
       x, x_null, wkb)
"""


@pytest.mark.parametrize("where", ["", "WHERE i = 1", "WHERE i = 2", "WHERE i > 2"])
def test_frame_types_the_rows_as_duckdb_does(where):
    con = duckdb.connect()
    query = f"SELECT * FROM ({ROWS}) {where} ORDER BY i"
    want = con.execute(query).df()
    got = warehouse.frame(con.execute(query))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # Not a copy of one type: the cases above do differ (nullable where a NULL is, objects for text
    # that is all NULL), so a frame typed one way for all would fail here.
    if where == "":
        assert str(want["i"].dtype) == "int32" and str(want["i_null"].dtype) == "Int32"
        assert str(want["flag"].dtype) == "bool" and str(want["flag_null"].dtype) == "boolean"
        assert want["nothing"].dtype == object and want["code"].dtype != object


def test_other_column_types_come_as_duckdb_gives_them():
    """A list, a decimal or a date are not read through Arrow (their pandas types differ there):
    the frame is DuckDB's own."""
    con = duckdb.connect()
    query = "SELECT 'BU0001' AS code, [1, 2] AS years, 1.5::DECIMAL(5, 2) AS share, DATE '2024-01-01' AS day"
    pd.testing.assert_frame_equal(
        warehouse.frame(con.execute(query)), con.execute(query).df(), check_exact=True
    )
