"""Choosing a mediator: community mediators (Role.MEDIATOR assigned to the case's community through
``GridMember``) and volunteers from the pool (``MediationVolunteer``), the least loaded first.

Load is the number of open mediations: disputes assigned to the mediator and not closed yet (the follow-up
visit after an agreement is still theirs). Urgent and complex disputes go to a community mediator when the
community has one; simple ones to whoever has the least load, community mediators first on a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from app.auth.models import User
from app.auth.roles import Role
from app.extensions import db
from app.grids.codes import LEVEL_LENGTHS
from app.grids.models import Grid, GridMember
from app.mediation.models import Dispute, MediationVolunteer

COMMUNITY_LENGTH = LEVEL_LENGTHS["community"]
COMMUNITY_FIRST_GRADES = frozenset({"urgent", "complex"})


@dataclass(frozen=True)
class Candidate:
    username: str
    display_name: str
    kind: str  # community | volunteer
    open_mediations: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "kind": self.kind,
            "open_mediations": self.open_mediations,
        }


def community_of(grid_code: str | None) -> str | None:
    return grid_code[:COMMUNITY_LENGTH] if grid_code and len(grid_code) >= COMMUNITY_LENGTH else None


def open_mediations(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    rows = _rows(
        select(Dispute.mediator_id, func.count())
        .where(Dispute.mediator_id.in_(user_ids), Dispute.closed_at.is_(None))
        .group_by(Dispute.mediator_id)
    )
    return {user_id: count for user_id, count in rows}


def _rows(statement: Any) -> list[Any]:
    return list(db.session.execute(statement).all())


def candidates(community_code: str | None) -> list[Candidate]:
    """The community's mediators, then the volunteers for it (or for anywhere), each with their load,
    least loaded first within each kind."""
    community: list[User] = []
    if community_code is not None:
        community = [
            row[0]
            for row in _rows(
                select(User)
                .join(GridMember, GridMember.user_id == User.id)
                .join(Grid, Grid.id == GridMember.grid_id)
                .where(Grid.code == community_code, User.role == Role.MEDIATOR, User.active.is_(True))
            )
        ]
    pool_scope = (
        MediationVolunteer.community_code.is_(None)
        if community_code is None
        else or_(
            MediationVolunteer.community_code.is_(None), MediationVolunteer.community_code == community_code
        )
    )
    known = {user.id for user in community}
    volunteers = [
        row[0]
        for row in _rows(
            select(User)
            .join(MediationVolunteer, MediationVolunteer.user_id == User.id)
            .where(
                MediationVolunteer.active.is_(True),
                pool_scope,
                User.role == Role.MEDIATOR,
                User.active.is_(True),
            )
        )
        if row[0].id not in known
    ]
    loads = open_mediations([u.id for u in [*community, *volunteers]])

    def ranked(users: list[User], kind: str) -> list[Candidate]:
        found = [Candidate(u.username, u.display_name, kind, loads.get(u.id, 0)) for u in users]
        return sorted(found, key=lambda c: (c.open_mediations, c.username))

    return ranked(community, "community") + ranked(volunteers, "volunteer")


def pick(grade: str, found: list[Candidate]) -> Candidate | None:
    """The mediator for a dispute of ``grade`` among ``found`` (``candidates``' order), or None."""
    community = [c for c in found if c.kind == "community"]
    if grade in COMMUNITY_FIRST_GRADES and community:
        return community[0]
    ordered = sorted(found, key=lambda c: (c.open_mediations, c.kind != "community", c.username))
    return ordered[0] if ordered else None


def proposal(community_code: str | None) -> dict[str, Any]:
    """What the intake task shows: every candidate with their load, and who each grade would get."""
    found = candidates(community_code)
    by_grade = {
        grade: (c.username if (c := pick(grade, found)) else None)
        for grade in ("simple", "complex", "urgent")
    }
    return {
        "community_code": community_code,
        "candidates": [c.as_dict() for c in found],
        "proposed": by_grade,
    }
