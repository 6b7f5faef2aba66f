"""Atomic publishing, transactions and the retry policy: the helpers every stage relies on."""

from __future__ import annotations

import duckdb
import pytest

from veerkracht import warehouse
from veerkracht.atomic import atomic_path
from veerkracht.retry import RetryPolicy


def test_a_failed_write_leaves_the_previous_file_and_no_leftovers(tmp_path):
    target = tmp_path / "layer.parquet"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="disk"):
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".parquet" and tmp.parent == tmp_path and not tmp.exists()
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full half-way")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.parquet"]


def test_verify_refuses_a_bad_file_before_the_rename(tmp_path):
    target = tmp_path / "db.duckdb"
    target.write_bytes(b"previous")

    def verify(path):
        if path.read_bytes() != b"good":
            raise ValueError("not a database")

    with pytest.raises(ValueError, match="not a database"):
        with atomic_path(target, verify=verify) as tmp:
            tmp.write_bytes(b"bad")
            (tmp.parent / (tmp.name + ".wal")).write_bytes(b"sidecar")
    assert target.read_bytes() == b"previous" and len(list(tmp_path.iterdir())) == 1
    with atomic_path(target, verify=verify) as tmp:
        tmp.write_bytes(b"good")
    assert target.read_bytes() == b"good"


def test_transaction_rolls_back_and_keeps_the_original_error():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INT)")
    with pytest.raises(duckdb.ConstraintException):
        with warehouse.transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
            con.execute("CREATE TABLE u (x INT PRIMARY KEY)")
            con.execute("INSERT INTO u VALUES (1), (1)")
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    # When the error already ended the transaction, ROLLBACK fails; the caller still sees the cause.
    with pytest.raises(KeyError, match="cause"):
        with warehouse.transaction(con):
            con.execute("COMMIT")
            raise KeyError("cause")


def test_retry_policy_retries_transient_failures_only():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "ok"

    policy = RetryPolicy(retries=3, backoff_s=0)
    assert policy.call(flaky, what="x", transient=lambda e: True, fail=lambda e, n: RuntimeError(n)) == "ok"
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(RuntimeError, match="^1$"):
        policy.call(flaky, what="x", transient=lambda e: False, fail=lambda e, n: RuntimeError(n))
    calls.clear()
    with pytest.raises(RuntimeError, match="^2$"):
        RetryPolicy(retries=1, backoff_s=0).call(
            flaky, what="x", transient=lambda e: True, fail=lambda e, n: RuntimeError(n)
        )


def test_the_file_and_its_folder_are_flushed_around_the_rename(tmp_path, monkeypatch):
    """A power cut after the rename must not leave an empty file: the new file's bytes are on
    disk before the rename, and the folder entry after it (fsync of the file, then the folder)."""
    import os

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        os,
        "fsync",
        lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd))[1],
    )
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append(("replace", str(b))), real_replace(a, b))[1]
    )
    target = tmp_path / "layer.parquet"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"]
    assert events[0][1].endswith(".partial-" + str(os.getpid()) + "-layer.parquet")
    assert events[2][1] == str(tmp_path) and target.read_bytes() == b"new"
