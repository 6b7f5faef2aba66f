"""The cache of files made from the inputs (veerkracht/cache.py): what it keeps and hands out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
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


MAKER = """
import sys
from pathlib import Path
from veerkracht.cache import FileCache
cache = FileCache(Path(sys.argv[1]), keep=4)
with cache.making("tiles.pmtiles"):
    print("making", flush=True)
    sys.stdin.readline()
    made = Path(sys.argv[2])
    made.write_bytes(b"ok tiles")
    cache.keep(made, "tiles.pmtiles")
"""


def _maker(tmp_path) -> subprocess.Popen:
    maker = subprocess.Popen(
        [sys.executable, "-c", MAKER, str(tmp_path / "cache"), str(tmp_path / "made")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert maker.stdout.readline().strip() == "making"
    return maker


def _take_or_make(cache: FileCache, target: Path, got: list) -> None:
    with cache.making("tiles.pmtiles"):
        got.append(cache.fetch("tiles.pmtiles", target))


def test_a_run_needing_a_file_another_run_is_making_waits_and_takes_it(tmp_path):
    """Two output folders built at once tile the same boundaries once: the second run waits for
    the first to keep the archive, then copies it instead of making its own."""
    maker = _maker(tmp_path)
    cache, got = FileCache(tmp_path / "cache", keep=4, verify=_must_start_with_ok), []
    waiting = threading.Thread(target=_take_or_make, args=(cache, tmp_path / "mine", got))
    try:
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and got == [], "did not wait for the run making the file"
        maker.stdin.write("done\n")
        maker.stdin.flush()
        waiting.join(30)
        assert got == [True] and (tmp_path / "mine").read_bytes() == b"ok tiles"
    finally:
        maker.kill()
        maker.wait(timeout=30)


def test_a_killed_maker_leaves_the_turn_free_and_nothing_half_made(tmp_path):
    maker = _maker(tmp_path)
    maker.send_signal(signal.SIGKILL)
    maker.wait(timeout=30)
    got: list = []
    _take_or_make(FileCache(tmp_path / "cache", keep=4), tmp_path / "mine", got)
    assert got == [False] and not (tmp_path / "mine").exists()  # so this run makes it itself


def test_a_maker_stuck_past_the_wait_does_not_hold_up_the_run(tmp_path, monkeypatch):
    import veerkracht.cache

    monkeypatch.setattr(veerkracht.cache, "MAKING_WAIT_S", 0.5)
    maker = _maker(tmp_path)  # making, and never done
    try:
        got: list = []
        _take_or_make(FileCache(tmp_path / "cache", keep=4), tmp_path / "mine", got)
        assert got == [False]  # it went on to make its own
    finally:
        maker.kill()
        maker.wait(timeout=30)
