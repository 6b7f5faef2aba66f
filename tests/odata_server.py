"""A local CBS OData v3 server on 127.0.0.1 for tests, replaying the real response shapes.

It serves a KWB snapshot (the embedded real data) the way ``opendata.cbs.nl/ODataFeed/odata``
does: a service document listing the table's parts, ``TableInfos``, ``DataProperties``, the
``WijkenEnBuurten`` dimension (padded codes as keys, names as titles), ``CategoryGroups`` and a
``TypedDataSet`` paged by ``$skip`` with an ``odata.nextLink`` that points back at this server
(CBS pages at 10,000 rows). Each body is ``{"odata.metadata": ..., "value": [...]}`` as in the
recorded responses in ../shared/cbs/odata_v3_protocol_fixtures_cbsodata3jl.

Failure modes for tests: ``fail_next`` (HTTP status for the next N requests) and ``stall_s``
(sleep before answering).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd

from veerkracht.snapshot import KwbSnapshot

BULK = "/ODataFeed/odata"


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON objects: NA -> null, Int64 -> integer, as the feed serialises them."""
    return json.loads(frame.to_json(orient="records", force_ascii=False))


class ODataFixture:
    """Serves one table id; ``serve(snapshot)`` swaps in another vintage (a CBS revision)."""

    def __init__(self, page_size: int = 10_000):
        self.page_size = page_size
        self.fail_next: list[int] = []
        self.stall_s = 0.0
        self.requests: list[str] = []
        self._parts: dict[str, list[dict]] = {}
        self.table_id = ""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def serve(self, snapshot: KwbSnapshot) -> None:
        data = snapshot.data.copy()
        code_key = next(c for c in data.columns if c.startswith("Codering"))
        codes = data[code_key].astype("string").str.strip().str.ljust(10)
        dimension = [{"Key": c, "Title": t, "Description": None, "DimensionGroupId": None}
                     for c, t in zip(codes, data["WijkenEnBuurten"].astype("string").str.strip())]
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
            "TypedDataSet": _records(data),
        }

    def __enter__(self) -> ODataFixture:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                fixture.requests.append(self.path)
                if fixture.stall_s:
                    time.sleep(fixture.stall_s)
                if fixture.fail_next:
                    self._send(fixture.fail_next.pop(0), {"error": "injected failure"})
                    return
                url = urlparse(self.path)
                parts = [p for p in url.path[len(BULK):].split("/") if p]
                if not url.path.startswith(BULK) or not parts or parts[0] != fixture.table_id:
                    self._send(404, {"odata.error": {"message": {"value": "Resource not found"}}})
                    return
                base = f"http://{fixture.host}{BULK}/{fixture.table_id}"
                if len(parts) == 1:
                    body = [{"name": n, "url": f"{base}/{n}"} for n in fixture._parts]
                    body.insert(4, {"name": "UntypedDataSet", "url": f"{base}/UntypedDataSet"})
                    self._send(200, {"odata.metadata": f"{base}/$metadata", "value": body})
                    return
                name = parts[1]
                if name not in fixture._parts:
                    self._send(404, {"odata.error": {"message": {"value": f"No {name}"}}})
                    return
                rows = fixture._parts[name]
                body = {"odata.metadata": f"{base}/$metadata#Cbs.OData.WebAPI.{name}"}
                skip = int(parse_qs(url.query).get("$skip", ["0"])[0])
                if name == "TypedDataSet" and len(rows) - skip > fixture.page_size:
                    body["value"] = rows[skip: skip + fixture.page_size]
                    body["odata.nextLink"] = (f"{base}/TypedDataSet/?$format=json"
                                              f"&$skip={skip + fixture.page_size}")
                else:
                    body["value"] = rows[skip:]
                self._send(200, body)

            def _send(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler
