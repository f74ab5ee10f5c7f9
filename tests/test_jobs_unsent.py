"""Jobs of a committed transaction that Redis does not take are kept and sent when it is back: the commit
never fails because of them (the MQTT listener once ingested such a batch twice, or died trying)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import select

import app.jobs.outbox
from app.cases.models import Case
from app.devices.case_opening import open_case_job
from app.devices.models import Alarm, Incident
from app.devices.services import register_device, validate_device_fields
from app.extensions import db
from app.jobs import ENGINE_QUEUE, enqueue, resend_unsent_jobs, unsent_jobs
from app.jobs.models import JobOutbox, OutboxStatus
from app.worker import run_worker
from connectors.ingest import Message, ingest_many
from tests.connectors.brokers import Redis

pytestmark = [pytest.mark.redis]



@pytest.fixture
def stack_app(make_app: Any, redis_server: Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setattr(app.jobs.outbox, "RESEND_SECONDS", 0.0)  # no waiting between attempts in these tests
    flask_app: Flask = make_app("sqlite", redis_url=redis_server.url)
    with flask_app.app_context():
        from app.workflow import deploy

        deploy.deploy_folder(
            flask_app.extensions["gridcase.settings"].bpmn_folder,
            flask_app.extensions["gridcase.deploy_rules"](),
        )
        for n in range(2):
            fields = {
                "device_id": f"leak-{n}",
                "friendly_name": f"leak-{n}",
                "device_type": "water_leak_sensor",
            }
            register_device(validate_device_fields(fields))
        db.session.commit()
        yield flask_app
        db.session.remove()


def _leak(n: int, ref: str) -> Message:
    return Message(f"zigbee2mqtt/leak-{n}", b'{"water_leak": true}', message_ref=ref)


def test_a_batch_whose_case_jobs_redis_refuses_is_committed_once_and_its_jobs_sent_later(
    stack_app: Flask, redis_server: Redis
) -> None:
    redis_server.stop()
    [result] = ingest_many([_leak(0, "c:1")])  # before the fix: raised after the commit
    assert result.outcome == "processed" and len(result.incident_ids) == 1
    waiting, error = unsent_jobs()
    assert waiting == 1 and error is not None and "Connection" in error
    [second] = ingest_many([_leak(1, "c:2")])  # the session is usable; the job joins the first, in order
    assert len(second.incident_ids) == 1 and unsent_jobs()[0] == 2
    assert resend_unsent_jobs() == 2  # still away

    redis_server.start()
    assert resend_unsent_jobs() == 0
    assert unsent_jobs() == (0, None)
    queue = Queue("engine", connection=stack_app.extensions["gridcase.redis"])
    assert [job.args[1] for job in queue.get_jobs()] == [result.incident_ids[0], second.incident_ids[0]]
    run_worker(stack_app, ["engine"], burst=True)
    db.session.expire_all()
    assert [a.count for a in db.session.execute(select(Alarm).order_by(Alarm.id)).scalars()] == [1, 1]
    incidents = db.session.execute(select(Incident)).scalars().all()
    assert len(incidents) == 2 and all(i.case_id is not None for i in incidents)
    assert len(db.session.execute(select(Case)).scalars().all()) == 2


def test_a_job_whose_arguments_cannot_be_stored_is_refused_before_the_commit_and_blocks_nothing(
    stack_app: Flask,
) -> None:
    db.session.execute(select(Alarm.id))  # a transaction to commit
    with pytest.raises(ValueError, match="arguments must be JSON values"):
        enqueue(ENGINE_QUEUE, open_case_job, lambda: None)  # jobs take ids, not objects
    db.session.commit()  # the transaction is untouched: nothing was written for that job
    assert db.session.execute(select(JobOutbox)).scalars().all() == []
    assert unsent_jobs() == (0, None)
    db.session.execute(select(Alarm.id))
    enqueue(ENGINE_QUEUE, open_case_job, 12345)
    db.session.commit()
    queue = Queue("engine", connection=stack_app.extensions["gridcase.redis"])
    assert [job.args for job in queue.get_jobs()] == [("app.devices.case_opening.open_case_job", 12345)]
    [row] = db.session.execute(select(JobOutbox)).scalars().all()
    assert (row.status, queue.job_ids) == (OutboxStatus.PENDING, [f"outbox-{row.id}"])  # until it runs
