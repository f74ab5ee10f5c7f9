"""Compressed responses (app/compression.py): brotli or gzip as the client asks, for JSON, pages, JS, CSS
and SVG, never for images or byte ranges; the decompressed body is the original, byte for byte; the same
under waitress as under the test client; off by COMPRESS_RESPONSES."""

from __future__ import annotations

import gzip
import threading
import urllib.request
from collections.abc import Callable, Iterator

import brotli
import flask_compress.flask_compress as flask_compress
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import compression
from app.config import PROJECT_ROOT
from tests.conftest import AppFactory

DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.decompress, "br": brotli.decompress}
STATIC = PROJECT_ROOT / "app" / "web" / "static"
LEAFLET = PROJECT_ROOT / "node_modules" / "leaflet" / "dist"


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_json_is_compressed_and_decompresses_to_the_original(client: FlaskClient, encoding: str) -> None:
    plain = client.get("/api/v1/openapi.json")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers  # nothing asked, none sent
    answer = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": encoding})
    assert answer.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in answer.headers["Vary"]
    assert int(answer.headers["Content-Length"]) == len(answer.data) < len(plain.data) / 4
    assert DECOMPRESS[encoding](answer.data) == plain.data


def test_a_browser_gets_brotli_for_a_page(client: FlaskClient) -> None:
    answer = client.get("/login", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "br"
    page = brotli.decompress(answer.data).decode()
    assert page.startswith("<!doctype html>") and 'id="password"' in page


@pytest.mark.parametrize(
    "url, path",
    [
        ("/static/js/task_form.js", STATIC / "js" / "task_form.js"),
        ("/static/css/app.css", STATIC / "css" / "app.css"),
        ("/static/icons/favicon.svg", STATIC / "icons" / "favicon.svg"),
        ("/vendor/leaflet/dist/leaflet.js", LEAFLET / "leaflet.js"),
    ],
)
@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_static_files_are_compressed_as_they_stream(client: FlaskClient, url, path, encoding) -> None:
    original = path.read_bytes()
    answer = client.get(url, headers={"Accept-Encoding": encoding})
    assert answer.status_code == 200
    if len(original) < 500:  # too small to be worth it
        assert "Content-Encoding" not in answer.headers and answer.data == original
        return
    assert answer.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in answer.headers["Vary"]
    assert DECOMPRESS[encoding](answer.data) == original
    assert len(answer.data) < len(original) * 0.6


def test_a_file_is_compressed_once_per_version(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    compressed: list[int] = []
    real = compression.brotli.compress

    def counted(data: bytes, **options: int) -> bytes:
        compressed.append(len(data))
        return real(data, **options)

    monkeypatch.setattr(compression.brotli, "compress", counted)
    original = (LEAFLET / "leaflet.js").read_bytes()
    answers = [client.get("/vendor/leaflet/dist/leaflet.js", headers={"Accept-Encoding": "br"}) for _ in "ab"]
    assert [brotli.decompress(answer.data) for answer in answers] == [original, original]
    assert compressed == [len(original)]  # the second visitor got the kept bytes


def test_images_are_sent_as_they_are(client: FlaskClient) -> None:
    original = (LEAFLET / "images" / "layers-2x.png").read_bytes()
    answer = client.get("/vendor/leaflet/dist/images/layers-2x.png", headers={"Accept-Encoding": "gzip, br"})
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert "Content-Encoding" not in answer.headers
    assert answer.data == original


def test_a_byte_range_is_the_original_bytes(client: FlaskClient) -> None:
    original = (STATIC / "js" / "task_form.js").read_bytes()
    asked = {"Accept-Encoding": "br", "Range": "bytes=100-599"}
    answer = client.get("/static/js/task_form.js", headers=asked)
    assert answer.status_code == 206 and "Content-Encoding" not in answer.headers
    assert answer.data == original[100:600]


def test_a_compressed_file_is_revalidated_by_its_etag(client: FlaskClient) -> None:
    first = client.get("/static/js/task_form.js", headers={"Accept-Encoding": "br"})
    etag = first.headers["ETag"]
    assert etag.endswith(':br"')
    again = client.get("/static/js/task_form.js", headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_compression_can_be_turned_off(make_app: AppFactory) -> None:
    app = make_app("sqlite", compress_responses=False)
    answer = app.test_client().get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip, br"})
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
    assert answer.data.startswith(b"{")


@pytest.fixture
def waitress_url(app: Flask) -> Iterator[str]:
    """The app served by waitress (``make run``'s server) on a free port."""
    from waitress import create_server, wasyncore

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        # closed from its own loop (closing the socket under a running select() fails that thread); a loop
        # that has already ended has closed its trigger with it: nothing left to signal
        if thread.is_alive():
            try:
                server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))  # type: ignore[union-attr]
            except OSError:
                # the trigger's descriptor was closed under it (EBADF, seen once in a full run: a socket of an
                # earlier test collected late closes its old descriptor number, reused by this pipe): close
                # the server's sockets from here, which ends its select() and with it the loop
                wasyncore.close_all(server._map)  # type: ignore[union-attr]
            thread.join(timeout=10)
        server.task_dispatcher.shutdown()


@pytest.mark.parametrize(
    "path, original",
    [
        ("/static/js/task_form.js", (STATIC / "js" / "task_form.js").read_bytes()),
        ("/vendor/leaflet/dist/leaflet.css", (LEAFLET / "leaflet.css").read_bytes()),
    ],
)
def test_waitress_sends_the_compressed_file(
    waitress_url: str, path: str, original: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_request: list[str] = []
    monkeypatch.setattr(flask_compress, "_compress_data", lambda *args: per_request.append(args[2]))
    for _ in range(2):
        request = urllib.request.Request(waitress_url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["Content-Encoding"] == "gzip"
            assert "Accept-Encoding" in answer.headers["Vary"]
            body = answer.read()
        assert gzip.decompress(body) == original
    assert per_request == []  # a file comes from the kept bytes, under waitress's file wrapper too
