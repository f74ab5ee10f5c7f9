"""Real server processes for the serving tests: started on a free port, waited for, stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from app.config import PROJECT_ROOT

VENV_BIN = Path(os.sys.executable).parent  # type: ignore[attr-defined]


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # a new connection per request
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def send(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    """One request with a body; (status, parsed JSON answer, response headers)."""
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), dict(error.headers)


def send_json(
    method: str, url: str, data: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict]:
    body = json.dumps(data).encode()
    return send(method, url, body, {"Content-Type": "application/json", **(headers or {})})


def send_file(url: str, name: str, content: bytes, headers: dict[str, str]) -> tuple[int, Any, dict]:
    boundary = "gridcase-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return send("POST", url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}", **headers})


def wait_for(url: str, process: subprocess.Popen[Any], log: Path, seconds: float, status: int = 200) -> None:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            code, body = get(url, timeout=5)
            if code == status:
                return
            last = (code, body[:500])
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(
        f"{url} did not answer {status} in {seconds} s (last: {last}):\n{log.read_text()[-4000:]}"
    )


def start(
    command: list[str] | str, env: dict[str, str], log: Path, shell: bool = False
) -> subprocess.Popen[Any]:
    if shell:
        command = f"exec {command}"  # the signals the test sends reach the server, not a shell around it
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            shell=shell,
            start_new_session=True,  # its own process group: the test can stop everything it started
        )


def stop(process: subprocess.Popen[Any], seconds: float = 30.0) -> float:
    """SIGTERM, then wait; returns how long it took (SIGKILL to the group after ``seconds``)."""
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return time.monotonic() - started
