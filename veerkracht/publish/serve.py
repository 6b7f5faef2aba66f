"""Serve the web map locally: ``python -m veerkracht.publish.serve [folder] [--port 8000]``.

Like ``python -m http.server``, plus HTTP Range requests, which PMTiles needs to read single
tiles out of the archive (the standard library's server always sends the whole file).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits: far beyond any file size


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """Static files with single-range ``Range: bytes=a-b`` support (206 Partial Content); a range
    it cannot satisfy (``bytes=-``, absurd numbers, past the end) gets 416, never a dropped
    connection; folders are not listed."""

    def send_head(self):
        path = self.translate_path(self.path)
        header = self.headers.get("Range", "").strip()
        match = _RANGE.match(header)
        if not header or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start, end = match.groups() if match else ("", "")
        if not match or (start == "" and end == ""):
            return self._not_satisfiable(size)
        if start == "":  # suffix range: the last N bytes
            first, last = max(0, size - int(end)), size - 1
        else:
            first, last = int(start), min(int(end) if end else size - 1, size - 1)
        if first > last or first >= size:
            return self._not_satisfiable(size)
        f = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        f.seek(first)
        self._remaining = last - first + 1
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(self._remaining))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return f

    def _not_satisfiable(self, size: int):
        self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
        self.send_header("Content-Range", f"bytes */{size}")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def list_directory(self, path):
        # No directory listings: the web folder is a map, not a file browser.
        self.send_error(HTTPStatus.NOT_FOUND, "No directory listings")
        return None

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            chunk = source.read(min(64 * 1024, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)
        self._remaining = None

    def log_message(self, *args) -> None:
        if os.environ.get("VEERKRACHT_SERVE_QUIET") != "1":
            super().log_message(*args)


def make_server(folder: Path, port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server for ``folder``; ``port=0`` picks a free port (see ``server.server_address``)."""
    handler = functools.partial(RangeRequestHandler, directory=str(folder))
    return ThreadingHTTPServer((host, port), handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(Path("data") / "out" / "web"))
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = make_server(Path(args.folder), args.port)
    print(f"Serving {args.folder} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
