"""Who sees the parties' personal data of a dispute. The one rule, used by every read of a dispute.

Among the people who may see the case at all (``app.cases.services.visible_cases``):

- the assigned mediator;
- supervisors;
- the grid staff of a party's own grid: grid workers and grid leaders assigned (``GridMember``) to the
  comprehensive grid (15-digit code) a party lives in, or to a compound or building inside it. A party with
  no grid of their own lives in the case's grid.

Everyone else who sees the case (the filer included, dispatchers, community staff, coordinators, admins)
sees the dispute redacted (``app.mediation.redaction``).
"""

from __future__ import annotations

from app.auth.models import User
from app.auth.roles import Role
from app.grids.codes import LEVEL_LENGTHS
from app.grids.scope import assigned_grid_codes
from app.mediation.models import Dispute

GRID_STAFF_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER})
COMPREHENSIVE_GRID_LENGTH = LEVEL_LENGTHS["grid"]


def party_grids(dispute: Dispute) -> set[str]:
    """The comprehensive grids the parties live in (cut to 15 digits; coarser codes name no grid staff)."""
    codes = {party.grid_code or dispute.case.grid_code for party in dispute.parties}
    return {
        code[:COMPREHENSIVE_GRID_LENGTH] for code in codes if code and len(code) >= COMPREHENSIVE_GRID_LENGTH
    }


def is_party_grid_staff(user: User, dispute: Dispute) -> bool:
    if user.role not in GRID_STAFF_ROLES:
        return False
    grids = party_grids(dispute)
    return any(
        code[:COMPREHENSIVE_GRID_LENGTH] in grids
        for code in assigned_grid_codes(user.id)
        if len(code) >= COMPREHENSIVE_GRID_LENGTH
    )


def sees_personal_data(user: User, dispute: Dispute) -> bool:
    """The caller may already see the case; this says whether they also see the parties unredacted."""
    if dispute.mediator_id is not None and dispute.mediator_id == user.id:
        return True
    if user.role == Role.SUPERVISOR:
        return True
    return is_party_grid_staff(user, dispute)
