"""Serve the web map locally: ``python -m veerkracht.publish.serve [folder] [--port 8000]``.

Starlette's ``StaticFiles`` under uvicorn (both come with dagster-webserver): HTTP Range requests,
which PMTiles needs to read single tiles out of the archive (the standard library's server always
sends the whole file), with what a map open during a republish relies on: ``ETag`` and
``Last-Modified`` on every answer, ``If-Range`` (a changed archive is sent whole, never mixed
with the old one), several ranges in one request (206 multipart). Only the folder is served,
without listings, bound to 127.0.0.1 unless told otherwise.

Two answers differ from Starlette's own, as RFC 9110 asks (section 14.2): a Range in a unit
other than ``bytes`` is ignored (200, the whole file; Starlette says 400), and a ``bytes`` range
that is malformed or empty (``bytes=-``, ``bytes=9-3``) is not satisfiable (416, as before).
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable
from starlette.routing import Mount
from starlette.staticfiles import NotModifiedResponse, StaticFiles


class _MapFileResponse(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        unit, sep, _ = http_range.partition("=")
        if not sep or unit.strip().lower() != "bytes":
            return []  # a unit we do not serve: ignored, the whole file
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            raise RangeNotSatisfiable(file_size) from None


class MapFiles(StaticFiles):
    """The web folder as static files (``index.html`` for ``/``), answering Range requests."""

    def file_response(self, full_path, stat_result, scope, status_code: int = 200):
        response = _MapFileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


class MapServer:
    """uvicorn serving ``folder`` on a socket bound at construction (``port=0``: a free port, see
    ``server_address``); ``serve_forever`` in any thread, ``shutdown`` from another."""

    def __init__(self, folder: Path, port: int = 8000, host: str = "127.0.0.1"):
        quiet = os.environ.get("VEERKRACHT_SERVE_QUIET") == "1"
        self.socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.listen(2048)  # connections queue from now on, before uvicorn has started
        self.server_address = self.socket.getsockname()
        config = uvicorn.Config(
            # Mounted in an app, whose exception middleware turns "not found" into a 404 answer.
            Starlette(routes=[Mount("/", app=MapFiles(directory=str(folder), html=True))]),
            log_level="warning" if quiet else "info",
            access_log=not quiet,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._stopped.wait(timeout)
        self.socket.close()


def make_server(folder: Path, port: int = 8000, host: str = "127.0.0.1") -> MapServer:
    """A server for ``folder``; ``port=0`` picks a free port (see ``server.server_address``)."""
    return MapServer(Path(folder), port, host)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve the web map (a folder with index.html and the PMTiles archives) locally.",
    )
    parser.add_argument(
        "folder",
        nargs="?",
        default=str(Path("data") / "out" / "web"),
        help="the web folder (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default: %(default)s; 0 = any free one)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)"
    )
    args = parser.parse_args(argv)
    if not (Path(args.folder) / "index.html").is_file():
        parser.error(f"no web map in {args.folder} (no index.html): run the pipeline first")
    server = make_server(Path(args.folder), args.port, args.host)
    print(
        f"Serving {args.folder} at http://{args.host}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
