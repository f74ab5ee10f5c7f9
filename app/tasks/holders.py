"""Who holds which open task: what a person leaves behind when they are deactivated, for reassignment."""

from __future__ import annotations

from sqlalchemy import or_, select

from app.auth.models import User
from app.extensions import db
from app.workflow.models import HumanTask, TaskStatus


def open_tasks_of(user: User) -> list[HumanTask]:
    """The open tasks waiting on ``user``: claimed by them, or offered to them by name, oldest first. Once
    they are deactivated nobody else sees these in an inbox until a supervisor or an admin reassigns them."""
    return list(
        db.session.execute(
            select(HumanTask)
            .where(
                HumanTask.status.in_(TaskStatus.OPEN),
                or_(HumanTask.assignee_id == user.id, HumanTask.candidate_user == user.username),
            )
            .order_by(HumanTask.created_at, HumanTask.id)
        ).scalars()
    )


def reassign_candidates(task: HumanTask, limit: int = 200) -> list[tuple[str, str]]:
    """(username, display name) of active users whose role may take ``task``: whom it may be handed to."""
    rows = db.session.execute(
        select(User.username, User.display_name)
        .where(User.active.is_(True), User.role.in_(task.roles))
        .order_by(User.username)
        .limit(limit)
    )
    return [(username, name) for username, name in rows]
