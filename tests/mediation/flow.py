"""Walking disputes through the API as the people would."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.models import Case
from app.clock import as_utc
from app.extensions import db
from app.mediation.models import Dispute
from app.workflow import scheduler
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.helpers import Auth, complete
from tests.mediation.territory import COMPOUND_A1, GRID_A1, GRID_A2

NAME_1, PHONE_1, ADDRESS_1 = "张三", "13812345678", "郫都区望丛社区杜鹃雅居3栋2单元1201"
NAME_2, PHONE_2, ADDRESS_2 = "李四娃", "13987654321", "郫都区望丛社区锦绣花园5栋1302"
PERSONAL = (NAME_1, PHONE_1, ADDRESS_1, NAME_2, PHONE_2, ADDRESS_2, "3栋2单元1201", "5栋1302")
DESCRIPTION = "楼上张三家卫生间漏水,已持续两周,协商未果"


def pdf(text: str = "调解协议书") -> bytes:
    """A small well-formed PDF: magic bytes first, the end-of-file marker last."""
    body = f"1 0 obj << /Type /Catalog >> endobj % {text}\n".encode()
    return b"%PDF-1.4\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def parties() -> list[dict[str, Any]]:
    return [
        {
            "name": NAME_1,
            "phone": PHONE_1,
            "address": ADDRESS_1,
            "grid_code": COMPOUND_A1,
            "role": "applicant",
        },
        {"name": NAME_2, "phone": PHONE_2, "address": ADDRESS_2, "grid_code": GRID_A2, "role": "respondent"},
    ]


def file_dispute(
    client: FlaskClient, auth: Auth, who: str = "resident", expect: int = 201, **fields: Any
) -> dict[str, Any]:
    body = {
        "dispute_type": "water_leak",
        "description": DESCRIPTION,
        "parties": parties(),
        "grid_code": GRID_A1,
        "address": ADDRESS_1,
        **fields,
    }
    body = {name: value for name, value in body.items() if value is not None}
    response = client.post("/api/v1/disputes", json=body, headers=auth(who))
    assert response.status_code == expect, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def view(client: FlaskClient, auth: Auth, key: str, who: str, expect: int = 200) -> dict[str, Any]:
    response = client.get(f"/api/v1/disputes/{key}", headers=auth(who))
    assert response.status_code == expect, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def intake(
    client: FlaskClient,
    auth: Auth,
    key: str,
    grade: str = "simple",
    who: str = "community",
    expect: int = 200,
    **extra: Any,
) -> dict[str, Any]:
    return complete(
        client, auth, who, key, "intake", {"grade": grade, "dispute_type": "water_leak", **extra}, expect
    )


def session(
    client: FlaskClient,
    auth: Auth,
    key: str,
    mediator: str,
    outcome: str,
    held_at: str = "2026-11-02T16:00:00+08:00",
    expect: int = 200,
    **extra: Any,
) -> dict[str, Any]:
    data = {
        "session_at": held_at,
        "session_mode": "offline",
        "session_place": "社区解忧聊天室",
        "attendees": [1, 2],
        "other_attendees": "物业代表",
        "session_record": "当事人1陈述漏水经过,当事人2同意检修防水层",
        "session_outcome": outcome,
        **extra,
    }
    return complete(client, auth, mediator, key, "session", data, expect)


def upload(
    client: FlaskClient,
    auth: Auth,
    key: str,
    who: str,
    kind: str = "agreement",
    content: bytes | None = None,
    name: str = "调解协议书.pdf",
    expect: int = 201,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/disputes/{key}/documents?kind={kind}",
        data={"file": (io.BytesIO(pdf() if content is None else content), name)},
        headers=auth(who),
        content_type="multipart/form-data",
    )
    assert response.status_code == expect, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def sign_agreement(client: FlaskClient, auth: Auth, key: str, mediator: str) -> dict[str, Any]:
    document = upload(client, auth, key, mediator)
    return complete(
        client,
        auth,
        mediator,
        key,
        "upload_agreement",
        {
            "agreement_document": document["id"],
            "agreement_summary": "当事人1负责修复防水层,赔偿当事人2 800元",
        },
    )


def dispute_row(key: str) -> Dispute:
    db.session.expire_all()
    return db.session.execute(
        select(Dispute).join(Case, Case.id == Dispute.case_id).where(Case.key == key)
    ).scalar_one()


def case_row(key: str) -> Case:
    db.session.expire_all()
    return db.session.execute(select(Case).where(Case.key == key)).scalar_one()


def instance(key: str) -> ProcessInstance:
    db.session.expire_all()
    return db.session.execute(
        select(ProcessInstance).join(Case, Case.id == ProcessInstance.case_id).where(Case.key == key)
    ).scalar_one()


def open_elements(key: str) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.execute(
            select(HumanTask.element_id)
            .join(Case, Case.id == HumanTask.case_id)
            .where(Case.key == key, HumanTask.status.in_(TaskStatus.OPEN))
        ).scalars()
    )


def timeline(client: FlaskClient, auth: Auth, key: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/cases/{key}/timeline?page_size=100", headers=auth("supervisor"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]  # type: ignore[no-any-return]


def actions(client: FlaskClient, auth: Auth, key: str) -> list[str]:
    return [event["action"] for event in timeline(client, auth, key)]


def tick_at(clock: Any, moment: datetime) -> int:
    clock.set(as_utc(moment))
    fired = scheduler.tick()
    db.session.expire_all()
    return fired
