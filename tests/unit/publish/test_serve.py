"""The local map server: Range requests as PMTiles sends them, and as a hostile client might."""

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


def _get(port: int, path: str, range_header: str | None = None) -> tuple[int, dict, bytes]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request("GET", path, headers={"Range": range_header} if range_header else {})
    resp = con.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read()


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
    assert got[1]["Content-Range"].endswith("/10240")


@pytest.mark.parametrize(
    "header", ["bytes=-", "bytes=" + "9" * 5000 + "-", "bytes=20000-", "bytes=9-3", "lines=1-2"]
)
def test_unsatisfiable_or_absurd_ranges_get_416(server, header):
    status, headers, body = _get(server, "/tiles.pmtiles", header)
    assert status == 416 and headers["Content-Range"] == "bytes */10240" and body == b""


def test_folders_are_not_listed(server):
    assert _get(server, "/sub/")[0] == 404
    assert _get(server, "/sub/secret.txt")[0] == 200  # files still are served
