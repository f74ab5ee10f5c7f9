"""Dispute operations: file a dispute, read it (redacted by role), add documents, keep the volunteer pool.

A dispute is a case (``case_file``: visible by the usual rule, ``visible_cases``) plus its ``dispute`` row;
the parties' personal data stays in ``dispute_party`` and reaches only the people ``privacy`` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from app import runtime
from app.audit.services import record, record_case_event
from app.auth.models import User
from app.auth.roles import Role
from app.cases import lifecycle
from app.cases.models import Case
from app.cases.services import case_visible_to, get_case, is_case_visible
from app.categories.services import get_category
from app.clock import now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from app.extensions import db
from app.grids.codes import code_problem
from app.grids.models import Grid
from app.grids.scope import in_subtrees
from app.grids.services import locate
from app.http import paginate
from app.mediation import documents
from app.mediation.assignment import Candidate, candidates, community_of
from app.mediation.models import (
    DISPUTE_TYPES,
    Dispute,
    DisputeDocument,
    DisputeParty,
    DisputeStatus,
    MediationVolunteer,
)
from app.mediation.privacy import sees_personal_data
from app.mediation.redaction import cut_address, mask_name, mask_phone

PROCESS_KEY = "dispute_mediation"
# A resident files for themselves; grid staff, community staff and the command centre on someone's behalf.
FILERS = frozenset(
    {
        Role.RESIDENT,
        Role.GRID_WORKER,
        Role.GRID_LEADER,
        Role.COMMUNITY_STAFF,
        Role.DISPATCHER,
        Role.SUPERVISOR,
        Role.ADMIN,
    }
)
POOL_KEEPERS = frozenset({Role.SUPERVISOR, Role.COMMUNITY_STAFF, Role.ADMIN})
MEDIATOR_READERS = frozenset({Role.COMMUNITY_STAFF, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# Who may list disputes: everyone whose work touches them (what each sees is still ``visible_cases``).
# Department handlers and process designers have no part in mediation.
DISPUTE_LISTERS = FILERS | {Role.MEDIATOR, Role.STREET_COORDINATOR, Role.DISTRICT_COORDINATOR}
# 物业费 disputes are with the property company; every other kind is between neighbours.
CATEGORY_OF_TYPE = {"property_fee": "E1202"}
NEIGHBOUR_CATEGORY = "E1201"
SEVERITY_OF_GRADE = {"urgent": "orange", "complex": "yellow", "simple": "blue"}


def case_title(dispute_type: str) -> str:
    """A title that names the kind of dispute and nobody in it."""
    return f"矛盾纠纷:{DISPUTE_TYPES[dispute_type][0]}"


def category_of(dispute_type: str) -> str | None:
    category = get_category(CATEGORY_OF_TYPE.get(dispute_type, NEIGHBOUR_CATEGORY))
    return category.code if category is not None else None


# -- filing -----------------------------------------------------------------------------------------


def _known_grid(code: str, field: str) -> str:
    problem = code_problem(code)
    if problem is not None:
        raise InvalidInput("invalid grid code", {field: problem})
    if db.session.execute(select(Grid.id).where(Grid.code == code)).first() is None:
        raise InvalidInput("unknown grid", {field: f"no grid with code {code}"})
    return code


def _case_grid(fields: dict[str, Any]) -> str | None:
    if fields.get("grid_code"):
        return _known_grid(fields["grid_code"], "grid_code")
    lat, lon = fields.get("lat"), fields.get("lon")
    if lat is None or lon is None:
        return None
    found = locate(lat, lon)
    return found.code if found is not None else None


def file_dispute(user: User, fields: dict[str, Any]) -> Dispute:
    """File a dispute (``fields`` validated by ``DisputeFileInput``) and start ``dispute_mediation``."""
    if user.role not in FILERS:
        raise Forbidden(f"a {user.role} cannot file disputes", {"role": f"needs one of {sorted(FILERS)}"})
    parties = fields["parties"]
    if not parties:  # the schema says so too; a service caller gets the same answer
        raise InvalidInput("a dispute needs at least one party", {"parties": "give at least one party"})
    party_grids = [
        _known_grid(p["grid_code"], f"parties[{i}].grid_code") if p.get("grid_code") else None
        for i, p in enumerate(parties)
    ]
    grid_code = _case_grid(fields)
    dispute_type = fields["dispute_type"]
    case = lifecycle.open_case(
        title=case_title(dispute_type),
        description="",
        category_code=category_of(dispute_type),
        grid_code=grid_code,
        lat=fields.get("lat"),
        lon=fields.get("lon"),
        address=cut_address(fields.get("address")),
        source_channel=lifecycle.reporter_channel(user),
        severity="yellow",
        reporter=user,
    )
    dispute = Dispute(
        case_id=case.id,
        dispute_type=dispute_type,
        description=fields["description"],
        status=DisputeStatus.INTAKE,
        filed_by_id=user.id,
        session_count=0,
        filed_at=case.created_at,
    )
    db.session.add(dispute)
    db.session.flush()
    db.session.add_all(
        DisputeParty(
            dispute_id=dispute.id,
            position=position,
            name=party["name"].strip(),
            phone=party.get("phone"),
            address=party.get("address"),
            grid_code=party_grid,
            role=party["role"],
        )
        for position, (party, party_grid) in enumerate(zip(parties, party_grids, strict=True), start=1)
    )
    db.session.flush()
    # Counts and roles only: the parties themselves never enter the audit trail.
    record_case_event(
        "dispute.filed",
        case,
        actor=user,
        after={
            "dispute_type": dispute_type,
            "parties": len(parties),
            "party_roles": [p["role"] for p in parties],
            "grid_code": grid_code,
        },
    )
    lifecycle.start_process(
        case,
        PROCESS_KEY,
        {
            "dispute_type": dispute_type,
            "grid_code": grid_code,
            "community_code": community_of(grid_code),
            "party_count": len(parties),
            "reporter": user.username,
        },
        user,
    )
    return dispute


# -- reading ----------------------------------------------------------------------------------------


def dispute_of_case(case: Case) -> Dispute:
    dispute = db.session.execute(select(Dispute).where(Dispute.case_id == case.id)).scalar_one_or_none()
    if dispute is None:
        raise NotFound(f"case {case.key} is not a dispute")
    return dispute


def get_dispute(user: User, key: str) -> Dispute:
    """The dispute of case ``key``, if the user sees the case (else the same 404 as a missing one)."""
    return dispute_of_case(get_case(user, key))


def _party(party: DisputeParty, full: bool) -> dict[str, Any]:
    return {
        "position": party.position,
        "role": party.role,
        "grid_code": party.grid_code,
        "name": party.name if full else mask_name(party.name),
        "phone": party.phone if full else mask_phone(party.phone),
        "address": party.address if full else cut_address(party.address),
    }


def _summary(dispute: Dispute, full: bool) -> dict[str, Any]:
    """What the list and the detail both show: the parties masked unless ``full``."""
    case = dispute.case
    return {
        "key": case.key,
        "case_status": case.status,
        "status": dispute.status,
        "redacted": not full,
        "dispute_type": dispute.dispute_type,
        "grade": dispute.grade,
        "grid_code": case.grid_code,
        "filed_by": dispute.filed_by.username,
        "mediator": dispute.mediator.username if dispute.mediator else None,
        "mediator_kind": dispute.mediator_kind,
        "session_count": dispute.session_count,
        "outcome": dispute.outcome,
        "referral_to": dispute.referral_to,
        "referral_reason": dispute.referral_reason,
        "agreement_kept": dispute.agreement_kept,
        "satisfaction": dispute.satisfaction,
        "filed_at": dispute.filed_at,
        "assigned_at": dispute.assigned_at,
        "agreed_at": dispute.agreed_at,
        "concluded_at": dispute.concluded_at,
        "follow_up_at": dispute.follow_up_at,
        "follow_up_due_at": dispute.follow_up_due_at,
        "follow_up_done_at": dispute.follow_up_done_at,
        "closed_at": dispute.closed_at,
        "parties": [_party(p, full) for p in dispute.parties],
    }


def dispute_view(user: User, dispute: Dispute) -> dict[str, Any]:
    """The dispute as ``user`` may see it: whole for the mediator, supervisors and the parties' grid staff;
    for everyone else names, phones and addresses masked, and the filer's description and file names left
    out (they may name people)."""
    full = sees_personal_data(user, dispute)
    return {
        **_summary(dispute, full),
        "description": dispute.description if full else None,
        "sessions": [
            {
                "number": s.number,
                "held_at": s.held_at,
                "mode": s.mode,
                "place": s.place,
                "attendees": s.attendees,
                "other_attendees": s.other_attendees,
                "record": s.record,
                "outcome": s.outcome,
            }
            for s in dispute.sessions
        ],
        "documents": [
            {
                "id": d.id,
                "kind": d.kind,
                "content_type": d.content_type,
                "size": d.size,
                "original_name": d.original_name if full else None,
                "created_at": d.created_at,
            }
            for d in dispute.documents
        ],
    }


@dataclass(frozen=True)
class DisputeFilters:
    status: str | None = None
    grade: str | None = None
    dispute_type: str | None = None
    mediator: str | None = None  # username
    grid: str | None = None  # the case's grid lies in this grid's subtree
    q: str | None = None  # part of the case key: the one field that names nobody


def list_disputes(user: User, filters: DisputeFilters, page: int, page_size: int) -> dict[str, Any]:
    """A page of the disputes ``user`` sees (``visible_cases``, as the detail), newest first, each masked
    exactly as the detail masks it for ``user``."""
    if user.role not in DISPUTE_LISTERS:
        raise Forbidden(
            f"a {user.role} may not list disputes", {"role": f"needs one of {sorted(DISPUTE_LISTERS)}"}
        )
    if filters.grid is not None:
        _known_grid(filters.grid, "grid")
    # The condition behind ``visible_cases``, the rule ``get_dispute`` applies: nothing listed that the
    # detail would refuse, and the totals count only what is listed.
    query = (
        select(Dispute)
        .join(Case, Case.id == Dispute.case_id)
        .where(case_visible_to(user))
        .options(
            contains_eager(Dispute.case),
            selectinload(Dispute.parties),
            selectinload(Dispute.mediator),
            selectinload(Dispute.filed_by),
        )
    )
    if filters.status:
        query = query.where(Dispute.status == filters.status)
    if filters.grade:
        query = query.where(Dispute.grade == filters.grade)
    if filters.dispute_type:
        query = query.where(Dispute.dispute_type == filters.dispute_type)
    if filters.mediator:
        # A well-formed name that matches no mediator is an empty page, not an error: no probing for users.
        query = query.join(User, User.id == Dispute.mediator_id).where(User.username == filters.mediator)
    if filters.grid:
        query = query.where(in_subtrees(Case.grid_code, (filters.grid,)))
    if filters.q:
        query = query.where(Case.key.contains(filters.q, autoescape=True))
    result = paginate(query.order_by(Dispute.filed_at.desc(), Dispute.id.desc()), page, page_size)
    result["items"] = [_summary(d, sees_personal_data(user, d)) for d in result["items"]]
    return result


# -- documents --------------------------------------------------------------------------------------


def _upload_folder() -> Path:
    folder = runtime.settings().upload_folder
    return folder


def _may_add(user: User, dispute: Dispute, kind: str) -> None:
    if kind == "agreement":
        if dispute.mediator_id != user.id:
            raise Forbidden("only the assigned mediator uploads the signed agreement", {"kind": kind})
        if dispute.status != DisputeStatus.AGREED or dispute.follow_up_at is not None:
            raise Conflict(
                f"dispute is {dispute.status}; the signed agreement is uploaded after a session reached one",
                {"status": dispute.status},
            )
        return
    if not (dispute.case.reporter_id == user.id or sees_personal_data(user, dispute)):
        raise Forbidden(
            "evidence is added by the filer, the mediator, supervisors or the parties' grid staff",
            {"kind": kind},
        )


def may_add_document(user: User, dispute: Dispute, kind: str) -> bool:
    """Whether ``add_document`` would take a document of ``kind`` from ``user`` now (the pages offer the
    upload only then; the upload itself still checks)."""
    if dispute.status == DisputeStatus.CLOSED:
        return False
    try:
        _may_add(user, dispute, kind)
    except (Forbidden, Conflict):
        return False
    return True


def add_document(user: User, key: str, data: bytes, original_name: str | None, kind: str) -> DisputeDocument:
    """Add evidence or the signed agreement: a PDF or a JPEG/PNG/WebP image, checked by content."""
    dispute = get_dispute(user, key)
    if dispute.status == DisputeStatus.CLOSED:
        raise Conflict(f"dispute {key} is closed; no more documents", {"status": dispute.status})
    _may_add(user, dispute, kind)
    settings = runtime.settings()
    try:
        info = documents.inspect_document(data, settings.max_upload_bytes)
    except documents.DocumentRejected as exc:
        error = PayloadTooLarge if exc.status == 413 else InvalidInput
        raise error(exc.reason, {"file": exc.reason}) from exc
    document = DisputeDocument(
        dispute_id=dispute.id,
        kind=kind,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        storage_path=documents.store_document(_upload_folder(), data, info),
        original_name=(original_name or "")[:200] or None,
        uploaded_by_id=user.id,
        created_at=now(),
    )
    db.session.add(document)
    db.session.flush()
    record_case_event(
        "dispute.document_added",
        dispute.case,
        actor=user,
        after={
            "document_id": document.id,
            "kind": kind,
            "content_type": info.content_type,
            "size": info.size,
        },
        data={"sha256": info.sha256},
    )
    return document


def document_file(user: User, document_id: int) -> tuple[Path, str, DisputeDocument]:
    """Where a document is on disk: for those who see the parties' data, and whoever uploaded it."""
    document = db.session.get(DisputeDocument, document_id)
    if document is None:
        raise NotFound(f"document {document_id} does not exist")
    dispute = db.session.get(Dispute, document.dispute_id)
    if dispute is None or not is_case_visible(user, dispute.case_id):
        raise NotFound(f"document {document_id} does not exist")
    if not may_read_document(user, dispute, document):
        raise Forbidden("dispute documents are for the mediator, supervisors and the parties' grid staff")
    return _upload_folder() / document.storage_path, document.content_type, document


def may_read_document(user: User, dispute: Dispute, document: DisputeDocument) -> bool:
    """A document is for those who see the parties' data, and whoever uploaded it (the caller already
    sees the dispute)."""
    return document.uploaded_by_id == user.id or sees_personal_data(user, dispute)


# -- mediators and the volunteer pool -----------------------------------------------------------------


def _community(code: str | None, field: str) -> str | None:
    if code is None:
        return None
    problem = code_problem(code, "community")
    if problem is not None:
        raise InvalidInput("invalid community code", {field: problem})
    return _known_grid(code, field)


def mediator_candidates(user: User, community_code: str | None) -> list[Candidate]:
    if user.role not in MEDIATOR_READERS:
        raise Forbidden(
            f"a {user.role} may not list mediators", {"role": f"needs one of {sorted(MEDIATOR_READERS)}"}
        )
    return candidates(_community(community_code, "community"))


def _mediator(username: str) -> User:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username!r}", {"username": "unknown"})
    if user.role != Role.MEDIATOR:
        raise InvalidInput("not a mediator", {"username": f"{username} is a {user.role}, not a mediator"})
    return user


def set_volunteer(actor: User, username: str, community_code: str | None) -> MediationVolunteer:
    """Put a mediator in the volunteer pool (for one community, or any), or update their entry."""
    if actor.role not in POOL_KEEPERS:
        raise Forbidden(
            f"a {actor.role} may not keep the volunteer pool",
            {"role": f"needs one of {sorted(POOL_KEEPERS)}"},
        )
    user = _mediator(username)
    community = _community(community_code, "community_code")
    entry = db.session.execute(
        select(MediationVolunteer).where(MediationVolunteer.user_id == user.id)
    ).scalar_one_or_none()
    before = {"community_code": entry.community_code, "active": entry.active} if entry else None
    if entry is None:
        entry = MediationVolunteer(user_id=user.id, created_at=now())
        db.session.add(entry)
    entry.community_code, entry.active = community, True
    db.session.flush()
    record(
        "mediation.volunteer_set",
        entity_type="user",
        entity_id=user.username,
        actor=actor,
        before=before,
        after={"community_code": community, "active": True},
    )
    return entry


def remove_volunteer(actor: User, username: str) -> None:
    if actor.role not in POOL_KEEPERS:
        raise Forbidden(
            f"a {actor.role} may not keep the volunteer pool",
            {"role": f"needs one of {sorted(POOL_KEEPERS)}"},
        )
    user = _mediator(username)
    entry = db.session.execute(
        select(MediationVolunteer).where(
            MediationVolunteer.user_id == user.id, MediationVolunteer.active.is_(True)
        )
    ).scalar_one_or_none()
    if entry is None:
        raise NotFound(f"{username} is not in the volunteer pool")
    entry.active = False
    record(
        "mediation.volunteer_removed",
        entity_type="user",
        entity_id=user.username,
        actor=actor,
        before={"community_code": entry.community_code, "active": True},
        after={"active": False},
    )
