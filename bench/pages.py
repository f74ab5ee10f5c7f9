"""Weight and speed of the pages, as a phone on a slow link sees them.

Chromium (Debian's /usr/bin/chromium through Playwright) with Lighthouse's slow-4G figures set by CDP
``Network.emulateNetworkConditions`` (150 ms RTT, 1.6 Mbps down, 750 kbps up; ``--profile devtools`` uses
Lighthouse's own DevTools-throttling values instead: 562.5 ms per request, 0.9 x the throughputs), with a
cold cache (a new browser context per load, signed in by its cookie). The app runs in embedded mode on a
temporary SQLite file with the demo district (deploy, catalogue, plans, ``seed-demo``, as ``make run``
does), served by waitress in this process twice: as configured (compressed) and with
``COMPRESS_RESPONSES`` off, the baseline of the same run.

It prints, for the claimed task page (a grid worker's 处置 task of a fresh report with a resident's photo)
and the dispatcher workbench (``/dispatch/``; "not available" where it does not exist): bytes transferred,
requests, DOMContentLoaded and load; the same page again in the same context (what the year-long cache of
fingerprinted files saves); and the bytes of the upload the task page sends for a 4000x3000 camera JPEG
picked in its photo input (counted by the server as the request arrives).

Each page: one unthrottled load first (the server makes what it keeps per process: compressed files), then
``--runs`` cold loads, of which the one with the median DOMContentLoaded is printed.

Run: ``python -m bench.pages [--cases 30] [--runs 3] [--profile lighthouse|devtools]``. Targets (issue 14):
the task page under 250 KB and DOMContentLoaded under 1.5 s; the photo sent under 600 KB.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "gridcase-demo"
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 860}
KB = 1024
TARGET_TASK_BYTES = 250 * KB
TARGET_TASK_DCL_MS = 1500
TARGET_PHOTO_BYTES = 600 * KB

# Lighthouse's mobile slow 4G: 150 ms RTT, 1.6 Mbps down, 750 kbps up (its "Kbps" are 1024 bit/s).
# "devtools": the values Lighthouse itself gives DevTools throttling (RTT x 3.75, throughput x 0.9).
PROFILES: dict[str, dict[str, float]] = {
    "lighthouse": {"latency": 150, "down_kbps": 1.6 * 1024, "up_kbps": 750},
    "devtools": {"latency": 150 * 3.75, "down_kbps": 1.6 * 1024 * 0.9, "up_kbps": 750 * 0.9},
}


# -- the app ---------------------------------------------------------------------------------------------


class UploadCounter:
    """WSGI middleware: the declared size of every POST that arrives, by path (the server's view of what
    the page sent, whether the page, its service worker or an offline queue sent it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.posts: list[tuple[str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            self.posts.append((environ.get("PATH_INFO", ""), int(environ.get("CONTENT_LENGTH") or 0)))
        return self.app(environ, start_response)


def make_app(folder: Path, compress: bool) -> Any:
    from app import create_app
    from app.config import PROJECT_ROOT, ObservabilitySettings, SecuritySettings, Settings

    settings = Settings.from_env(
        database_url=f"sqlite:///{folder / 'pages.sqlite3'}",
        redis_url=None,
        mqtt_url=None,
        secret_key="bench-pages",
        upload_folder=folder / "uploads",
        bpmn_folder=PROJECT_ROOT / "bpmn",
        forms_folder=PROJECT_ROOT / "forms",
        password_hash_method="pbkdf2:sha256:1000",
        security=SecuritySettings(rate_limits_enabled=False),  # one address signs in many times here
        compress_responses=compress,
        observability=ObservabilitySettings(log_format="text", log_level="WARNING"),  # no access log
    )
    return create_app(settings)


def seed(app: Any, cases: int) -> None:
    """What ``make demo`` does: migrate, deploy the diagrams, load the catalogue and plans, the district."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    for args in (
        ["deploy"],
        ["categories", "import"],
        ["emergency", "plans", "import"],
        ["seed-demo", "--cases", str(cases)],
    ):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{result.output}")


def camera_jpeg(width: int, height: int, quality: int = 92) -> bytes:
    """A photo as a phone camera writes it: smooth light with sensor noise (so it compresses like a real
    one, about 3 MB at 4000x3000), and EXIF with the camera, the time and a GPS position."""
    from PIL import Image

    light = Image.linear_gradient("L").resize((width, height))
    channels = [
        Image.blend(light.rotate(angle, expand=False), Image.effect_noise((width, height), 48), 0.22)
        for angle in (0, 90, 180)
    ]
    image = Image.merge("RGB", channels)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Xiaomi", "Redmi Note 12"  # Make, Model
    exif[0x0132] = time.strftime("%Y:%m:%d %H:%M:%S")  # DateTime
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (30.0, 45.0, 32.0), 3: "E", 4: (103.0, 58.0, 18.0)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def claimed_task(app: Any) -> tuple[str, int]:
    """A fresh report in worker1's grid with a resident's photo, accepted, dispatched to worker1 and
    claimed: (case key, handle task id). Through the API, as the pages' users would."""
    from shapely.geometry import shape
    from sqlalchemy import select

    from app.auth.models import User
    from app.cases.models import Case
    from app.extensions import db
    from app.grids.models import Grid, GridMember
    from app.jobs import run_inline_jobs
    from app.workflow.models import HumanTask, TaskStatus

    client = app.test_client()

    def auth(username: str) -> dict[str, str]:
        answer = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 201, answer.get_json()
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    def open_task(key: str, element: str) -> HumanTask:
        db.session.expire_all()
        return db.session.execute(
            select(HumanTask)
            .join(Case, Case.id == HumanTask.case_id)
            .where(Case.key == key, HumanTask.element_id == element, HumanTask.status.in_(TaskStatus.OPEN))
        ).scalar_one()

    def complete(who: dict[str, str], key: str, element: str, data: dict[str, Any]) -> None:
        task_id = open_task(key, element).id
        answer = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=who)
        assert answer.status_code == 200, answer.get_json()

    with app.app_context():
        grid = db.session.execute(
            select(Grid)
            .join(GridMember, GridMember.grid_id == Grid.id)
            .join(User, User.id == GridMember.user_id)
            .where(User.username == "worker1")
        ).scalars().first()
        assert grid is not None, "worker1 has no grid: is the demo district loaded?"
        point = shape(grid.geometry).representative_point()
        resident, dispatcher, worker = auth("resident1"), auth("dispatcher"), auth("worker1")
        created = client.post(
            "/api/v1/cases",
            json={
                "title": "小区门口垃圾满溢",
                "description": "北门垃圾桶满了，已经两天没有清运。",
                "category_code": "E0102",
                "severity": "yellow",
                "lat": point.y,
                "lon": point.x,
                "address": f"{grid.name} 北门",
            },
            headers=resident,
        )
        assert created.status_code == 201, created.get_json()
        key = created.get_json()["key"]
        photo = client.post(  # what a resident's phone sends after the page resizes it (longest side 1920)
            f"/api/v1/cases/{key}/attachments?kind=before",
            data={"file": (io.BytesIO(camera_jpeg(1920, 1440, quality=85)), "before.jpg")},
            headers=resident,
            content_type="multipart/form-data",
        )
        assert photo.status_code == 201, photo.get_json()
        complete(dispatcher, key, "triage", {"triage_decision": "accept"})
        complete(dispatcher, key, "dispatch", {"handler_user": "worker1", "time_limit_hours": 8})
        task = open_task(key, "handle")
        task_id, status = task.id, task.status
        if status != TaskStatus.CLAIMED:
            claimed = client.post(f"/api/v1/tasks/{task_id}/claim", headers=worker)
            assert claimed.status_code == 200, claimed.get_json()
        run_inline_jobs()  # the photo's thumbnail (embedded mode runs the jobs in-process)
        return key, task_id


@dataclass
class Served:
    url: str
    counter: UploadCounter


@contextmanager
def served(app: Any) -> Iterator[Served]:
    from waitress import create_server, wasyncore

    counter = UploadCounter(app.wsgi_app)
    app.wsgi_app = counter
    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()

    try:
        yield Served(f"http://127.0.0.1:{server.effective_port}", counter)
    finally:
        # closed from its own loop (closing the socket under a running select() fails that thread)
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()


# -- the browser -----------------------------------------------------------------------------------------


@dataclass
class Load:
    status: int
    transferred: int = 0  # bytes on the wire: headers and (compressed) bodies, as Chromium counts them
    requests: int = 0  # over the network; the ones the browser's cache answered are not counted
    cached: int = 0
    dcl_ms: float = 0.0
    load_ms: float = 0.0
    by_type: dict[str, int] = field(default_factory=dict)


class Throttled:
    """A page in a fresh context (empty cache), on the throttled network, counting what goes over it."""

    def __init__(
        self, browser: Any, state: dict[str, Any], viewport: dict[str, int], profile: dict[str, float]
    ) -> None:
        self.context = browser.new_context(
            storage_state=state,
            viewport=viewport,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            geolocation={"latitude": 30.7589, "longitude": 103.9718},
            permissions=["geolocation"],
        )
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Network.enable")
        self.cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": profile["latency"],
                "downloadThroughput": profile["down_kbps"] * 1024 / 8,
                "uploadThroughput": profile["up_kbps"] * 1024 / 8,
            },
        )
        self._types: dict[str, str] = {}
        self._bytes: dict[str, int] = {}
        self._from_cache: set[str] = set()
        self.cdp.on("Network.responseReceived", self._on_response)
        self.cdp.on("Network.loadingFinished", self._on_finished)
        self.cdp.on("Network.requestServedFromCache", lambda event: self._from_cache.add(event["requestId"]))

    def _on_response(self, event: dict[str, Any]) -> None:
        self._types[event["requestId"]] = event.get("type", "Other")
        answer = event.get("response", {})
        if answer.get("fromDiskCache") or answer.get("fromMemoryCache") or answer.get("fromServiceWorker"):
            self._from_cache.add(event["requestId"])

    def _on_finished(self, event: dict[str, Any]) -> None:
        self._bytes[event["requestId"]] = int(event.get("encodedDataLength", 0))

    def load(self, url: str) -> Load:
        self._types.clear()
        self._bytes.clear()
        self._from_cache.clear()
        response = self.page.goto(url, wait_until="load", timeout=120_000)
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        # lazy images and the map's data too; a page that polls never idles: count what came until then
        with suppress(PlaywrightTimeout):
            self.page.wait_for_load_state("networkidle", timeout=30_000)
        timing = self.page.evaluate(
            "() => { const t = performance.getEntriesByType('navigation')[0];"
            " return {dcl: t.domContentLoadedEventEnd, load: t.loadEventEnd}; }"
        )
        result = Load(status=response.status if response else 0, dcl_ms=timing["dcl"], load_ms=timing["load"])
        result.transferred = sum(self._bytes.values())
        # answered by the cache: so flagged, or nothing at all came over the wire (not even headers)
        result.cached = sum(1 for rid, size in self._bytes.items() if rid in self._from_cache or size == 0)
        result.requests = len(self._bytes) - result.cached
        for request_id, size in self._bytes.items():
            kind = self._types.get(request_id, "Other")
            result.by_type[kind] = result.by_type.get(kind, 0) + size
        return result

    def close(self) -> None:
        self.context.close()


def sign_in(browser: Any, base: str, username: str) -> dict[str, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/login" in page.url:
        raise SystemExit(f"{username} could not sign in")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


def measure_page(
    browser: Any,
    base: str,
    state: dict[str, Any],
    path: str,
    viewport: dict[str, int],
    profile: dict[str, float],
    runs: int,
) -> tuple[Load, Load]:
    """Cold loads (each in a new context), then the same page again in the last one (warm: the cached files
    are not fetched); the run with the median DOMContentLoaded. One unthrottled load first, so the server
    has made what it keeps per process (compressed files, hashes) as it has for all but its first visitor."""
    unthrottled = browser.new_context(storage_state=state)
    unthrottled.new_page().goto(base + path)
    unthrottled.close()
    colds: list[Load] = []
    for _ in range(runs):
        throttled = Throttled(browser, state, viewport, profile)
        try:
            colds.append(throttled.load(base + path))
            warm = throttled.load(base + path)
        finally:
            throttled.close()
    return sorted(colds, key=lambda load: load.dcl_ms)[len(colds) // 2], warm


def measure_photo(
    browser: Any, served_app: Served, state: dict[str, Any], path: str, profile: dict[str, float], photo: Path
) -> tuple[int, float] | None:
    """Pick ``photo`` in the task page's photo input: the bytes of the upload request the server receives
    (however the page sends it: by itself, its service worker or a queue), and the seconds until it arrived
    in full (waitress reads a body before the app sees it). None when the page has no photo input or
    nothing arrived within five minutes."""
    throttled = Throttled(browser, state, PHONE, profile)
    try:
        throttled.load(served_app.url + path)
        photo_input = throttled.page.locator("input[type=file]").first
        if photo_input.count() == 0:
            return None
        upload_url = throttled.page.locator("#task-form").get_attribute("data-photo-url") or "/"
        before = len(served_app.counter.posts)
        started = time.perf_counter()
        photo_input.set_input_files(str(photo))
        while time.perf_counter() - started < 300:
            sent = [size for route, size in served_app.counter.posts[before:] if route.startswith(upload_url)]
            if sent:
                return max(sent), time.perf_counter() - started
            throttled.page.wait_for_timeout(100)
        return None
    finally:
        throttled.close()


# -- the report ------------------------------------------------------------------------------------------


def kb(size: float) -> str:
    return f"{size / KB:,.1f} KB"


def line(label: str, load: Load) -> str:
    heavy_first = sorted(load.by_type.items(), key=lambda item: -item[1])
    kinds = ", ".join(f"{kind} {kb(size)}" for kind, size in heavy_first if size)
    cached = f" + {load.cached} cached" if load.cached else ""
    return (
        f"  {label:<24} {kb(load.transferred):>9}  {load.requests:>2} requests{cached:<11}  "
        f"DOMContentLoaded {load.dcl_ms:>5.0f} ms  load {load.load_ms:>5.0f} ms  ({kinds})"
    )


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=30, help="historic demo cases (default 30)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="lighthouse")
    parser.add_argument("--runs", type=int, default=3, help="cold loads per page; the median is shown")
    parser.add_argument("--workbench", default="/dispatch/", help="the dispatcher workbench's path")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="gridcase-pages-"))
    try:
        started = time.perf_counter()
        app = make_app(folder, compress=True)
        seed(app, args.cases)
        key, task_id = claimed_task(app)
        baseline = make_app(folder, compress=False)  # the same database, nothing compressed
        photo = folder / "camera.jpg"
        photo.write_bytes(camera_jpeg(4000, 3000))
        print(
            f"bench.pages: demo district with {args.cases} historic cases ready in "
            f"{time.perf_counter() - started:.0f} s; task {task_id} of {key} claimed by worker1; "
            f"network {args.profile}: {profile['latency']:.0f} ms, "
            f"{profile['down_kbps'] / 1024:.2f} Mbps down, {profile['up_kbps']:.0f} kbps up; cold cache"
        )
        task_path, workbench_path = f"/m/tasks/{task_id}", args.workbench
        with sync_playwright() as playwright, served(app) as now, served(baseline) as off:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
            )
            results: dict[str, dict[str, tuple[Load, Load]]] = {}
            for name, server in (("compression off", off), ("now", now)):
                worker = sign_in(browser, server.url, "worker1")
                dispatcher = sign_in(browser, server.url, "dispatcher")
                results[name] = {
                    "task": measure_page(browser, server.url, worker, task_path, PHONE, profile, args.runs),
                    "workbench": measure_page(
                        browser, server.url, dispatcher, workbench_path, DESK, profile, args.runs
                    ),
                }
            worker = sign_in(browser, now.url, "worker1")
            upload = measure_photo(browser, now, worker, task_path, profile, photo)
            browser.close()
        report(results, upload, photo.stat().st_size, workbench_path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def report(
    results: dict[str, dict[str, tuple[Load, Load]]],
    upload: tuple[int, float] | None,
    photo: int,
    workbench_path: str,
) -> None:
    now, off = results["now"], results["compression off"]
    print("\nclaimed task page (/m/tasks/<id>, 360 px phone):")
    print(line("compression off, cold", off["task"][0]))
    print(line("now, cold", now["task"][0]))
    print(line("now, warm (same visit)", now["task"][1]))
    cold, base, warm = now["task"][0], off["task"][0], now["task"][1]
    print(
        f"  bytes now/off {cold.transferred / base.transferred:.2f}, DOMContentLoaded now/off "
        f"{cold.dcl_ms / base.dcl_ms:.2f}, warm/cold bytes {warm.transferred / cold.transferred:.2f}"
    )
    print(
        f"  target < {kb(TARGET_TASK_BYTES)}: {verdict(cold.transferred < TARGET_TASK_BYTES)}; "
        f"DOMContentLoaded < {TARGET_TASK_DCL_MS} ms: {verdict(cold.dcl_ms < TARGET_TASK_DCL_MS)}"
    )
    print(f"\ndispatcher workbench ({workbench_path}, desktop):")
    if now["workbench"][0].status == 404:
        print(f"  not available (no {workbench_path} on this branch)")
    else:
        print(line("compression off, cold", off["workbench"][0]))
        print(line("now, cold", now["workbench"][0]))
        print(line("now, warm (same visit)", now["workbench"][1]))
        ratio = now["workbench"][0].transferred / off["workbench"][0].transferred
        print(f"  bytes now/off {ratio:.2f}")
    print(f"\nphoto upload (a {kb(photo)} 4000x3000 camera JPEG picked in the task page's photo input):")
    if upload is None:
        print("  not available (the task page has no photo input, or sent nothing)")
    else:
        size, seconds = upload
        print(f"  upload request {kb(size)} ({size / photo:.2f} of the file), arrived after {seconds:.1f} s")
        print(f"  target < {kb(TARGET_PHOTO_BYTES)}: {verdict(size < TARGET_PHOTO_BYTES)}")


if __name__ == "__main__":
    sys.exit(main())
