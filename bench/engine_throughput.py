"""Task completions per second walking case_handling.bpmn: the engine alone vs. our service layer.

(a) SpiffWorkflow alone, in memory, with a full serialize/deserialize round trip per step (what any
    persistent use of the engine pays at least);
(b) our service layer: bearer-less service calls that lock the instance, validate the form, run the
    engine, materialize tasks, mirror the case status, write audit events and commit, on SQLite and on
    PostgreSQL (when reachable).

Cases are walked one after the other by one process, so each step of (b) finds the workflow object the
previous step committed in the process's live-workflow cache (``app/workflow/live.py``); with several
processes serving one instance's steps in turn, a step may instead restore the state, as (a) does.

Prints completions per second and the ratio b/a. Run: ``python -m bench.engine_throughput [--cases N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parent.parent
# Its own database: the benchmark drops and rebuilds the schema, so it must not share the tests' one.
POSTGRES_URL = os.environ.get(
    "GRIDCASE_BENCH_POSTGRES_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_bench"
)

STEPS: list[tuple[str, dict[str, Any]]] = [
    ("triage", {"triage_decision": "accept"}),
    ("dispatch", {"handler_user": "worker", "time_limit_hours": 24}),
    ("handle", {"handle_result": "resolved", "handle_description": "已清理"}),
    ("photo_proof", {}),  # after_photos filled per case
    ("review", {"review_decision": "approve"}),
]


class _CannedServices(TaskDataEnvironment):
    """Baseline service tasks: answer instantly, as cheap as a service task can be."""

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        if kwargs["operation_name"] == "case.set_time_limit":
            return json.dumps({"warn_at": "2030-01-01T00:00:00+00:00", "due_at": "2030-01-02T00:00:00+00:00"})
        return json.dumps({"handler_user": "worker"})


def engine_alone(cases: int) -> float:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(ROOT / "bpmn" / "case_handling.bpmn"))
    spec, subs = parser.get_spec("case_handling"), parser.get_subprocess_specs("case_handling")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    engine = PythonScriptEngine(environment=_CannedServices())
    completions = 0
    started = time.perf_counter()
    for _ in range(cases):
        workflow = BpmnWorkflow(spec, subs, script_engine=engine)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        for element_id, data in STEPS:
            workflow = serializer.deserialize_json(state)
            workflow.script_engine = engine
            task = next(
                t
                for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                if t.task_spec.bpmn_id == element_id
            )
            task.data.update(data or {"after_photos": [1]})
            task.run()
            workflow.do_engine_steps()
            state = serializer.serialize_json(workflow)
            completions += 1
    return completions / (time.perf_counter() - started)


def service_layer(database_url: str, cases: int) -> float:
    from sqlalchemy import select, text

    from app import create_app, runtime
    from app.auth.models import User
    from app.auth.services import create_user
    from app.cases import services as case_services
    from app.clock import FrozenClock
    from app.config import Settings
    from app.extensions import db
    from app.tasks import services as task_services
    from app.workflow import deploy
    from app.workflow.models import HumanTask, TaskStatus
    from tests.helpers import jpeg

    folder = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    settings = Settings.from_env(
        database_url=database_url, redis_url=None, upload_folder=folder / "uploads", secret_key="bench"
    )
    app = create_app(settings, clock=FrozenClock())
    with app.app_context():
        from flask_migrate import downgrade, upgrade

        if database_url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        deploy.deploy_folder(settings.bpmn_folder, runtime.deploy_rules(app))
        for username, role in [
            ("resident", "resident"),
            ("dispatcher", "dispatcher"),
            ("worker", "grid_worker"),
            ("supervisor", "supervisor"),
        ]:
            create_user(username, "bench-password", role)
        db.session.commit()
        people = {u.username: u for u in db.session.execute(select(User)).scalars()}
        actor = {
            "triage": "dispatcher",
            "dispatch": "dispatcher",
            "handle": "worker",
            "photo_proof": "worker",
            "review": "supervisor",
        }
        photo = jpeg()
        elapsed = 0.0
        completions = 0
        for _ in range(cases):
            case = case_services.report_case(people["resident"], {"title": "垃圾满溢", "severity": "yellow"})
            db.session.commit()
            for element_id, data in STEPS:
                if element_id == "photo_proof":  # the upload is not a completion: outside the timing
                    attachment = case_services.add_attachment(
                        people["worker"], case.key, photo, "p.jpg", "after"
                    )
                    data = {"after_photos": [attachment.id]}
                    db.session.commit()
                task_id = db.session.execute(
                    select(HumanTask.id).where(
                        HumanTask.case_id == case.id,
                        HumanTask.element_id == element_id,
                        HumanTask.status.in_(TaskStatus.OPEN),
                    )
                ).scalar_one()
                db.session.commit()
                user = db.session.get(User, people[actor[element_id]].id)
                started = time.perf_counter()
                task_services.complete(user, task_id, data)
                db.session.commit()
                elapsed += time.perf_counter() - started
                completions += 1
        if database_url.startswith("postgresql"):
            downgrade(revision="base")
        db.session.remove()
        db.engine.dispose()
    return completions / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases", type=int, default=40, help="cases walked per measurement (5 completions each)"
    )
    parser.add_argument("--runs", type=int, default=3, help="measurements per figure (the median is kept)")
    args = parser.parse_args()

    # Interleaved, one of each figure per run: a change in machine load during the benchmark then moves
    # every figure alike instead of skewing the ratio.
    baselines: list[float] = []
    sqlites: list[float] = []
    postgreses: list[float] = []
    postgres_error: Exception | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            baselines.append(engine_alone(args.cases))
            sqlites.append(service_layer(f"sqlite:///{tmp}/bench-{run}.sqlite3", args.cases))
            if postgres_error is None:
                try:
                    postgreses.append(service_layer(POSTGRES_URL, args.cases))
                except Exception as exc:  # report, don't hide: the figure is missing and why
                    postgres_error = exc
    baseline, sqlite = statistics.median(baselines), statistics.median(sqlites)
    print(f"(a) SpiffWorkflow alone, serialize round trip per step: {baseline:8.1f} completions/s")
    print(
        f"(b) service layer + persistence, SQLite:              {sqlite:8.1f} completions/s"
        f"   b/a = {sqlite / baseline:.2f}"
    )
    if postgres_error is not None:
        print(
            "(b) service layer + persistence, PostgreSQL:          "
            f"unavailable ({postgres_error.__class__.__name__}: {postgres_error})"
        )
        return
    postgres = statistics.median(postgreses)
    print(
        f"(b) service layer + persistence, PostgreSQL:          {postgres:8.1f} completions/s"
        f"   b/a = {postgres / baseline:.2f}   (target >= 0.7)"
    )
    each = ", ".join(f"{b / a:.2f}" for a, b in zip(baselines, postgreses, strict=True))
    print(f"    PostgreSQL b/a of each run (its own baseline, measured just before): {each}")


if __name__ == "__main__":
    main()
