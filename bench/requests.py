"""What one request costs: the four requests issue #18 gives a p99 target (inbox, report, complete, case
page), measured one at a time in one process on the city seed, with baselines measured in the same run.

For each request, over ``--runs`` of them: the CPU of the app (this thread's CPU time: the request runs in
this thread, through the app's WSGI stack with Flask's test client), the CPU of PostgreSQL (the backends of
this process's connections, from ``/proc``: the database runs on this machine; a mean, as the kernel counts
in 10 ms ticks), the SQL statements and their time, and the wall time. Jobs go to a Redis of the bench's own,
as in stack mode (not run in the request as in embedded mode).

- **inbox**: a grid worker's (``scope=mine``, the phone's poll) and a dispatcher's (``scope=all``);
- **report**: a resident's ``POST /api/v1/cases`` at a building's centre;
- **complete**: each task of a case's life through the API (triage, dispatch, handle, photo proof after an
  upload, review), together and one by one;
- **case page**: a supervisor's ``/supervise/cases/<key>`` (signed in by the page) on historic cases.

Baselines, same run, same data:

- **floor**: ``GET /api/v1/users/me``, the cheapest signed request (token, user, middleware, JSON, access
  log): what every request costs before it does anything;
- **inbox, previous code**: the case key of each task read one by one (as before the p99 work);
- **dashboard snapshot with/without the open-case index** (``ix_case_file_open_due_at``, dropped inside a
  transaction that is rolled back): not one of the four, but its PostgreSQL time is what the four queued
  behind under load.

Run: ``python -m bench.requests [--runs 20] [--database-url URL]`` on a database seeded by ``flask
seed-city`` (default ``GRIDCASE_BENCH_CITY_POSTGRES_URL``, as ``bench.city``; migrated first). It adds cases
(one per run and two to warm up).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.city import DATABASE_URL
from bench.city_stack import BIN, REDIS_SERVER, ROOT, free_port, wait_for_port

PASSWORD = "gridcase-demo"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
OPEN_CASE_INDEX = "ix_case_file_open_due_at"
TICK = 1.0 / os.sysconf("SC_CLK_TCK")


# -- measuring --------------------------------------------------------------------------------------------


@dataclass
class Sample:
    cpu: float  # seconds of this thread
    wall: float
    statements: int
    sql: float  # seconds inside cursor.execute


@dataclass
class Series:
    name: str
    samples: list[Sample] = field(default_factory=list)
    pg_cpu: float = 0.0  # seconds, summed over the samples

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)

    def p90(self, attribute: str) -> float:
        values = sorted(getattr(s, attribute) for s in self.samples)
        return values[min(len(values) - 1, int(0.9 * len(values)))]

    @property
    def pg_mean(self) -> float:
        return self.pg_cpu / len(self.samples) if self.samples else 0.0


class Meter:
    """Counts the statements of the app's engine and the CPU of the PostgreSQL backends it talks to."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.statements = 0
        self.sql = 0.0
        self.backends: set[int] = set()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "connect", self._connected)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench.started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        self.statements += 1
        self.sql += time.perf_counter() - conn.info.pop("bench.started", time.perf_counter())

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        self.backends.add(int(cursor.fetchone()[0]))
        cursor.close()

    def backend_cpu(self) -> float:
        total = 0.0
        for pid in self.backends:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) * TICK  # utime, stime
        return total

    @contextlib.contextmanager
    def measure(self, series: Series) -> Iterator[None]:
        statements, sql, pg = self.statements, self.sql, self.backend_cpu()
        cpu, wall = time.thread_time(), time.perf_counter()
        yield
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        series.pg_cpu += self.backend_cpu() - pg
        series.samples.append(Sample(cpu, wall, self.statements - statements, self.sql - sql))


# -- the app and its people -------------------------------------------------------------------------------


def make_app(database_url: str, redis_url: str, folder: Path) -> Any:
    from app import create_app
    from app.config import Settings

    return create_app(
        Settings.from_env(
            database_url=database_url, redis_url=redis_url, secret_key="bench-requests", upload_folder=folder
        )
    )


@dataclass
class People:
    tokens: dict[str, str]  # username → bearer token
    residents: list[str]
    worker: str  # the grid worker the cases are dispatched to
    dispatcher: str
    supervisor: str
    places: list[tuple[float, float, str]]
    category: str
    case_keys: list[str]  # historic cases, for the case page


def people(app: Any, runs: int) -> People:
    from sqlalchemy import func, select

    from app.auth.models import User
    from app.auth.services import issue_token
    from app.cases.models import Case
    from app.categories.models import Category
    from app.extensions import db
    from app.grids.models import Grid
    from app.workflow.models import HumanTask, TaskStatus

    rng = random.Random(18)
    with app.app_context():

        def first(role: str, count: int = 1) -> list[User]:
            return list(
                db.session.execute(select(User).where(User.role == role).order_by(User.id).limit(count))
                .scalars()
                .all()
            )

        # A grid worker with a typical load: the median of those holding tasks.
        loads = db.session.execute(
            select(HumanTask.assignee_id, func.count())
            .where(HumanTask.status == TaskStatus.CLAIMED)
            .group_by(HumanTask.assignee_id)
            .order_by(func.count())
        ).all()
        worker_ids = {row[0] for row in loads}
        workers = [u for u in first("grid_worker", 2000) if u.id in worker_ids] or first("grid_worker")
        worker = workers[len(workers) // 2]
        residents = first("resident", max(2, runs // 10 + 2))  # the report limit is 20 a minute each
        dispatcher, supervisor = first("dispatcher")[0], first("supervisor")[0]
        named = db.session.execute(select(User).where(User.username == "supervisor")).scalar_one_or_none()
        supervisor = named or supervisor
        tokens = {u.username: issue_token(u)[0] for u in [worker, dispatcher, supervisor, *residents]}
        db.session.commit()
        buildings = db.session.execute(
            select(Grid.min_lat, Grid.min_lon, Grid.max_lat, Grid.max_lon, Grid.code).where(
                Grid.level == "building"
            )
        ).all()
        places = [
            ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, f"郫都区 {b[4]}")
            for b in rng.sample(buildings, min(200, len(buildings)))
        ]
        category = db.session.execute(
            select(Category.code)
            .where(Category.active.is_(True), func.length(Category.code) == 5)
            .where(Category.process_key == "case_handling")
            .order_by(Category.code)
        ).scalars().first()  # fmt: skip
        last = db.session.execute(select(func.max(Case.id))).scalar_one()
        ids = rng.sample(range(1, last + 1), min(500, last))
        keys = list(db.session.execute(select(Case.key).where(Case.id.in_(ids))).scalars())
        result = People(
            tokens,
            [r.username for r in residents],
            worker.username,
            dispatcher.username,
            supervisor.username,
            places,
            category or "E0102",
            keys,
        )
        db.session.remove()
    return result


def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 140, 90)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


# -- the requests -----------------------------------------------------------------------------------------


class Bench:
    def __init__(self, app: Any, meter: Meter, folks: People) -> None:
        self.app, self.meter, self.folks = app, meter, folks
        self.client = app.test_client()
        self.series: dict[str, Series] = {}
        self.photo = jpeg()

    def s(self, name: str) -> Series:
        return self.series.setdefault(name, Series(name))

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.folks.tokens[username]}"}

    def call(self, name: str | None, send: Callable[[], Any], expect: int = 200) -> Any:
        if name is None:
            response = send()
        else:
            with self.meter.measure(self.s(name)):
                response = send()
        if response.status_code != expect:
            raise SystemExit(f"{name}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response

    def sign_in_supervisor(self) -> None:
        page = self.client.get("/login")
        token = CSRF.search(page.get_data(as_text=True))
        data = {
            "username": self.folks.supervisor,
            "password": PASSWORD,
            "csrf_token": token.group(1) if token else "",
        }
        self.call(None, lambda: self.client.post("/login", data=data), expect=302)

    def open_task(self, key: str) -> int:
        from sqlalchemy import select

        from app.cases.models import Case
        from app.extensions import db
        from app.workflow.models import HumanTask, TaskStatus

        with self.app.app_context():
            task_id = db.session.execute(
                select(HumanTask.id)
                .join(Case, Case.id == HumanTask.case_id)
                .where(Case.key == key, HumanTask.status.in_(TaskStatus.OPEN))
            ).scalar_one()
            db.session.remove()
        return int(task_id)

    def complete(self, element: str, key: str, username: str, data: dict[str, Any], measured: bool) -> None:
        task_id = self.open_task(key)
        body = {"data": data}
        post = lambda: self.client.post(  # noqa: E731
            f"/api/v1/tasks/{task_id}/complete", json=body, headers=self.bearer(username)
        )
        if not measured:
            self.call(None, post)
            return
        with self.meter.measure(self.s("complete (all steps)")):
            self.call(f"complete: {element}", post)

    def case_life(self, n: int, measured: bool) -> None:
        """A report and every completion of its case, to closed."""
        folks = self.folks
        lat, lon, address = folks.places[n % len(folks.places)]
        resident = folks.residents[n % len(folks.residents)]
        fields = {
            "title": "小区门口垃圾满溢",
            "description": "居民反映:请尽快处置。",
            "category_code": folks.category,
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "address": address,
        }
        send = lambda: self.client.post("/api/v1/cases", json=fields, headers=self.bearer(resident))  # noqa: E731
        key = self.call("report" if measured else None, send, expect=201).get_json()["key"]
        self.complete("triage", key, folks.dispatcher, {"triage_decision": "accept"}, measured)
        self.complete("dispatch", key, folks.dispatcher, {"handler_user": folks.worker}, measured)
        done = {"handle_result": "resolved", "handle_description": "已到场处置完毕"}
        self.complete("handle", key, folks.worker, done, measured)
        upload = self.call(
            None,
            lambda: self.client.post(
                f"/api/v1/cases/{key}/attachments?kind=after",
                data={"file": (io.BytesIO(self.photo), "after.jpg", "image/jpeg")},
                headers=self.bearer(folks.worker),
            ),
            expect=201,
        )
        self.complete("photo_proof", key, folks.worker, {"after_photos": [upload.get_json()["id"]]}, measured)
        self.complete("review", key, folks.supervisor, {"review_decision": "approve"}, measured)

    def inbox(self, name: str | None, username: str, scope: str) -> None:
        headers = self.bearer(username)
        args = {"scope": scope, "page_size": 20}
        self.call(name, lambda: self.client.get("/api/v1/tasks", query_string=args, headers=headers))

    def inboxes(self, measured: bool, suffix: str = "") -> None:
        folks = self.folks
        for name, username, scope in (
            ("inbox: grid worker, mine", folks.worker, "mine"),
            ("inbox: dispatcher, all", folks.dispatcher, "all"),
        ):
            self.inbox(name + suffix if measured else None, username, scope)

    def previous_inboxes(self) -> None:
        """The inboxes as the code before the p99 work answered them: each task's case read by itself."""
        from app.tasks import api

        def one_by_one(tasks: list[Any]) -> list[Any]:
            from app.cases.models import Case
            from app.extensions import db

            for task in tasks:
                case = db.session.get(Case, task.case_id) if task.case_id else None
                task.case_key = case.key if case else None
            return tasks

        current, api._with_case_keys = api._with_case_keys, one_by_one
        try:
            self.inboxes(True, " [previous code]")
        finally:
            api._with_case_keys = current

    def case_page(self, n: int, measured: bool) -> None:
        key = self.folks.case_keys[n % len(self.folks.case_keys)]
        self.call("case page" if measured else None, lambda: self.client.get(f"/supervise/cases/{key}"))

    def floor(self, measured: bool) -> None:
        headers = self.bearer(self.folks.worker)
        self.call(
            "floor: GET /api/v1/users/me" if measured else None,
            lambda: self.client.get("/api/v1/users/me", headers=headers),
        )

    def dashboards(self, runs: int) -> None:
        """The dashboard's snapshot (the service call its data.json answers), with the open-case index and
        without it (dropped in a transaction rolled back: nothing changes)."""
        from sqlalchemy import select, text

        from app.auth.models import User
        from app.extensions import db
        from app.web.supervisor.dashboard import snapshot

        with self.app.test_request_context():
            user = db.session.execute(select(User).where(User.username == self.folks.supervisor)).scalar_one()
            snapshot(user)  # warm
            for _ in range(runs):
                with self.meter.measure(self.s("dashboard snapshot")):
                    snapshot(user)
                db.session.rollback()
                db.session.execute(text(f"DROP INDEX {OPEN_CASE_INDEX}"))
                with self.meter.measure(self.s("dashboard snapshot [without the open-case index]")):
                    snapshot(user)
                db.session.rollback()
            db.session.remove()


# -- the report -------------------------------------------------------------------------------------------

ROWS = (
    ("floor: GET /api/v1/users/me", None),
    ("inbox: grid worker, mine", "inbox: grid worker, mine [previous code]"),
    ("inbox: dispatcher, all", "inbox: dispatcher, all [previous code]"),
    ("report", None),
    ("complete (all steps)", None),
    ("complete: triage", None),
    ("complete: dispatch", None),
    ("complete: handle", None),
    ("complete: photo_proof", None),
    ("complete: review", None),
    ("case page", None),
    ("dashboard snapshot", "dashboard snapshot [without the open-case index]"),
)


def print_report(series: dict[str, Series]) -> None:
    floor = series["floor: GET /api/v1/users/me"]
    header = (
        f"{'request':<52}{'n':>4}{'CPU p50':>9}{'p90':>7}{'PG CPU':>8}{'SQL n':>7}{'SQL ms':>8}"
        f"{'wall p50':>10}{'p90':>7}{'x floor':>9}"
    )
    print("\n(ms; CPU = the app's thread; PG CPU = PostgreSQL's backends, mean; SQL ms = time in the driver)")
    print(header)
    for name, baseline in ROWS:
        for label in (name, baseline):
            if label is None or label not in series:
                continue
            s = series[label]
            ratio = s.median("cpu") / floor.median("cpu") if floor.samples else 0.0
            print(
                f"{label:<52}{len(s.samples):>4}{1000 * s.median('cpu'):>9.1f}{1000 * s.p90('cpu'):>7.1f}"
                f"{1000 * s.pg_mean:>8.1f}{s.median('statements'):>7.0f}{1000 * s.median('sql'):>8.1f}"
                f"{1000 * s.median('wall'):>10.1f}{1000 * s.p90('wall'):>7.1f}{ratio:>9.1f}"
            )
    print("\nours vs the baseline of the same run (medians; < 1: ours costs less):")
    for name, baseline in ROWS:
        if baseline is None or name not in series or baseline not in series:
            continue
        ours, before = series[name], series[baseline]
        print(
            f"  {name:<28} CPU {ours.median('cpu') / before.median('cpu'):.2f}, statements "
            f"{ours.median('statements'):.0f}/{before.median('statements'):.0f}, SQL time "
            f"{ours.median('sql') / before.median('sql'):.2f}, "
            f"wall {ours.median('wall') / before.median('wall'):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="requests of each kind measured")
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    subprocess.run(
        [str(BIN / "flask"), "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": args.database_url, "SECRET_KEY": "bench-requests"},
        check=True,
        capture_output=True,
    )
    folder = Path(tempfile.mkdtemp(prefix="gridcase-bench-requests-"))
    redis_port = free_port()
    redis = subprocess.Popen(
        [REDIS_SERVER, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(redis_port)
        app = make_app(args.database_url, f"redis://127.0.0.1:{redis_port}/0", folder / "uploads")
        from sqlalchemy import func, select

        from app.extensions import db
        from app.jobs import QUEUES
        from app.jobs.models import JobOutbox, OutboxStatus
        from app.worker import run_worker

        with app.app_context():
            meter = Meter(db.engine)
        folks = people(app, args.runs)
        print(
            f"bench.requests on {args.database_url.rsplit('/', 1)[-1]}: {args.runs} of each; grid worker "
            f"{folks.worker}, dispatcher {folks.dispatcher}, supervisor {folks.supervisor}",
            flush=True,
        )
        bench = Bench(app, meter, folks)
        # The app's access log line is part of each request's cost; where it goes is not.
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
            bench.sign_in_supervisor()
            for n in range(2):  # warm: templates, forms, BPMN specs, statement caches
                bench.floor(False)
                bench.inboxes(False)
                bench.case_life(n, False)
                bench.case_page(n, False)
            for n in range(args.runs):
                bench.floor(True)
                bench.inboxes(True)
                bench.previous_inboxes()
                bench.case_life(n, True)
                bench.case_page(n, True)
            bench.dashboards(max(3, args.runs // 5))
            # The jobs the requests queued (thumbnails, engine steps) run before this Redis goes: none is
            # left behind in the outbox for the next bench to find.
            run_worker(app, list(QUEUES), burst=True)
        print_report(bench.series)
        with app.app_context():
            left = db.session.execute(
                select(func.count()).select_from(JobOutbox).where(JobOutbox.status.in_(OutboxStatus.OPEN))
            ).scalar_one()
            db.session.remove()
        print(f"\njobs still open in the outbox after the run: {left}")
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    sys.exit(0)


if __name__ == "__main__":
    main()
