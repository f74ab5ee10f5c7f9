"""The servers: ``make run``'s waitress in one process, and gunicorn with two workers whose requests one
scrape of ``/metrics`` counts together (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from app.config import PROJECT_ROOT
from tests.conftest import _free_port
from tests.ops.servers import get, start, stop, wait_for


def _healthz_count(body: bytes) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "gridcase_http_requests_total" and sample.labels["endpoint"] == "/healthz"
    )


def _env(database: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{database}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "SECRET_KEY": "serving-test-secret",
        "REDIS_URL": "",
        "MQTT_URL": "",
    }


def test_metrics_count_the_requests_of_two_gunicorn_workers(sqlite_template: Path, tmp_path: Path):
    database = tmp_path / "gunicorn.sqlite3"
    shutil.copy(sqlite_template, database)
    metrics_folder = tmp_path / "metrics"
    (metrics_folder).mkdir()
    (metrics_folder / "counter_999999.db").write_bytes(b"left by an earlier run")  # emptied at start
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **_env(database, tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_folder),
        "GRIDCASE_NO_RUNNER": "1",  # embedded mode's runner thread would run in each worker
    }
    # gridcase's app, plus a path that takes 3 s (tests/ops/slow_wsgi.py) to be in flight at SIGTERM
    command = ["gunicorn", "-c", "deploy/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "2"]
    command.append("tests.ops.slow_wsgi:app")
    server = start(command, env, log)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", server, log, 60)
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        before = _healthz_count(body)  # wait_for's probes
        sent = 0
        # Requests on new connections, a few at a time, until both workers have answered some (which worker
        # accepts a connection is the kernel's choice); each worker writes its own file of counts. Bounded
        # by time, not by a count: on a busy machine the second worker may still be building its app while
        # the first one answers 400 requests (seen once in a full parallel run at load 8).
        deadline = time.monotonic() + 60
        while len(list(metrics_folder.glob("counter_*.db"))) < 2 and time.monotonic() < deadline:
            threads = [
                threading.Thread(target=get, args=(f"http://127.0.0.1:{port}/healthz",)) for _ in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent += len(threads)
        writers = {path.name for path in metrics_folder.glob("counter_*.db")}
        assert len(writers) == 2 and "counter_999999.db" not in writers, writers
        # Whichever worker answers the scrape, it counts the requests of both.
        for _ in range(6):
            status, body = get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            assert _healthz_count(body) == before + sent
        # SIGTERM while a request is in flight: it is answered, then the server exits.
        in_flight: list[tuple[int, bytes]] = []
        slow = threading.Thread(target=lambda: in_flight.append(get(f"http://127.0.0.1:{port}/test-slow")))
        slow.start()
        time.sleep(1)
    finally:
        took = stop(server)
    slow.join(timeout=10)
    assert in_flight == [(200, b"finished")]
    assert server.returncode == 0 and took < 30, log.read_text()[-2000:]


def test_make_run_serves_with_waitress_and_no_development_server(sqlite_template: Path, tmp_path: Path):
    port = _free_port()
    dry_run = subprocess.run(
        ["make", "-n", "-s", "run", "HOST=127.0.0.1", f"PORT={port}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    [serve] = [line for line in dry_run.stdout.splitlines() if "wsgi:app" in line]  # what `make run` runs
    assert "waitress-serve" in serve and "flask" not in serve
    database = tmp_path / "run.sqlite3"
    shutil.copy(sqlite_template, database)
    log = tmp_path / "run.log"
    server = start(serve, _env(database, tmp_path), log, shell=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", server, log, 60)
        assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        assert get(f"http://127.0.0.1:{port}/login")[0] == 200
    finally:
        stop(server)
    output = log.read_text()
    assert f"Serving on http://127.0.0.1:{port}" in output
    assert "development server" not in output.lower()
    assert "Do not use it in a production deployment" not in output


def test_an_empty_metrics_folder_setting_means_one_process(tmp_path: Path):
    """prometheus-client takes the variable's mere presence for multiprocess mode; an empty value (a
    container's override) must not write metric files into the working folder."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": ""}
    probe = "import os, app.metrics as m; print(m.multiprocess_folder(), m.MULTIPROC_ENV in os.environ)"
    answer = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert answer.stdout.split() == ["None", "False"]
    assert list(tmp_path.iterdir()) == []
