"""Compressed responses (Flask-Compress): brotli, else gzip, for text bodies (pages, JSON, JS, CSS, SVG),
never for photos (JPEG and PNG are compressed already). Every response says ``Vary: Accept-Encoding`` so a
cache keeps one copy per encoding. It is an after-request hook of the app, so waitress (``make run``) and
gunicorn (the stack) send the same bytes. ``COMPRESS_RESPONSES=0`` turns it off: a proxy in front that
compresses by itself, or the page bench's baseline (bench/pages.py).

Static files and npm libraries are compressed once per version and kept (``compress_served_files``: the
web layer names the file a request serves); with their fingerprinted URLs (app/web/assets.py) a browser
fetches each version once."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from pathlib import Path

import brotli
from flask import Flask, request
from flask.wrappers import Response
from flask_compress import Compress
from flask_compress.flask_compress import _choose_algorithm

from app import runtime

# What is worth compressing: text. zstd (Flask-Compress's first choice) is left out: gzip and brotli are
# what every browser and proxy here speaks, and the order is the server's preference at equal quality.
ALGORITHMS = ["br", "gzip"]
MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/csv",
    "text/xml",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/problem+json",
    "application/geo+json",
    "application/manifest+json",
    "application/xml",
    "image/svg+xml",
]
MIN_SIZE = 500  # bytes: below this the headers cost more than the compression saves
FILE_BR_QUALITY = 6  # files, compressed once: leaflet.js 43.0 KB at 4, 39.6 at 6 (11: 36.1, but 2 s)
COMPRESS = "gridcase.compress"


class GridcaseCompress(Compress):
    """Flask-Compress with two answers of its own:

    - a 206 is left alone: it carries a byte range of the original file, and compressing that range would
      give the client bytes that fit no offset it asked for;
    - a file the app serves as it is (a static file, an npm library: ``served_file`` names it) is
      compressed once per version and encoding per process, at a higher level than a page (brotli 6: a
      tenth smaller than 4), and kept: ECharts costs ~200 ms of CPU to compress, too much for each visitor.
      The answer keeps the file's ETag with the encoding added, and is conditional (a 304 on revalidation).
    """

    def __init__(self, app: Flask) -> None:
        self.served_file: Callable[[], Path | None] = lambda: None
        self._files: dict[tuple[Path, str], tuple[int, int, bytes]] = {}
        self._lock = threading.Lock()
        super().__init__(app)

    def after_request(self, response: Response | None) -> Response:
        if response is None:
            return super().after_request(response)
        if response.status_code == 206:
            return response
        if (  # a file as send_file answers it (streamed, or a server's file wrapper such as waitress's)
            response.status_code == 200
            and response.direct_passthrough
            and response.mimetype in self.compress_mimetypes_set
            and "Content-Encoding" not in response.headers
        ):
            path = self.served_file()
            if path is not None:
                return self._compressed_file(response, path)
        return super().after_request(response)

    def _compressed_file(self, response: Response, path: Path) -> Response:
        response.vary.add("Accept-Encoding")
        algorithm = _choose_algorithm(self.enabled_algorithms, request.headers.get("Accept-Encoding", ""))
        if algorithm is None or (response.content_length or 0) < MIN_SIZE:
            return response
        body = self._file_body(path, algorithm)
        if body is None:
            return response
        response.close()  # the open file send_file would have streamed
        response.direct_passthrough = False
        response.set_data(body)
        response.headers["Content-Encoding"] = algorithm
        etag, weak = response.get_etag()
        if etag and not weak:
            response.set_etag(f"{etag}:{algorithm}")
        if request.method in ("GET", "HEAD"):
            response.make_conditional(request)
        return response

    def _file_body(self, path: Path, algorithm: str) -> bytes | None:
        """The file compressed, from the cache while its size and mtime are those it was made from."""
        try:
            before = path.stat()
            known = self._files.get((path, algorithm))
            if known is not None and known[:2] == (before.st_size, before.st_mtime_ns):
                return known[2]
            data = path.read_bytes()
            after = path.stat()
        except OSError:
            return None
        body = brotli.compress(data, quality=FILE_BR_QUALITY) if algorithm == "br" else gzip.compress(data)
        if (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):  # not mid-rewrite
            with self._lock:
                self._files[(path, algorithm)] = (after.st_size, after.st_mtime_ns, body)
        return body


def init_compression(app: Flask) -> None:
    """Register the compression hook. Call it before the blueprints: after-request hooks run last-registered
    first, so this one sees the body after every other hook has written or read it (the CSP's hashes)."""
    app.config.update(
        COMPRESS_REGISTER=runtime.settings(app).compress_responses,
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_ALGORITHM_STREAMING=ALGORITHMS,
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_MIN_SIZE=MIN_SIZE,
        COMPRESS_STREAMS=True,
    )
    app.extensions[COMPRESS] = GridcaseCompress(app)


def compress_served_files(app: Flask, served_file: Callable[[], Path | None]) -> None:
    """Tell the compression which file the current request serves as it is (None: not a file)."""
    compressor: GridcaseCompress = app.extensions[COMPRESS]
    compressor.served_file = served_file
