"""The local map server: Range requests as PMTiles sends them, as a map open during a republish
needs them (validators, If-Range), and as a hostile client might send them."""

from __future__ import annotations

import http.client
import threading

import pytest

from veerkracht.publish.serve import make_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    (folder / "tiles.pmtiles").write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    (folder / "sub").mkdir()
    (folder / "sub" / "secret.txt").write_text("x")
    srv = make_server(folder, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


def _get(port: int, path: str, range_header: str | None = None, **headers: str) -> tuple[int, dict, bytes]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if range_header:
        headers["Range"] = range_header
    con.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    resp = con.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


@pytest.mark.parametrize(
    "header,status,body",
    [
        ("bytes=0-126", 206, bytes(range(127))),
        ("bytes=10230-", 206, bytes(range(246, 256))),
        ("bytes=-4", 206, bytes(range(252, 256))),
        ("bytes=5-10000000", 206, (bytes(range(256)) * 40)[5:]),
    ],
)
def test_ranges_are_served(server, header, status, body):
    got = _get(server, "/tiles.pmtiles", header)
    assert got[0] == status and got[2] == body
    assert got[1]["content-range"].endswith("/10240")
    # Issue 26.7: validators on partial answers too, so a client can tell two archives apart.
    assert got[1]["etag"] and got[1]["last-modified"]


@pytest.mark.parametrize("header", ["bytes=-", "bytes=" + "9" * 5000 + "-", "bytes=20000-", "bytes=9-3"])
def test_unsatisfiable_or_absurd_ranges_get_416(server, header):
    status, headers, _ = _get(server, "/tiles.pmtiles", header)
    assert status == 416 and headers["content-range"] == "bytes */10240"


@pytest.mark.parametrize("header", ["items=0-9", "lines=1-2", "bytes"])
def test_ranges_in_other_units_are_ignored(server, header):
    """RFC 9110 14.2: a Range in a unit the server does not understand is ignored (was 416)."""
    status, _, body = _get(server, "/tiles.pmtiles", header)
    assert status == 200 and body == bytes(range(256)) * 40


def test_several_ranges_are_answered_multipart(server):
    """Was 416; the standard allows the whole file or multipart/byteranges."""
    status, headers, body = _get(server, "/tiles.pmtiles", "bytes=0-9,20-29")
    assert status == 206 and headers["content-type"].startswith("multipart/byteranges")
    assert bytes(range(10)) in body and bytes(range(20, 30)) in body
    assert b"Content-Range: bytes 0-9/10240" in body and b"Content-Range: bytes 20-29/10240" in body


def test_if_range_sends_a_changed_file_whole(server):
    """A map open while the archive is republished: a range asked against the old archive's
    validator gets the new archive whole (200), never a piece of it mixed with the old one."""
    _, first, _ = _get(server, "/tiles.pmtiles", "bytes=0-9")
    status, _, body = _get(server, "/tiles.pmtiles", "bytes=0-9", If_Range=first["etag"])
    assert status == 206 and body == bytes(range(10))
    status, _, body = _get(server, "/tiles.pmtiles", "bytes=0-9", If_Range='"an-older-archive"')
    assert status == 200 and len(body) == 10240
    status, _, _ = _get(server, "/tiles.pmtiles", "bytes=0-9", If_Range=first["last-modified"])
    assert status == 206


def test_only_the_folder_is_served(server):
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../etc/passwd"):
        assert _get(server, path)[0] == 404, path


def test_folders_are_not_listed(server):
    assert _get(server, "/sub/")[0] == 404
    assert _get(server, "/sub/secret.txt")[0] == 200  # files still are served
