"""Seeding the live server for the browser walks of the other processes (sensor alarm, emergency, dispute
mediation, inspection campaign): the small territory of tests/cases/territory.py, every diagram deployed,
and the people who work them, each with a Chinese display name (the pages must show names, not logins).
The starts use the product's own entries (the connector's ingest, the services); every step after is taken
in the pages by the test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, or_, select

from app.auth.models import User
from app.clock import as_utc, now
from app.extensions import db
from app.workflow import deploy, scheduler
from app.workflow.models import HumanTask, ProcessInstance, TaskStatus
from tests.cases.territory import COMMUNITY, DISTRICT, EAST_GRID, add_unit, assign, build_territory
from tests.conftest import PASSWORD
from tests.helpers import ensure_catalogue

# username: (role, display name, where they work, unit)
PEOPLE: dict[str, tuple[str, str, str | None, str | None]] = {
    "resident": ("resident", "刘居民", None, None),
    "worker": ("grid_worker", "张网格", EAST_GRID, None),
    "dispatcher": ("dispatcher", "陈调度", DISTRICT, None),
    "supervisor": ("supervisor", "王督办", DISTRICT, None),
    "community": ("community_staff", "李社区", COMMUNITY, None),
    "property1": ("department_handler", "赵物业", None, "property-jx"),
    "gas1": ("department_handler", "钱燃气", None, "gas"),
    "med1": ("mediator", "周调解", COMMUNITY, None),
    "med2": ("mediator", "吴调解", COMMUNITY, None),
}
UNITS = {"property-jx": ("property", "锦绣物业公司"), "gas": ("gas", "郫都燃气公司")}


def seed(app: Flask, *usernames: str) -> None:
    """Territory, catalogue, every diagram, the units, and ``usernames`` of PEOPLE (all when none given).
    Call inside ``app.app_context()``."""
    from app.auth.services import create_user

    build_territory()
    ensure_catalogue()
    deploy.deploy_folder(
        app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
    )
    for code, (kind, name) in UNITS.items():
        add_unit(code, kind, EAST_GRID, name=name)
    for username in usernames or tuple(PEOPLE):
        role, name, grid, unit = PEOPLE[username]
        create_user(username, PASSWORD, role, name, unit)
        db.session.commit()
        if grid:
            assign(username, grid)
    db.session.commit()


def user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _with_children(instance_id: int) -> Any:
    """The instance and its children (responders, places: app.workflow.children)."""
    return or_(
        ProcessInstance.id == instance_id,
        ProcessInstance.parent_id == instance_id,
    )


def open_tasks_of(instance_id: int) -> list[HumanTask]:
    """The open tasks of the instance and of its children."""
    db.session.expire_all()
    family = select(ProcessInstance.id).where(_with_children(instance_id))
    return list(
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id.in_(family), HumanTask.status.in_(TaskStatus.OPEN))
            .order_by(HumanTask.id)
        ).scalars()
    )


def open_task_of(instance_id: int, element_id: str) -> HumanTask:
    found = [t for t in open_tasks_of(instance_id) if t.element_id == element_id]
    assert len(found) == 1, f"{len(found)} open {element_id} tasks in instance {instance_id}"
    return found[0]


def fire_next_timer(app: Flask, instance_id: int, late: timedelta = timedelta(seconds=1)) -> None:
    """Move the injected clock just past the next timer of the instance (or of one of its children) and let
    the scheduler fire it."""
    db.session.expire_all()
    due = db.session.execute(
        select(func.min(ProcessInstance.next_timer_at)).where(_with_children(instance_id))
    ).scalar_one()
    assert due is not None, "no timer is armed"
    clock = app.extensions["gridcase.clock"]
    clock.set(max(as_utc(due) + late, now()))
    assert scheduler.tick() >= 1
    db.session.commit()
    db.session.expire_all()
