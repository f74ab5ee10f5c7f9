"""Demo data for ``make run``: users of every role and a few cases at different steps of the loop."""

from __future__ import annotations

import io
from typing import Any

from flask import current_app
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from app.auth.models import User
from app.auth.services import create_user
from app.cases import services as cases
from app.cases.models import Case
from app.extensions import db
from app.tasks import services as tasks
from app.workflow import deploy
from app.workflow.models import HumanTask, ProcessDefinition, TaskStatus

# username, role, display name, unit code
DEMO_USERS: list[tuple[str, str, str, str | None]] = [
    ("admin", "admin", "系统管理员", None),
    ("designer", "designer", "流程设计员 陈工", None),
    ("dispatcher", "dispatcher", "指挥中心 王调度", None),
    ("supervisor", "supervisor", "督办员 李督办", None),
    ("worker1", "grid_worker", "网格员 张伟", None),
    ("worker2", "grid_worker", "网格员 刘芳", None),
    ("worker3", "grid_worker", "网格员 赵磊", None),
    ("water1", "department_handler", "水务公司 孙师傅", "water"),
    ("resident1", "resident", "居民 周阿姨", None),
]

DEMO_CASES: list[dict[str, Any]] = [
    {
        "title": "小区门口垃圾满溢",
        "description": "锦绣花园北门垃圾桶满溢,气味大。",
        "category_code": "0102",
        "severity": "yellow",
        "lat": 30.7589,
        "lon": 103.9718,
        "address": "郫都区锦绣花园北门",
        "walk": "closed",
    },
    {
        "title": "人行道井盖松动",
        "description": "团结路人行道井盖踩上去晃动,有安全隐患。",
        "category_code": "0101",
        "severity": "orange",
        "lat": 30.7612,
        "lon": 103.9690,
        "address": "郫都区团结路23号",
        "walk": "handling",
    },
    {
        "title": "楼道堆放杂物",
        "description": "3栋2单元楼道堆放纸箱,影响消防通道。",
        "category_code": "0103",
        "severity": "blue",
        "lat": 30.7571,
        "lon": 103.9742,
        "address": "郫都区望丛小区3栋",
        "walk": "dispatching",
    },
    {
        "title": "路边违章搭建",
        "description": "商铺外私搭雨棚占用人行道。",
        "category_code": "0101",
        "severity": "red",
        "lat": 30.7602,
        "lon": 103.9755,
        "address": "郫都区望丛东路88号",
        "walk": "triage",
    },
]


def demo_photo(text: str) -> bytes:
    image = Image.new("RGB", (640, 480), (90, 140, 90))
    ImageDraw.Draw(image).text((20, 20), text, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _open_task(case: Case, element_id: str) -> HumanTask:
    return db.session.execute(
        select(HumanTask).where(
            HumanTask.case_id == case.id,
            HumanTask.element_id == element_id,
            HumanTask.status.in_(TaskStatus.OPEN),
        )
    ).scalar_one()


def walk_case(case: Case, until: str) -> None:
    """Move a demo case through the loop as the demo users would, stopping at ``until``."""
    dispatcher, supervisor = _user("dispatcher"), _user("supervisor")
    if until == "triage":
        return
    tasks.complete(dispatcher, _open_task(case, "triage").id, {"triage_decision": "accept"})
    if until == "dispatching":
        return
    tasks.complete(
        dispatcher, _open_task(case, "dispatch").id, {"handler_user": "worker1", "time_limit_hours": 24}
    )
    if until == "handling":
        return
    worker = _user("worker1")
    tasks.complete(
        worker,
        _open_task(case, "handle").id,
        {"handle_result": "resolved", "handle_description": "已清理完毕"},
    )
    photo = cases.add_attachment(worker, case.key, demo_photo("after"), "after.jpg", "after")
    tasks.complete(worker, _open_task(case, "photo_proof").id, {"after_photos": [photo.id]})
    tasks.complete(supervisor, _open_task(case, "review").id, {"review_decision": "approve"})


def seed_demo(password: str) -> int:
    created = 0
    if not db.session.execute(select(func.count()).select_from(ProcessDefinition)).scalar_one():
        deploy.deploy_folder(
            current_app.extensions["gridcase.settings"].bpmn_folder,
            current_app.extensions["gridcase.deploy_rules"](),
        )
    for username, role, name, unit in DEMO_USERS:
        if db.session.execute(select(User.id).where(User.username == username)).first() is None:
            create_user(username, password, role, name, unit)
            created += 1
    db.session.flush()
    if db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 0:
        for spec in DEMO_CASES:
            fields = {k: v for k, v in spec.items() if k != "walk"}
            reporter = _user("resident1" if spec["walk"] == "triage" else "worker2")
            case = cases.report_case(reporter, fields)
            walk_case(case, spec["walk"])
            created += 1
    return created
