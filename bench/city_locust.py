"""The people of ``bench.city`` for locust (real HTTP against the stack): grid workers polling their inbox
and completing tasks with photos, residents reporting, dispatchers triaging and dispatching, supervisors
opening case pages and reviewing, and dashboards on the wall refreshing themselves.

Think times are the people's, not a stress test's (issue #18: "300 users polling an inbox" is not 300
requests a second). Per user, with ``CITY_THINK_SCALE`` = 1:

- grid worker (150): the phone polls the inbox every 30-60 s and acts on the first task (handle, or upload a
  photo and send the proof): ~3.3 polls/s for all of them;
- resident (80): reports a problem (not a red one: the emergency process is nobody's here) every 1-3 min,
  then opens it: ~0.7 reports/s, about 2,400 an hour, six times Pidu's busiest hour (~6,700 cases a day in
  a district of 1.4 M people: Chengdu's 100,000 / 21 M);
- dispatcher (20): looks at the shared queue every 5-15 s and triages or dispatches one report (the case
  needs two of these), or verifies a sensor alarm's handled case: ~2 completions/s for ~2.3 asked;
- supervisor (40): every 10-30 s opens a case page (4 in 6) or reviews a handled case (2 in 6);
- dashboard (10 supervisors' screens): the dashboard page polls its data every 30 s
  (``DEFAULT_REFRESH_SECONDS``), as a wall screen does all day.

About 15 requests a second in all. ``CITY_THINK_SCALE`` multiplies every think time (0.2: five times the pace,
the earlier bench's 3-15 s for everyone, ~47 requests/s asked).

``bench.city`` writes the plan (``CITY_PLAN``: usernames, places, categories, case keys) and reads back the
ledger (``CITY_LEDGER``: every report and completion that got a 2xx, one JSON line each) and the status
counts per endpoint (``CITY_STATUSES``). Run by ``bench.city``; not alone."""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
from collections import Counter
from typing import Any

from locust import HttpUser, events, task

PASSWORD = os.environ.get("CITY_PASSWORD", "gridcase-demo")
with open(os.environ["CITY_PLAN"], encoding="utf-8") as _plan:
    PLAN: dict[str, Any] = json.load(_plan)
LEDGER = open(os.environ["CITY_LEDGER"], "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (whole run)
STATUSES: Counter[tuple[str, int]] = Counter()
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_usernames = {role: itertools.cycle(names) for role, names in PLAN["users"].items()}
THINK_SCALE = float(os.environ.get("CITY_THINK_SCALE", "1"))
DASHBOARD_REFRESH_SECONDS = 30.0  # app.web.supervisor.dashboard.DEFAULT_REFRESH_SECONDS


def think(low: float, high: float) -> Any:
    """locust's ``between``, scaled by ``CITY_THINK_SCALE``."""

    def wait_time(user: HttpUser) -> float:
        return THINK_SCALE * random.uniform(low, high)

    return wait_time


def _photo() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 140, 90)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


PHOTO = _photo()


@events.request.add_listener
def _count(name: str, response: Any, exception: Any, **_: Any) -> None:
    status = getattr(response, "status_code", 0) if response is not None else 0
    STATUSES[(name, int(status or 0))] += 1


@events.quitting.add_listener
def _dump(**_: Any) -> None:
    rows = [{"name": name, "status": status, "count": n} for (name, status), n in STATUSES.items()]
    with open(os.environ["CITY_STATUSES"], "w", encoding="utf-8") as out:
        json.dump(rows, out)
    LEDGER.close()


def _record(kind: str, **fields: Any) -> None:
    LEDGER.write(json.dumps({"kind": kind, **fields}) + "\n")


class Person(HttpUser):
    abstract = True
    role = ""

    def on_start(self) -> None:
        self.username = next(_usernames[self.role])
        token = PLAN["tokens"].get(self.username)
        if token is None or random.random() < PLAN["sign_in_share"]:
            response = self.client.post(
                "/api/v1/tokens",
                json={"username": self.username, "password": PASSWORD},
                name="sign in (token)",
            )
            token = response.json()["token"] if response.status_code == 201 else ""
        self.headers = {"Authorization": f"Bearer {token}"}

    def inbox(self, scope: str) -> list[dict[str, Any]]:
        response = self.client.get(
            "/api/v1/tasks", params={"scope": scope, "page_size": 20}, headers=self.headers, name="inbox"
        )
        return list(response.json().get("items", [])) if response.status_code == 200 else []

    def complete(self, item: dict[str, Any], data: dict[str, Any]) -> bool:
        with self.client.post(
            f"/api/v1/tasks/{item['id']}/complete",
            json={"data": data},
            headers=self.headers,
            name="complete",
            catch_response=True,
        ) as response:
            if response.status_code == 409:  # someone else completed it first: exactly one wins
                response.success()
                return False
            if 200 <= response.status_code < 300:
                _record("complete", task=item["id"], element=item["element_id"], user=self.username)
                return True
            response.failure(f"{response.status_code}: {response.text[:200]}")
            return False


class GridWorker(Person):
    """Polls the inbox; handles a case, then sends the photo proof."""

    weight = 150
    role = "grid_worker"
    wait_time = think(30, 60)

    @task
    def work(self) -> None:
        for item in self.inbox("mine")[:1]:
            if item["element_id"] == "handle":
                self.complete(item, {"handle_result": "resolved", "handle_description": "已到场处置完毕"})
            elif item["element_id"] == "photo_proof":
                upload = self.client.post(
                    f"/api/v1/cases/{item['case_key']}/attachments",
                    params={"kind": "after"},
                    files={"file": ("after.jpg", PHOTO, "image/jpeg")},
                    headers=self.headers,
                    name="upload photo",
                )
                if upload.status_code == 201:
                    self.complete(item, {"after_photos": [upload.json()["id"]]})


class Resident(Person):
    """Reports a problem somewhere in the district, then looks at it."""

    weight = 80
    role = "resident"
    wait_time = think(60, 180)

    @task
    def report(self) -> None:
        place = random.choice(PLAN["places"])
        code = random.choice(PLAN["categories"])
        with self.client.post(
            "/api/v1/cases",
            json={
                "title": "小区门口垃圾满溢",
                "description": "居民反映:请尽快处置。",
                "category_code": code,
                "lat": place["lat"],
                "lon": place["lon"],
                "address": place["address"],
            },
            headers=self.headers,
            name="report",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                _record("report", key=response.json()["key"], user=self.username)
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
        self.client.get(f"/api/v1/cases/{response.json()['key']}", headers=self.headers, name="case (API)")


class Dispatcher(Person):
    """Triages new reports and dispatches them to the proposed handler; verifies and closes the cases the
    sensors' alarms opened (核实结案, bpmn/sensor_alarm.bpmn) once they were handled."""

    weight = 20
    role = "dispatcher"
    wait_time = think(5, 15)

    @task
    def triage_or_dispatch(self) -> None:
        items = [i for i in self.inbox("all") if i["element_id"] in ("triage", "dispatch", "verify")]
        if not items:
            return
        item = random.choice(items)  # twenty dispatchers share one queue: spread them
        if item["element_id"] == "triage":
            self.complete(item, {"triage_decision": "accept"})
            return
        if item["element_id"] == "verify":
            self.complete(item, {"verify_decision": "close"})
            return
        detail = self.client.get(f"/api/v1/tasks/{item['id']}", headers=self.headers, name="task")
        if detail.status_code != 200:
            return
        proposal = detail.json().get("data", {}).get("proposal") or {}
        if proposal.get("handler_user"):
            self.complete(item, {"handler_user": proposal["handler_user"]})
        else:
            self.complete(item, {"handler_unit": proposal.get("handler_unit") or PLAN["fallback_unit"]})


class SignedInSupervisor(Person):
    """A supervisor signed in through the login page (the pages use the session cookie)."""

    abstract = True
    role = "supervisor"

    def on_start(self) -> None:
        super().on_start()
        page = self.client.get("/login", name="login page")
        match = CSRF.search(page.text)
        self.client.post(
            "/login",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrf_token": match.group(1) if match else "",
            },
            name="sign in (page)",
            allow_redirects=False,
        )


class Supervisor(SignedInSupervisor):
    """Opens case pages and reviews proofs."""

    weight = 40
    wait_time = think(10, 30)

    @task(4)
    def case_page(self) -> None:
        key = random.choice(PLAN["case_keys"])
        self.client.get(f"/supervise/cases/{key}", name="case page")

    @task(2)
    def review(self) -> None:
        items = [i for i in self.inbox("all") if i["element_id"] == "review"]
        if items:
            self.complete(random.choice(items), {"review_decision": "approve"})


class DashboardScreen(SignedInSupervisor):
    """The dashboard page left open: it fetches its data every ``DASHBOARD_REFRESH_SECONDS``."""

    weight = 10

    def wait_time(self) -> float:
        return THINK_SCALE * DASHBOARD_REFRESH_SECONDS

    @task
    def dashboard(self) -> None:
        self.client.get(
            "/supervise/dashboard/data.json", name="dashboard", headers={"Accept": "application/json"}
        )
