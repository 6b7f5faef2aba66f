"""The cache of files made from the inputs (veerkracht/cache.py): what it keeps and hands out."""

from __future__ import annotations

import os
from pathlib import Path

from veerkracht.cache import FileCache


def _must_start_with_ok(path) -> None:
    if not path.read_bytes().startswith(b"ok"):
        raise ValueError(f"{path} is damaged")


def test_keeps_the_files_used_last_and_hands_out_only_whole_ones(tmp_path):
    cache = FileCache(tmp_path / "cache", keep=2, verify=_must_start_with_ok)
    made = tmp_path / "made"
    for i, name in enumerate(("a", "b", "c")):
        made.write_bytes(b"ok " + name.encode())
        cache.keep(made, name)
        os.utime(tmp_path / "cache" / name, (1000 + i, 1000 + i))  # kept in this order
    assert not cache.fetch("nothing", tmp_path / "x")
    assert cache.fetch("b", tmp_path / "b") and (tmp_path / "b").read_bytes() == b"ok b"
    made.write_bytes(b"ok d")
    cache.keep(made, "d")  # "c" (older than the "b" just used) goes, with "a" before it
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["b", "d"]
    (tmp_path / "cache" / "d").write_bytes(b"half")
    assert not cache.fetch("d", tmp_path / "d")  # a damaged copy is not handed out ...
    assert not (tmp_path / "cache" / "d").exists() and not (tmp_path / "d").exists()  # ... and goes


def test_where_the_cache_is(monkeypatch, tmp_path):
    from veerkracht.paths import cache_from_env

    monkeypatch.setenv("VEERKRACHT_CACHE", "off")
    assert cache_from_env() == ""
    monkeypatch.setenv("VEERKRACHT_CACHE", str(tmp_path))
    assert cache_from_env() == str(tmp_path)
    monkeypatch.delenv("VEERKRACHT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_from_env() == str(tmp_path / "xdg" / "veerkracht")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_from_env() == str(tmp_path / "home" / ".cache" / "veerkracht")
    monkeypatch.delenv("HOME")

    def no_home(cls):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", classmethod(no_home))
    assert cache_from_env() == ""  # no home folder: no cache, and the settings still load
