"""What a reviewer needs beside the 核查结案 form: the handler's written result and note, the before and after
photos side by side with the automatic photo-proof check, and where the handling and the proof were completed.

Shown on the ``review`` task page (``templates/_review_panel.html``, included by ``worker/task.html``) and on
the supervisor's case page. Everything is read through the case services for ``user`` (the same visibility
as the API); the completion places are the ``task.location`` events the task page records with a completion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.cases import photo_check
from app.cases.models import Attachment, Case
from app.cases.services import attachments
from app.clock import as_utc
from app.extensions import db
from app.geodesy import distance_meters
from app.workflow.models import HumanTask, TaskStatus

REVIEW_ELEMENTS = ("review",)  # the task pages that show the panel
BEFORE_KINDS = ("report", "before")
HANDLE_RESULTS: dict[str, Any] = {
    "resolved": _l("Resolved on site"),
    "partially_resolved": _l("Partially resolved"),
    "cannot_resolve": _l("Cannot be resolved"),
    "beyond_means": _l("Beyond the grid's means"),
}
FLAG_LABELS: dict[str, Any] = {
    photo_check.FAR: _l("Taken far from the case"),
    photo_check.EARLY: _l("Taken before the dispatch"),
    photo_check.LATE: _l("Taken after the handling was completed"),
    photo_check.NO_TIME: _l("No capture time"),
    photo_check.NO_PLACE: _l("No capture place"),
}


@dataclass(frozen=True)
class Completion:
    """A completed handling task: who, when, what they wrote, and where the phone was (if shared)."""

    element_id: str
    completed_at: datetime | None
    by: str | None
    data: dict[str, Any]
    lat: float | None = None
    lon: float | None = None
    accuracy: float | None = None
    distance_meters: float | None = None  # from the case's location

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class CheckedPhoto:
    photo: Attachment
    check: photo_check.PhotoCheck | None  # proof photos only


@dataclass
class ReviewPanel:
    case: Case
    handle: Completion | None = None
    proof: Completion | None = None
    before: list[CheckedPhoto] = field(default_factory=list)
    after: list[CheckedPhoto] = field(default_factory=list)

    @property
    def result_label(self) -> str:
        result = (self.handle.data.get("handle_result") if self.handle else None) or ""
        return str(HANDLE_RESULTS.get(result, result))

    @property
    def places(self) -> list[dict[str, Any]]:
        """The map's points: the case and each completion place (for ``static/js/review_panel.js``)."""
        points: list[dict[str, Any]] = []
        if self.case.lat is not None and self.case.lon is not None:
            points.append({"kind": "case", "lat": self.case.lat, "lon": self.case.lon, "label": _("Case")})
        for completion, label in ((self.handle, _("Handled here")), (self.proof, _("Proof sent here"))):
            if completion is None or not completion.located:
                continue
            same = [
                p
                for p in points
                if p["kind"] != "case" and (p["lat"], p["lon"]) == (completion.lat, completion.lon)
            ]
            if same:  # handled and proven from one spot: one marker
                same[0]["label"] = _("Handled and proof sent here")
                continue
            points.append(
                {"kind": completion.element_id, "lat": completion.lat, "lon": completion.lon, "label": label}
            )
        return points


def _latest_completed(case: Case, element_id: str) -> HumanTask | None:
    return db.session.execute(
        select(HumanTask)
        .where(
            HumanTask.case_id == case.id,
            HumanTask.element_id == element_id,
            HumanTask.status == TaskStatus.COMPLETED,
        )
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _location_of(task: HumanTask) -> dict[str, Any] | None:
    event = db.session.execute(
        select(AuditEvent)
        .where(
            AuditEvent.case_id == task.case_id,
            AuditEvent.action == "task.location",
            AuditEvent.entity_id == str(task.id),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    location = (event.data or {}).get("location") if event is not None else None
    return location if isinstance(location, dict) else None


def _completion(case: Case, element_id: str) -> Completion | None:
    task = _latest_completed(case, element_id)
    if task is None:
        return None
    by = db.session.get(User, task.completed_by_id) if task.completed_by_id else None
    where = _location_of(task) or {}
    lat, lon = where.get("lat"), where.get("lon")
    distance = None
    if lat is not None and lon is not None and case.lat is not None and case.lon is not None:
        distance = distance_meters(case.lat, case.lon, lat, lon)
    return Completion(
        element_id=element_id,
        completed_at=as_utc(task.completed_at) if task.completed_at else None,
        by=(by.display_name or by.username) if by else None,
        data=dict(task.submitted_data or {}),
        lat=lat,
        lon=lon,
        accuracy=where.get("accuracy"),
        distance_meters=distance,
    )


def build(user: User, case: Case) -> ReviewPanel:
    """The panel of ``case`` (visible to ``user``: the caller got it through ``get_case``)."""
    panel = ReviewPanel(case=case, handle=_completion(case, "handle"), proof=_completion(case, "photo_proof"))
    photos = attachments(user, case.key)
    named = set(panel.proof.data.get("after_photos") or []) if panel.proof else set()
    # The proof: the photos its form named; before a proof is sent, every "after" photo uploaded so far.
    proof = [p for p in photos if p.id in named] if named else [p for p in photos if p.kind == "after"]
    checks = photo_check.check_case_photos(case, proof)
    panel.before = [CheckedPhoto(p, None) for p in photos if p.kind in BEFORE_KINDS]
    panel.after = [CheckedPhoto(p, checks[p.id]) for p in proof]
    return panel


def distance_text(meters: float | None) -> str:
    """ "35 米", "1.2 公里" (zh-CN) or "35 m", "1.2 km"."""
    if meters is None:
        return ""
    if meters < 1000:
        return _("%(n)s m", n=round(meters))
    return _("%(n)s km", n=f"{meters / 1000:.1f}")


def flag_label(flag: str) -> str:
    return str(FLAG_LABELS.get(flag, flag))


def panel_context(user: User, case: Case) -> dict[str, Any]:
    """What ``_review_panel.html`` reads: the panel and its two formatters."""
    return {"review": build(user, case), "distance_text": distance_text, "flag_label": flag_label}


def latest_rework(case: Case) -> dict[str, Any] | None:
    """The reviewer's comment of the latest 返工, for the handler's task page (None: never reworked)."""
    if not case.rework_count:
        return None
    row = db.session.execute(
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.case_id == case.id, AuditEvent.action == "case.rework")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    event, name = row
    return {
        "at": as_utc(event.occurred_at),
        "by": name or event.actor_label,
        "comment": (event.data or {}).get("comment"),
        "count": case.rework_count,
    }
