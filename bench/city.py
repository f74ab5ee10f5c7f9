"""The load-and-fault proof on a district at real scale (issue #18 item 7).

Runs the stack (``bench.city_stack``: gunicorn web workers, RQ workers, the scheduler and the MQTT listener,
with the bench's own Redis and Mosquitto on free ports) on a database seeded by ``flask seed-city``, and
drives it with locust (``bench.city_locust``, real HTTP, headless): 300 simulated users (grid workers,
residents, dispatchers, supervisors) plus sensors publishing ``--rate`` zigbee2mqtt messages a second with
alarm transitions (a water leak on a sensor of its own building, cleared 20 s later). During the run it
kills -9 one gunicorn worker, one RQ worker and the listener (the supervisor starts them again, as systemd
would), and restarts Redis and Mosquitto. Then it prints p50/p95/p99 per endpoint and the error rates, waits
for the queues to drain, and checks:

- every report that got a 2xx exists with its process instance and first task;
- every completion that got a 2xx is completed and audited exactly once;
- every injected alarm transition gave exactly one case;
- no job lost: the queues drain, nothing in RQ's failed registry, every uploaded photo got its thumbnail.

Run: ``python -m bench.city [--minutes M | --quick] [--users N] [--database-url URL]`` after
``DATABASE_URL=… flask seed-city`` on that database (default ``gridcase_bench_city``; the bench migrates it
and adds cases to it, so it can run again). The issue's run is the default: 300 users for 10 minutes.
``--quick``: 2 minutes, with every fault still injected (at the same shares of the run). The users think as
people do (``bench.city_locust``); ``--think-scale 0.2`` asks five times the pace. The web process is
gunicorn as the stack runs it (``deploy/gunicorn.conf.py``): ``--web-workers`` (3: this machine has 2 CPUs,
and PostgreSQL needs its share) with ``--threads`` (4) each.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.city_stack import BIN, ROOT, Stack

DATABASE_URL = os.environ.get(
    "GRIDCASE_BENCH_CITY_POSTGRES_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_bench_city"
)
SENSOR_PREFIX = "city"  # friendly names city/leak-<n>: topic zigbee2mqtt/city/leak-<n>
CLEAR_AFTER = 20.0  # seconds from a leak to its clear
TARGET_P99_MS = 500.0
QUICK_SECONDS = 120.0  # long enough for every fault and for locust to start all users (10 a second)
MAX_USERS_PER_ROLE = 300
SIGN_IN_SHARE = 0.1
TARGET_ENDPOINTS = ("inbox", "report", "complete", "case page")
# When each fault is injected, as a share of the run.
FAULTS = (
    (0.20, "kill -9 a web worker"),
    (0.35, "kill -9 an RQ worker"),
    (0.50, "kill -9 the listener"),
    (0.65, "restart Redis"),
    (0.80, "restart Mosquitto"),
)


# -- before the run: the plan and the sensors -------------------------------------------------------------


def make_app(database_url: str, upload_folder: Path) -> Any:
    from app import create_app
    from app.config import Settings

    return create_app(
        Settings.from_env(database_url=database_url, upload_folder=upload_folder, secret_key="b")
    )


def write_plan(app: Any, path: Path) -> dict[str, Any]:
    """Who the simulated users are and what they touch: grid workers with open tasks first, places inside
    the buildings, the categories residents pick, case keys for the supervisors' pages."""
    from sqlalchemy import func, select

    from app.auth.models import User
    from app.auth.services import issue_token
    from app.cases.models import Case
    from app.categories.models import Category
    from app.extensions import db
    from app.grids.models import Grid
    from app.workflow.models import HumanTask, TaskStatus

    with app.app_context():
        load = dict(
            db.session.execute(
                select(HumanTask.candidate_user, func.count())
                .where(HumanTask.status.in_(TaskStatus.OPEN), HumanTask.candidate_user.is_not(None))
                .group_by(HumanTask.candidate_user)
            ).all()
        )
        users: dict[str, list[str]] = {}
        for username, role in db.session.execute(select(User.username, User.role).order_by(User.id)):
            users.setdefault(role, []).append(username)
        users["grid_worker"].sort(key=lambda u: -load.get(u, 0))
        # Tokens issued ahead, as phones keep theirs for days: only SIGN_IN_SHARE of the users sign in during
        # the run (a password check costs ~0.1 s of CPU by design; 300 at once is a login storm, not a day).
        tokens = {}
        for role in ("grid_worker", "resident", "dispatcher", "supervisor"):
            for user in db.session.execute(
                select(User).where(User.username.in_(users[role][:MAX_USERS_PER_ROLE]))
            ).scalars():
                tokens[user.username] = issue_token(user)[0]
        db.session.commit()
        rng = random.Random(18)
        buildings = db.session.execute(
            select(Grid.code, Grid.name, Grid.min_lat, Grid.min_lon, Grid.max_lat, Grid.max_lon).where(
                Grid.level == "building"
            )
        ).all()
        places = [
            {
                "lat": round((b.min_lat + b.max_lat) / 2, 6),
                "lon": round((b.min_lon + b.max_lon) / 2, 6),
                "address": f"郫都区 {b.code} {b.name}",
            }
            for b in rng.sample(buildings, min(2000, len(buildings)))
        ]
        categories = list(
            db.session.execute(
                select(Category.code).where(
                    Category.active.is_(True),
                    func.length(Category.code) == 5,
                    Category.process_key == "case_handling",
                    # A red report starts the emergency process, which no simulated user works: its
                    # assessments (red, first in every dispatcher's inbox) would pile up and hide the
                    # reports the dispatchers triage.
                    Category.default_severity != "red",
                )
            ).scalars()
        )
        last = db.session.execute(select(func.max(Case.id))).scalar_one() or 0
        ids = rng.sample(range(1, last + 1), min(5000, last))
        keys = list(db.session.execute(select(Case.key).where(Case.id.in_(ids))).scalars())
        plan = {
            "users": users,
            "places": places,
            "categories": categories,
            "case_keys": keys,
            "fallback_unit": "street-office-01",
            "tokens": tokens,
            "sign_in_share": SIGN_IN_SHARE,
        }
    path.write_text(json.dumps(plan, ensure_ascii=False))
    return plan


def register_sensors(app: Any, count: int) -> list[str]:
    """``count`` water-leak sensors, each in a building of its own (so every transition is one incident);
    friendly names of all of them. Already registered ones are kept."""
    from sqlalchemy import select

    from app.devices.models import Device
    from app.devices.services import register_device, validate_device_fields
    from app.extensions import db
    from app.grids.models import Grid

    with app.app_context():
        existing = set(db.session.execute(select(Device.friendly_name)).scalars())
        buildings = list(
            db.session.execute(
                select(Grid.code).where(Grid.level == "building").order_by(Grid.code)
            ).scalars()
        )
        names = []
        for n in range(count):
            name = f"{SENSOR_PREFIX}/leak-{n}"
            names.append(name)
            if name not in existing:
                fields = {
                    "device_id": f"bench-city-leak-{n}",
                    "friendly_name": name,
                    "device_type": "water_leak_sensor",
                    "building_code": buildings[n % len(buildings)],
                }
                register_device(validate_device_fields(fields), with_token=False)
        db.session.commit()
    return names


def sensors_with_cases(app: Any) -> set[str]:
    """Sensors that have had a case already (a new run uses fresh ones for its transitions)."""
    return set(cases_per_sensor(app))


def cases_per_sensor(app: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from app.devices.models import Alarm, Device, Incident
    from app.extensions import db

    with app.app_context():
        rows = db.session.execute(
            select(Device.friendly_name, func.count(func.distinct(Incident.case_id)))
            .join(Alarm, Alarm.device_id == Device.id)
            .join(Incident, Incident.id == Alarm.incident_id)
            .where(Incident.case_id.is_not(None), Device.friendly_name.like(f"{SENSOR_PREFIX}/%"))
            .group_by(Device.friendly_name)
        ).all()
        return {name: int(n) for name, n in rows}


def time_read_paths(app: Any, runs: int = 3) -> dict[str, float]:
    """Milliseconds (median of ``runs`` warm runs, in-process) of what a supervisor's pages read on the
    whole district: the dashboard's snapshot, and the KPIs by community over the last month and year."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.clock import now
    from app.extensions import db
    from app.kpi.services import KpiQuery, kpi_rows
    from app.web.supervisor.dashboard import snapshot

    timings: dict[str, float] = {}
    with app.test_request_context():
        supervisor = db.session.execute(select(User).where(User.username == "supervisor")).scalar_one()
        end = now()
        calls = {
            "dashboard (district)": lambda: snapshot(supervisor),
            "KPIs by community, 1 month": lambda: kpi_rows(
                supervisor, KpiQuery("community", end - timedelta(days=30), end)
            ),
            "KPIs by community, 1 year": lambda: kpi_rows(
                supervisor, KpiQuery("community", end - timedelta(days=365), end)
            ),
        }
        for name, call in calls.items():
            samples = []
            for _ in range(runs + 1):  # the first one warms the caches
                started = time.perf_counter()
                call()
                samples.append(1000 * (time.perf_counter() - started))
            timings[name] = statistics.median(samples[1:])
        db.session.remove()
    return timings


# -- the sensors during the run ---------------------------------------------------------------------------


@dataclass
class SensorStream:
    """Publishes ``rate`` messages a second at QoS 1 for ``duration`` s: telemetry of every sensor, and one
    leak per ``1 / transitions_per_second`` s on a sensor never used before, cleared ``CLEAR_AFTER`` later.
    paho keeps what it cannot send while the broker restarts and sends it after reconnecting."""

    url: str
    sensors: list[str]
    fresh: list[str]
    rate: float
    duration: float
    transitions_per_second: float = 1.0
    published: int = 0
    leaks: list[str] = field(default_factory=list)
    ended_at: float = 0.0

    def run(self) -> None:
        host, port = self.url.removeprefix("mqtt://").split(":")
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-city-sensors", clean_session=False)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(0.2, 2)
        client.connect(host, int(port))
        client.loop_start()
        rng = random.Random(7)
        clears: list[tuple[float, str]] = []
        started = time.monotonic()
        next_leak = started + 1.0
        leaking: set[str] = set()
        while (now := time.monotonic()) < started + self.duration:
            due = int((now - started) * self.rate) - self.published
            for _ in range(max(0, due)):
                name = rng.choice(self.sensors)
                state = {"water_leak": name in leaking, "battery": rng.randint(60, 100), "linkquality": 120}
                self._publish(client, name, state)
            if now >= next_leak and self.fresh:
                name = self.fresh.pop()
                leaking.add(name)
                self.leaks.append(name)
                self._publish(client, name, {"water_leak": True, "battery": 90, "linkquality": 120})
                clears.append((now + CLEAR_AFTER, name))
                next_leak += 1.0 / self.transitions_per_second
            while clears and clears[0][0] <= now:
                _, name = clears.pop(0)
                leaking.discard(name)
                self._publish(client, name, {"water_leak": False, "battery": 90, "linkquality": 120})
            time.sleep(0.01)
        for _, name in clears:  # the leaks still active end cleared
            self._publish(client, name, {"water_leak": False, "battery": 90, "linkquality": 120})
        self.ended_at = time.time()
        deadline = time.monotonic() + 120
        while client.want_write() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)
        client.disconnect()
        client.loop_stop()

    def _publish(self, client: mqtt.Client, name: str, state: dict[str, Any]) -> None:
        client.publish(f"zigbee2mqtt/{name}", json.dumps(state), qos=1)
        self.published += 1


# -- warm-up --------------------------------------------------------------------------------------------


def warm_up(stack: Stack, plan: dict[str, Any], rounds: int) -> float:
    """A few of each kind of request, ``rounds`` at a time, so every web worker has loaded what it loads on
    its first requests (BPMN specs, forms, the grid index, templates) before the measurement; seconds."""
    import re

    import requests

    started = time.monotonic()
    session = requests.Session()
    page = session.get(f"{stack.web_url}/login", timeout=120)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    supervisor = plan["users"]["supervisor"][0]
    session.post(
        f"{stack.web_url}/login",
        data={
            "username": supervisor,
            "password": "gridcase-demo",
            "csrf_token": token.group(1) if token else "",
        },
        timeout=120,
    )
    worker = {"Authorization": f"Bearer {plan['tokens'][plan['users']['grid_worker'][0]]}"}
    dispatcher = {"Authorization": f"Bearer {plan['tokens'][plan['users']['dispatcher'][0]]}"}

    def one(n: int) -> None:
        key = plan["case_keys"][n % len(plan["case_keys"])]
        requests.get(f"{stack.web_url}/api/v1/tasks", params={"scope": "mine"}, headers=worker, timeout=120)
        requests.get(
            f"{stack.web_url}/api/v1/tasks", params={"scope": "all"}, headers=dispatcher, timeout=120
        )
        requests.get(f"{stack.web_url}/api/v1/cases/{key}", headers=dispatcher, timeout=120)
        session.get(f"{stack.web_url}/supervise/cases/{key}", timeout=120)
        session.get(f"{stack.web_url}/supervise/dashboard/data.json", timeout=120)
        place = plan["places"][n % len(plan["places"])]  # a worker builds its grid index on its first locate
        requests.get(
            f"{stack.web_url}/api/v1/grids/locate",
            params={"lat": place["lat"], "lon": place["lon"]},
            headers=worker,
            timeout=120,
        )

    for _ in range(2):
        threads = [threading.Thread(target=one, args=(n,)) for n in range(rounds)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return time.monotonic() - started


# -- CPU per part of the stack ---------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds each part of the stack spends during the load: web (gunicorn master and workers), RQ
    workers, scheduler, listener, Redis, Mosquitto, PostgreSQL (the backends serving the bench's database)
    and locust. Sampled every ``interval`` s per process, so processes killed mid-run count up to their last
    sample."""

    def __init__(self, stack: Stack, database_url: str, interval: float = 2.0) -> None:
        self.stack, self.database_url, self.interval = stack, database_url, interval
        self.seen: dict[tuple[str, int], float] = {}
        self.baseline: dict[tuple[str, int], float] = {}
        self.locust_pid: int | None = None
        self._running = threading.Event()

    def _pids(self) -> list[tuple[str, int]]:
        import psutil
        import psycopg

        pids: list[tuple[str, int]] = []
        for name, service in self.stack.services.items():
            if service.process is None or service.process.poll() is not None:
                continue
            part = name.split(".")[0]
            pids.append((part, service.pid))
            with contextlib.suppress(psutil.Error):  # it may die between the two calls
                pids += [(part, child.pid) for child in psutil.Process(service.pid).children(recursive=True)]
        if self.locust_pid is not None:
            pids.append(("locust", self.locust_pid))
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            database = self.database_url.rsplit("/", 1)[-1]
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
            ).fetchall()
        pids += [("postgres", int(row[0])) for row in rows]
        return pids

    def sample(self) -> None:
        import psutil

        for key in self._pids():
            try:
                times = psutil.Process(key[1]).cpu_times()
            except psutil.Error:
                continue
            self.seen[key] = times.user + times.system

    def start(self) -> None:
        self.sample()
        self.baseline = dict(self.seen)
        self._running.set()
        threading.Thread(target=self._loop, name="cpu-meter", daemon=True).start()

    def _loop(self) -> None:
        while self._running.is_set():
            self.sample()
            time.sleep(self.interval)

    def stop(self) -> dict[str, float]:
        self.sample()
        self._running.clear()
        parts: dict[str, float] = {}
        for key, seconds in self.seen.items():
            parts[key[0]] = parts.get(key[0], 0.0) + seconds - self.baseline.get(key, 0.0)
        return parts


# -- faults -----------------------------------------------------------------------------------------------


def inject_faults(stack: Stack, duration: float, started: float, log: list[str], ramp: float = 0.0) -> None:
    """The faults at their shares of the run after the ``ramp`` s in which locust starts its users (a web
    worker killed while 300 people sign in at once would take their queued requests with it: a test of
    the sign-in storm, not of the steady load)."""
    for share, fault in FAULTS:
        time.sleep(max(0.0, started + ramp + (duration - ramp) * share - time.monotonic()))
        at = time.monotonic() - started
        if fault == "kill -9 a web worker":
            detail = f"pid {stack.kill('web')}"
        elif fault == "kill -9 an RQ worker":
            detail = f"pid {stack.kill('worker.1')}"
        elif fault == "kill -9 the listener":
            detail = f"pid {stack.kill('listener')}"
        elif fault == "restart Redis":
            detail = f"down {stack.restart_broker('redis'):.1f} s"
        else:
            detail = f"down {stack.restart_broker('mosquitto'):.1f} s"
        log.append(f"  {at:6.1f} s  {fault} ({detail})")
        print(log[-1], flush=True)


# -- after the run ----------------------------------------------------------------------------------------


def read_ledger(path: Path) -> tuple[list[str], list[int]]:
    reports, completions = [], []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry["kind"] == "report":
            reports.append(entry["key"])
        else:
            completions.append(int(entry["task"]))
    return reports, completions


def print_latencies(stats_csv: Path, statuses_json: Path) -> dict[str, Any]:
    rows = list(csv.DictReader(stats_csv.open()))
    statuses = json.loads(statuses_json.read_text()) if statuses_json.exists() else []
    total = sum(s["count"] for s in statuses)
    server_errors = sum(s["count"] for s in statuses if s["status"] >= 500)
    no_answer = sum(s["count"] for s in statuses if s["status"] == 0)
    client_errors = sum(s["count"] for s in statuses if 400 <= s["status"] < 500)
    print("\nAs the users saw them, once all of them run (locust --reset-stats after the ramp-up):")
    print(f"{'endpoint':<20}{'requests':>9}{'fail':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>9}  (ms)")
    summary: dict[str, Any] = {"endpoints": {}}
    for row in rows:
        name = row["Name"]
        p50, p95, p99 = (float(row[k]) if row[k] != "N/A" else 0.0 for k in ("50%", "95%", "99%"))
        mark = ""
        if name in TARGET_ENDPOINTS:
            mark = "  ok" if p99 <= TARGET_P99_MS else f"  MISSED (target p99 < {TARGET_P99_MS:.0f} ms)"
        print(
            f"{name:<20}{row['Request Count']:>9}{row['Failure Count']:>7}{p50:>8.0f}{p95:>8.0f}{p99:>8.0f}"
            f"{float(row['Max Response Time']):>9.0f}{mark}"
        )
        summary["endpoints"][name] = {
            "requests": int(row["Request Count"]),
            "p50": p50,
            "p95": p95,
            "p99": p99,
        }
    by_status: dict[int, int] = {}
    for s in statuses:
        by_status[s["status"]] = by_status.get(s["status"], 0) + s["count"]
    rate = 100.0 * server_errors / total if total else 0.0
    print(
        f"\nrequests {total:,}; 5xx {server_errors} ({rate:.3f} %, target < 0.1 %); no answer (connection "
        f"dropped) {no_answer}; 4xx {client_errors}; by status {dict(sorted(by_status.items()))}"
    )
    summary.update(requests=total, server_errors=server_errors, no_answer=no_answer, by_status=by_status)
    return summary


def endpoint_of(method: str, path: str) -> str | None:
    """The locust name of a request of the web's access log (the target endpoints and the dashboard)."""
    if path == "/api/v1/tasks" and method == "GET":
        return "inbox"
    if path == "/api/v1/cases" and method == "POST":
        return "report"
    if path.startswith("/api/v1/tasks/") and path.endswith("/complete"):
        return "complete"
    if path.startswith("/supervise/cases/") and method == "GET":
        return "case page"
    if path == "/supervise/dashboard/data.json":
        return "dashboard"
    return None


def print_app_times(web_log: Path, since: datetime) -> dict[str, Any]:
    """The same endpoints' time inside the app (the access log's ``duration_ms``: from the app receiving the
    request to its answer, without the wait in the server's queue): what queueing adds is the difference."""
    times: dict[str, list[float]] = {}
    for line in web_log.read_text(errors="replace").splitlines():
        if '"gridcase.access"' not in line:
            continue
        with contextlib.suppress(ValueError, KeyError):
            entry = json.loads(line)
            name = endpoint_of(entry["method"], entry["path"])
            if name is not None and datetime.fromisoformat(entry["time"]) >= since:
                times.setdefault(name, []).append(float(entry["duration_ms"]))
    print("\nInside the app (web access log, same period):")
    print(f"{'endpoint':<20}{'requests':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>9}  (ms)")
    summary = {}
    for name, values in sorted(times.items()):
        values.sort()
        p50, p95, p99 = (values[min(len(values) - 1, int(q * len(values)))] for q in (0.5, 0.95, 0.99))
        print(f"{name:<20}{len(values):>9}{p50:>8.0f}{p95:>8.0f}{p99:>8.0f}{values[-1]:>9.0f}")
        summary[name] = {"requests": len(values), "p50": p50, "p95": p95, "p99": p99}
    return summary


def jobs_done(folder: Path) -> int:
    """Jobs the RQ workers finished (their logs say so once per job)."""
    return sum(
        log.read_text(errors="replace").count("Successfully completed") for log in folder.glob("worker.*.log")
    )


def print_cpu(
    cpu: dict[str, float], seconds: float, summary: dict[str, Any], messages: int, jobs: int
) -> None:
    """CPU seconds per part during the load, and per unit of its work: what capacity planning starts from."""
    requests = summary["requests"] or 1
    print(f"\nCPU during the load ({seconds:.0f} s; the machine's 2 CPUs are shared, so wall times stretch):")
    for part, used in sorted(cpu.items(), key=lambda item: -item[1]):
        per = ""
        if part == "web":
            per = f" = {1000 * used / requests:.1f} ms per HTTP request"
        elif part == "listener":
            per = f" = {1000 * used / max(messages, 1):.2f} ms per sensor message"
        elif part == "worker":
            per = f" = {1000 * used / max(jobs, 1):.1f} ms per job ({jobs} jobs)"
        elif part == "mosquitto":
            per = f" = {1000 * used / max(messages, 1):.3f} ms per sensor message"
        elif part == "postgres":
            per = f" = {1000 * used / requests:.1f} ms per HTTP request (all its work, sensors included)"
        print(f"  {part:<10}{used:8.1f} s  ({100 * used / seconds:5.1f} % of one CPU){per}")


def wait_for_drain(app: Any, redis_url: str, timeout: float) -> float:
    """Until the RQ queues are empty, every incident has its case and the job outbox has no job still to
    run (one committed while Redis was away is sent by the scheduler's round after ``SEND_GRACE``); seconds
    waited."""
    from redis import Redis
    from rq import Queue
    from sqlalchemy import func, select

    from app.devices.models import Incident
    from app.extensions import db
    from app.jobs import QUEUES
    from app.jobs.models import JobOutbox, OutboxStatus

    connection = Redis.from_url(redis_url)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        queued = sum(len(Queue(name, connection=connection)) for name in QUEUES)
        with app.app_context():
            pending = db.session.execute(
                select(func.count()).select_from(Incident).where(Incident.case_id.is_(None))
            ).scalar_one()
            pending += db.session.execute(
                select(func.count()).select_from(JobOutbox).where(JobOutbox.status.in_(OutboxStatus.OPEN))
            ).scalar_one()
            db.session.remove()
        if queued == 0 and pending == 0:
            break
        time.sleep(1)
    return time.monotonic() - started


def check(app: Any, redis_url: str, reports: list[str], completions: list[int], leaks: list[str],
          run_started: datetime, before: dict[str, int]) -> list[str]:  # fmt: skip
    from redis import Redis
    from rq import Queue
    from rq.registry import FailedJobRegistry
    from sqlalchemy import func, select

    from app.audit.models import AuditEvent
    from app.cases.models import Attachment, Case
    from app.extensions import db
    from app.jobs import QUEUES
    from app.workflow.models import HumanTask, ProcessInstance

    problems: list[str] = []
    with app.app_context():
        found = {
            key: (instances, tasks)
            for key, instances, tasks in db.session.execute(
                select(
                    Case.key,
                    func.count(func.distinct(ProcessInstance.id)),
                    func.count(func.distinct(HumanTask.id)),
                )
                .outerjoin(ProcessInstance, ProcessInstance.case_id == Case.id)
                .outerjoin(HumanTask, HumanTask.case_id == Case.id)
                .where(Case.key.in_(reports))
                .group_by(Case.key)
            ).all()
        }
        lost = [k for k in reports if k not in found]
        bare = [k for k, (i, t) in found.items() if i != 1 or t < 1]
        print(f"reports with a 2xx: {len(reports)}; missing {len(lost)}; without one instance and a first "
              f"task {len(bare)}")  # fmt: skip
        if lost or bare:
            problems.append(f"reports: {len(lost)} lost {lost[:5]}, {len(bare)} incomplete {bare[:5]}")
        audited = dict(
            db.session.execute(
                select(AuditEvent.entity_id, func.count())
                .where(
                    AuditEvent.action == "task.completed",
                    AuditEvent.entity_type == "human_task",
                    AuditEvent.entity_id.in_([str(t) for t in completions]),
                )
                .group_by(AuditEvent.entity_id)
            ).all()
        )
        states = dict(
            db.session.execute(
                select(HumanTask.id, HumanTask.status).where(HumanTask.id.in_(completions))
            ).all()
        )
        twice = [t for t in set(completions) if completions.count(t) > 1]
        not_once = [t for t in completions if audited.get(str(t), 0) != 1 or states.get(t) != "completed"]
        print(f"completions with a 2xx: {len(completions)}; answered 2xx twice {len(twice)}; not recorded "
              f"exactly once {len(not_once)}")  # fmt: skip
        if twice or not_once:
            problems.append(
                f"completions: {len(twice)} doubled {twice[:5]}, {len(not_once)} not once {not_once[:5]}"
            )
        per_sensor = cases_per_sensor(app)
        missing = [s for s in leaks if per_sensor.get(s, 0) == 0]
        doubled = [s for s in leaks if per_sensor.get(s, 0) > 1]
        print(
            f"alarm transitions: {len(leaks)}; without a case {len(missing)}; "
            f"with more than one {len(doubled)}"
        )
        if missing or doubled:
            problems.append(f"alarms: {len(missing)} without a case {missing[:5]}, {len(doubled)} doubled")
        new_photos = db.session.execute(
            select(func.count(), func.count(Attachment.thumbnail_path)).where(
                Attachment.created_at >= run_started
            )
        ).one()
        db.session.remove()
    connection = Redis.from_url(redis_url)
    queued = {name: len(Queue(name, connection=connection)) for name in QUEUES}
    failed = {name: len(FailedJobRegistry(name, connection=connection)) for name in QUEUES}
    print(f"jobs: queued after the drain {queued}; failed {failed}; photos uploaded {new_photos[0]}, "
          f"with thumbnails {new_photos[1]}")  # fmt: skip
    if any(queued.values()) or any(failed.values()) or new_photos[0] != new_photos[1]:
        problems.append(f"jobs: queued {queued}, failed {failed}, photos without thumbnail "
                        f"{new_photos[0] - new_photos[1]}")  # fmt: skip
    return problems


# -- the run ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SECONDS:.0f} s, every fault still injected"
    )
    parser.add_argument("--minutes", type=float, default=None, help="minutes of load (default 10)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 10 min)")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument(
        "--think-scale", type=float, default=1.0, help="multiplies the users' think times (0.2: 5x the pace)"
    )
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    parser.add_argument("--rate", type=float, default=500.0, help="sensor messages per second")
    parser.add_argument("--sensors", type=int, default=3000, help="registered water-leak sensors")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4, help="threads per web worker (gthread)")
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--upload-folder", type=Path, default=None, help="default: the seed's, UPLOAD_FOLDER")
    parser.add_argument(
        "--folder", type=Path, default=None, help="logs and broker data (default: a temp dir)"
    )
    args = parser.parse_args()
    duration = QUICK_SECONDS if args.quick else 60.0 * args.minutes if args.minutes else args.duration
    folder = args.folder or Path(tempfile.mkdtemp(prefix="gridcase-bench-city-"))
    folder.mkdir(parents=True, exist_ok=True)
    uploads = args.upload_folder or Path(os.environ.get("UPLOAD_FOLDER") or folder / "uploads")
    os.environ["UPLOAD_FOLDER"] = str(uploads)
    print(f"bench.city: {args.users} users (think x{args.think_scale:g}) and {args.rate:.0f} sensor "
          f"messages/s for {duration:.0f} s on {args.database_url.rsplit('/', 1)[-1]}; web "
          f"{args.web_workers} workers x {args.threads} threads; logs in {folder}", flush=True)  # fmt: skip

    # The seeded database may predate the code's migrations (seeded once, benched after later changes).
    subprocess.run(
        [str(BIN / "flask"), "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": args.database_url, "SECRET_KEY": "bench-city-secret"},
        check=True,
        capture_output=True,
    )
    app = make_app(args.database_url, uploads)
    plan = write_plan(app, folder / "plan.json")
    sensors = register_sensors(app, args.sensors)
    used = sensors_with_cases(app)
    fresh = [s for s in sensors if s not in used]
    print(f"plan: {sum(len(v) for v in plan['users'].values()):,} users, {len(plan['places'])} places; "
          f"{len(sensors)} sensors ({len(fresh)} never alarmed)", flush=True)  # fmt: skip
    reads = time_read_paths(app)
    print(
        "read paths on the seeded data: " + ", ".join(f"{k} {v:.0f} ms" for k, v in reads.items()), flush=True
    )
    run_started = datetime.now(UTC)
    stack = Stack(folder, args.database_url, args.web_workers, args.rq_workers, args.threads)
    fault_log: list[str] = []
    try:
        stack.start_brokers()
        stack.start_app()
        print(f"warm-up {warm_up(stack, plan, 2 * args.web_workers):.0f} s", flush=True)
        stream = SensorStream(stack.mqtt_url, sensors, fresh, args.rate, duration)
        env = {
            **os.environ,
            "CITY_PLAN": str(folder / "plan.json"),
            "CITY_LEDGER": str(folder / "ledger.jsonl"),
            "CITY_STATUSES": str(folder / "statuses.json"),
            "CITY_THINK_SCALE": str(args.think_scale),
        }
        (folder / "ledger.jsonl").write_text("")
        locust = subprocess.Popen(
            [
                str(BIN / "locust"), "-f", str(ROOT / "bench" / "city_locust.py"), "--headless",
                "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                "--run-time", f"{duration:.0f}s",
                "--host", stack.web_url, "--csv", str(folder / "locust"), "--only-summary", "--reset-stats",
                "--stop-timeout", "15", "--loglevel", "WARNING",
            ],
            cwd=ROOT, env=env, stdout=(folder / "locust.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        meter = CpuMeter(stack, args.database_url)
        meter.locust_pid = locust.pid
        meter.start()
        started = time.monotonic()
        sensors_thread = threading.Thread(target=stream.run, name="sensors", daemon=True)
        sensors_thread.start()
        ramp = args.users / args.spawn_rate
        all_running = datetime.now(UTC) + timedelta(seconds=ramp)
        faults = threading.Thread(
            target=inject_faults, args=(stack, duration, started, fault_log, ramp), daemon=True
        )
        faults.start()
        locust.wait()
        sensors_thread.join(timeout=180)
        faults.join(timeout=60)
        load_seconds = time.monotonic() - started
        cpu = meter.stop()
        summary = print_latencies(folder / "locust_stats.csv", folder / "statuses.json")
        summary["in_app"] = print_app_times(folder / "web.log", all_running)
        drained = wait_for_drain(app, stack.redis_url, timeout=180)
        print(f"\nsensor messages published {stream.published:,} ({stream.published / load_seconds:.0f}/s); "
              f"queues drained {drained:.0f} s after the load", flush=True)  # fmt: skip
        jobs = jobs_done(folder)
        print_cpu(cpu, load_seconds, summary, stream.published, jobs)
        reports, completions = read_ledger(folder / "ledger.jsonl")
        problems = check(app, stack.redis_url, reports, completions, stream.leaks, run_started, {})
        restarts = {n: s.restarts for n, s in stack.services.items() if s.restarts}
        print("faults:\n" + "\n".join(fault_log) + f"\nsupervisor restarts {restarts}")
        summary.update(
            problems=problems, restarts=restarts, faults=fault_log, duration=duration, reads=reads, cpu=cpu,
            load_seconds=load_seconds, published=stream.published, jobs=jobs,
        )  # fmt: skip
        (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        print("\nRESULT: " + ("all checks passed" if not problems else "; ".join(problems)))
    finally:
        stack.stop()
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
