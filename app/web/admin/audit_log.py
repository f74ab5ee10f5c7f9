"""The audit log view: every event, newest first, filtered by actor (a username, or ``system`` and
``anonymous`` for what no user did), action (exact, or a prefix ending in ``.`` such as ``user.``) and a time
range (from, until: minutes in the site's time zone), paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_timezone
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError
from sqlalchemy import Select, and_, or_, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.http import MAX_PAGE_SIZE, paginate
from app.inputs import BoundedInt
from app.web.admin.filters import as_args, parse_filters

PAGE_SIZE = 50
TIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
_TIME_ERROR = "应为日期和时间，如 2026-12-01T08:00 (a date and time, e.g. 2026-12-01T08:00)"


class AuditArgs(Schema):
    actor = fields.Str(validate=validate.Length(max=80, error="最多 80 个字符 (at most 80 characters)"))
    action = fields.Str(
        validate=validate.Regexp(
            r"^[a-z_]+(\.[a-z_]*)*$", error="如 user.deactivated 或 user. (e.g. user.deactivated or user.)"
        )
    )
    since = fields.NaiveDateTime(format=TIME_FORMAT, error_messages={"invalid": _TIME_ERROR})
    until = fields.NaiveDateTime(format=TIME_FORMAT, error_messages={"invalid": _TIME_ERROR})
    page = BoundedInt(load_default=1, validate=validate.Range(min=1))
    page_size = BoundedInt(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise MarshmallowError("结束时间早于开始时间 (the end is before the start)", "until")


DEFAULTS: dict[str, Any] = {"page": 1, "page_size": PAGE_SIZE}


@dataclass(frozen=True)
class AuditQuery:
    values: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def shown(self, name: str) -> str:
        """The filter's value as its field shows it."""
        value = self.values.get(name)
        return value.strftime(TIME_FORMAT) if isinstance(value, datetime) else (value or "")

    def as_args(self, **changes: Any) -> dict[str, Any]:
        texts = {
            name: self.shown(name) if name in ("since", "until") else value
            for name, value in self.values.items()
        }
        return as_args(texts, DEFAULTS, **changes)


def parse_args(raw: dict[str, str]) -> AuditQuery:
    return AuditQuery({**DEFAULTS, **parse_filters(AuditArgs(), raw)})


def _aware(value: datetime) -> datetime:
    """A local time of the form, in the site's time zone (Asia/Shanghai), as UTC like the stored times."""
    # zoneinfo, not Flask-Babel's pytz zone: replace(tzinfo=<pytz zone>) would take its 1901 offset (+08:06).
    return value.replace(tzinfo=ZoneInfo(str(get_timezone()))).astimezone(UTC)


def event_statement(query: AuditQuery) -> Select[tuple[AuditEvent]]:
    statement = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor := query.get("actor"):
        statement = statement.where(AuditEvent.actor_label == actor)
    if action := query.get("action"):
        if action.endswith("."):
            statement = statement.where(AuditEvent.action.startswith(action))
        else:
            statement = statement.where(AuditEvent.action == action)
    if since := query.get("since"):
        statement = statement.where(AuditEvent.occurred_at >= _aware(since))
    if until := query.get("until"):
        # Up to the end of the minute given.
        statement = statement.where(
            AuditEvent.occurred_at <= _aware(until.replace(second=59, microsecond=999999))
        )
    return statement


def search(query: AuditQuery) -> dict[str, Any]:
    return paginate(event_statement(query), query.get("page"), query.get("page_size"))


def usernames_of(events: list[AuditEvent]) -> dict[str, str]:
    """The usernames of the users that ``events`` target by id, to show and link them."""
    ids = {int(e.entity_id) for e in events if e.entity_type == "user" and e.entity_id.isdigit()}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {str(user_id): username for user_id, username in rows}


def events_about_user(user_id: int, username: str, limit: int = 20) -> list[AuditEvent]:
    """The latest events whose target is this user: their account's changes, sign-ins and resets (by id),
    their grid assignments (by username)."""
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "user",
                or_(
                    AuditEvent.entity_id == str(user_id),
                    and_(AuditEvent.entity_id == username, AuditEvent.action == "user.grids_set"),
                ),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        ).scalars()
    )
