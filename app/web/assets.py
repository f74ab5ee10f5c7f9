"""Fingerprinted static files, cached for a year.

Every URL built for a blueprint's static files (``url_for('web.static', filename=...)``, any
``<blueprint>.static``) or an npm library (``vendor_url`` → ``web.vendor``) gets ``?v=<hash of the file's
content>``. A request whose ``v`` is the file's current hash is answered ``Cache-Control: public,
max-age=31536000, immutable``: the browser (and the phone app's service worker) never asks again, and a
changed file gets a new URL with the next page. A request without it (an old page, a URL typed by hand, an
image a library's CSS names relatively) or with an old hash gets a short cache, revalidated by ETag.

Why a query and not a hashed path: templates keep calling ``url_for`` as they do, ``send_static_file``
serves the file as it is, and the relative URLs inside a library's CSS (leaflet's images, bpmn-js's font)
still resolve next to it. The hash is computed once per version of a file per process: the cache is keyed
by the path and checked against the file's size and modification time (one ``stat``, no read), so a file
replaced while the process runs gets its new hash at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Response
from werkzeug.security import safe_join

from app.compression import compress_served_files

FINGERPRINT = "v"  # the query argument
LONG_MAX_AGE = 365 * 24 * 3600  # a year: the URL changes with the content
SHORT_MAX_AGE = 300  # five minutes, then revalidated by ETag (a 304 costs headers only)
HASH_LENGTH = 12  # hex digits of SHA-256: 48 bits, no collision between versions of one file in practice

# Endpoints serving files beside ``<blueprint>.static``: name -> the file a request's view args name.
FileOfRequest = Callable[[dict[str, Any]], Path | None]
_FILE_ENDPOINTS: dict[str, FileOfRequest] = {}


def serves_files(endpoint: str, file_of: FileOfRequest) -> None:
    """Declare an endpoint that serves files (``file_of(view args)`` names the file): its URLs get the
    fingerprint and its answers the cache rule, as the static endpoints do."""
    _FILE_ENDPOINTS[endpoint] = file_of


class Fingerprints:
    """Content hashes of files, each computed once per version of the file (its size and mtime)."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def of(self, path: Path) -> str | None:
        """The file's fingerprint, or None when it is not a readable file."""
        try:
            stat = path.stat()
        except OSError:
            return None
        known = self._known.get(path)
        if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        try:
            with path.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()[:HASH_LENGTH]
        except OSError:  # a folder, or gone between the stat and the read
            return None
        with self._lock:
            self._known[path] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest


def _static_file(app: Flask, endpoint: str, values: dict[str, Any]) -> Path | None:
    blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
    folder = blueprint.static_folder if blueprint is not None else None
    filename = values.get("filename")
    if folder is None or not isinstance(filename, str):
        return None
    joined = safe_join(folder, filename)
    return Path(joined) if joined is not None else None


def file_of(app: Flask, endpoint: str | None, values: dict[str, Any]) -> Path | None:
    """The file an asset endpoint serves for these arguments, or None for any other endpoint."""
    if endpoint is None:
        return None
    if endpoint.endswith(".static"):
        return _static_file(app, endpoint, values)
    file_of_request = _FILE_ENDPOINTS.get(endpoint)
    return file_of_request(values) if file_of_request is not None else None


def fingerprints(app: Flask) -> Fingerprints:
    found: Fingerprints = app.extensions["gridcase.fingerprints"]
    return found


def is_asset_endpoint(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint.endswith(".static") or endpoint in _FILE_ENDPOINTS)


def _add_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for`` hook: a file's URL carries its content hash (unless the caller gave one)."""
    if FINGERPRINT in values or not is_asset_endpoint(endpoint):
        return
    path = file_of(current_app, endpoint, values)
    digest = fingerprints(current_app).of(path) if path is not None else None
    if digest is not None:
        values[FINGERPRINT] = digest


def _cache_rule(response: Response) -> Response:
    """A year, immutable, for the URL naming the file's current content; a short cache for any other."""
    if response.status_code not in (200, 304) or request.url_rule is None:
        return response
    path = _served_file()
    if path is None:
        return response
    asked = request.args.get(FINGERPRINT)
    cache = response.cache_control
    cache.public = True
    cache.no_cache = None  # send_file's default when it is given no lifetime
    if asked is not None and asked == fingerprints(current_app).of(path):
        cache.max_age = LONG_MAX_AGE
        cache.immutable = True
    else:
        cache.max_age = SHORT_MAX_AGE
        cache.immutable = False
    response.headers.pop("Expires", None)  # Cache-Control says it all (send_file writes "now" there)
    return response


class SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, left out of the answers with files: a file is the same for everyone, so
    its answer carries no ``Set-Cookie`` and no ``Vary: Cookie`` (which would make a browser's cache miss
    after each sign-in or cookie refresh, and keep proxies from sharing it); the next page refreshes the
    session. (The request log reads the user, which marks the session accessed on every request.)"""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if is_asset_endpoint(request.endpoint):
            return
        super().save_session(app, session, response)


def _served_file() -> Path | None:
    return file_of(current_app, request.endpoint, request.view_args or {})


def init_assets(app: Flask) -> None:
    app.extensions["gridcase.fingerprints"] = Fingerprints()
    app.session_interface = SessionInterface()
    compress_served_files(app, _served_file)  # compressed once per version, not per request
    app.url_defaults(_add_fingerprint)
    app.after_request(_cache_rule)
