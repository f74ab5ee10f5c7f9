"""Compressed responses (Flask-Compress): brotli, else gzip, for text bodies (pages, JSON, JS, CSS, SVG),
never for photos (JPEG and PNG are compressed already). Every response says ``Vary: Accept-Encoding`` so a
cache keeps one copy per encoding. It is an after-request hook of the app, so waitress (``make run``) and
gunicorn (the stack) send the same bytes. ``COMPRESS_RESPONSES=0`` turns it off: a proxy in front that
compresses by itself, or the page bench's baseline (bench/pages.py).

Static files are streamed (``send_file``) and compressed as they stream; with their fingerprinted URLs
(app/web/assets.py) a browser fetches each version once, so they are not compressed again and again."""

from __future__ import annotations

from flask import Flask, request
from flask.wrappers import Response
from flask_compress import Compress

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


class GridcaseCompress(Compress):
    """Flask-Compress with two answers of its own:

    - a 206 is left alone: it carries a byte range of the original file, and compressing that range would
      give the client bytes that fit no offset it asked for;
    - a streamed file (``send_file``: static files, npm libraries) that carries its ETag is made conditional
      again once compressed (its ETag now names the encoding), so a revalidation gets a 304, not the file.
      Flask-Compress does that only for an endpoint named ``static``; ours are ``<blueprint>.static``."""

    def after_request(self, response: Response | None) -> Response:
        if response is not None and response.status_code == 206:
            return response
        response = super().after_request(response)
        if (
            response.is_streamed
            and "Content-Encoding" in response.headers
            and response.get_etag()[0]
            and request.method in ("GET", "HEAD")
        ):
            response.make_conditional(request)
        return response


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
    app.extensions["gridcase.compress"] = GridcaseCompress(app)
