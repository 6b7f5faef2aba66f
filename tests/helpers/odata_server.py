"""Local CBS OData v3 servers on 127.0.0.1 for tests, replaying real response shapes.

``ODataFixture`` serves a KWB snapshot (the embedded real data) the way
``opendata.cbs.nl/ODataFeed/odata`` does: a service document listing the table's parts,
``TableInfos``, ``DataProperties``, the ``WijkenEnBuurten`` dimension (padded codes as keys,
names as titles), ``CategoryGroups`` and a ``TypedDataSet`` paged by ``$skip`` with an
``odata.nextLink`` back to this server (CBS pages at 10,000 rows), plus an ``ODataCatalog``
listing. ``RecordedFeed`` replays recorded real responses file by file.

Faults for tests: ``fault(kind, path_part, times)`` with kind ``500``/``503`` (HTTP status),
``reset`` (close the connection without answering), ``malformed`` (cut-off JSON), ``stall``
(answer after ``stall_s`` seconds), ``drip`` (the answer in 64-byte pieces every ``drip_s``
seconds, so no single read times out), ``endless`` (a body without length that never ends) or
``selflink`` (an ``odata.nextLink`` to the page just served), applied to requests whose path
contains ``path_part``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from testpaths import FIXTURES

from veerkracht.ingest.snapshot import KwbSnapshot

BULK = "/ODataFeed/odata"


class _Server:
    """Threaded HTTP server with fault injection; subclasses implement ``route``."""

    def __init__(self):
        self.requests: list[str] = []
        self.stall_s = 3.0
        self.drip_s = 0.05
        self._faults: list[list] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def fault(self, kind: str, path_part: str = "", times: int = 1) -> None:
        with self._lock:
            self._faults.append([kind, path_part, times])

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for f in self._faults:
                if f[1] in unquote(path) and f[2] > 0:
                    f[2] -= 1
                    return f[0]
        return None

    def route(self, path: str) -> tuple[int, dict]:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                fault = server._take_fault(self.path)
                if fault == "reset":
                    # Abort the TCP connection (RST): what a dropped connection looks like.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.connection.close()
                    return
                if fault == "stall":
                    time.sleep(server.stall_s)
                if fault in ("500", "503"):
                    self._send(int(fault), b'{"odata.error": {"message": {"value": "injected"}}}')
                    return
                status, body = server.route(self.path)
                if fault == "selflink":
                    body["odata.nextLink"] = f"http://{server.host}{self.path}"
                raw = json.dumps(body).encode()
                if fault == "endless":
                    self._send_endless(status)
                    return
                self._send(status, raw[: len(raw) // 2] if fault == "malformed" else raw, fault == "drip")

            def _send(self, status: int, raw: bytes, drip: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                pieces = [raw[i : i + 64] for i in range(0, len(raw), 64)] if drip else [raw]
                try:
                    for piece in pieces:
                        self.wfile.write(piece)
                        self.wfile.flush()
                        if drip:
                            time.sleep(server.drip_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            def _send_endless(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.end_headers()  # no Content-Length: the body ends when the connection does
                try:
                    self.wfile.write(b'{"value": [')
                    while True:
                        self.wfile.write(b'{"ID": 0}, ' * 4096)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


class ODataFixture(_Server):
    """Serves one KWB table; ``serve(snapshot)`` swaps in another vintage (a CBS revision)."""

    def __init__(self, page_size: int = 10_000):
        super().__init__()
        self.page_size = page_size
        self.table_id = ""
        self._parts: dict[str, list[dict]] = {}

    def serve(self, snapshot: KwbSnapshot) -> None:
        data = snapshot.data.copy()
        code_key = next(c for c in data.columns if c.startswith("Codering"))
        codes = data[code_key].astype("string").str.strip().str.ljust(10)
        dimension = [
            {"Key": c, "Title": t, "Description": None, "DimensionGroupId": None}
            for c, t in zip(codes, data["WijkenEnBuurten"].astype("string").str.strip(), strict=False)
        ]
        data["WijkenEnBuurten"] = codes  # the feed holds keys; cbsodata maps them to titles
        infos = [dict(i) for i in snapshot.table_infos]
        # This replay stands for a live download of that vintage: CBS states the release date
        # in TableInfos.Modified, so the fixture states the snapshot's vintage there.
        infos[0]["Modified"] = infos[0].get("Modified") or f"{snapshot.vintage}T00:00:00"
        self.table_id = snapshot.table_id
        self._parts = {
            "TableInfos": infos,
            "DataProperties": snapshot.data_properties,
            "WijkenEnBuurten": dimension,
            "CategoryGroups": [],
            # NA -> null, Int64 -> integer, as the feed serialises them.
            "TypedDataSet": json.loads(data.to_json(orient="records", force_ascii=False)),
        }

    def route(self, path: str) -> tuple[int, dict]:
        url = urlparse(path)
        if url.path.rstrip("/") == "/ODataCatalog/Tables":
            info = self._parts.get("TableInfos", [{}])[0]
            return 200, {
                "odata.metadata": f"http://{self.host}/ODataCatalog/$metadata#Tables",
                "value": [
                    {k: info.get(k) for k in ("Identifier", "Title", "ShortTitle", "Modified", "Period")}
                ],
            }
        parts = [p for p in url.path[len(BULK) :].split("/") if p]
        if not url.path.startswith(BULK) or not parts or parts[0] != self.table_id:
            return 404, {"odata.error": {"message": {"value": "Resource not found"}}}
        base = f"http://{self.host}{BULK}/{self.table_id}"
        if len(parts) == 1:
            names = list(self._parts)
            names.insert(4, "UntypedDataSet")
            return 200, {
                "odata.metadata": f"{base}/$metadata",
                "value": [{"name": n, "url": f"{base}/{n}"} for n in names],
            }
        name = parts[1]
        if name not in self._parts:
            return 404, {"odata.error": {"message": {"value": f"No {name}"}}}
        rows = self._parts[name]
        body = {"odata.metadata": f"{base}/$metadata#Cbs.OData.WebAPI.{name}"}
        skip = int(parse_qs(url.query).get("$skip", ["0"])[0])
        if name == "TypedDataSet" and len(rows) - skip > self.page_size:
            body["value"] = rows[skip : skip + self.page_size]
            body["odata.nextLink"] = f"{base}/TypedDataSet/?$format=json&$skip={skip + self.page_size}"
        else:
            body["value"] = rows[skip:]
        return 200, body


class RecordedFeed(_Server):
    """Replays recorded real CBS responses: request path (lower-cased, no query) -> file."""

    def __init__(self, files: dict[str, str], folder: Path = FIXTURES / "odata_v3_cbsodata3jl"):
        super().__init__()
        self._files = {k.lower().rstrip("/"): folder / v for k, v in files.items()}

    def route(self, path: str) -> tuple[int, dict]:
        url = urlparse(path)
        key = url.path.lower().rstrip("/")
        skip = parse_qs(url.query).get("$skip")
        if skip:
            key += f"?$skip={skip[0]}"
        if key not in self._files:
            return 404, {"odata.error": {"message": {"value": "Resource not found"}}}
        text = self._files[key].read_text()
        # The recordings link to the real host; point their links back at this server.
        text = re.sub(r"https://opendata\.cbs\.nl", f"http://{self.host}", text)
        return 200, json.loads(text)
