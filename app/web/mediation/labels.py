"""The words of the mediation pages for the codes of ``app.mediation.models`` ({code: (zh-CN, English)}
tables, the ones the API documents), in the page language."""

from __future__ import annotations

from collections.abc import Mapping

from app.mediation.models import (
    DISPUTE_TYPES,
    DOCUMENT_KINDS,
    GRADES,
    MEDIATOR_KINDS,
    PARTY_ROLES,
    REFERRALS,
    SESSION_MODES,
    SESSION_OUTCOMES,
    DisputeStatus,
)
from app.web.i18n import current_language

STATUSES: dict[str, tuple[str, str]] = {
    DisputeStatus.INTAKE: ("待受理分级", "Awaiting intake"),
    DisputeStatus.MEDIATING: ("调解中", "Mediating"),
    DisputeStatus.AGREED: ("已达成协议,待回访", "Agreed, follow-up pending"),
    DisputeStatus.FAILED: ("调解不成,待转介", "Failed, to be referred"),
    DisputeStatus.CLOSED: ("已结案", "Closed"),
}
AGREEMENT_KEPT: dict[str, tuple[str, str]] = {
    "kept": ("已履行", "Kept"),
    "partly": ("部分履行", "Partly kept"),
    "broken": ("未履行", "Broken"),
}
SATISFACTION: dict[str, tuple[str, str]] = {
    "very_satisfied": ("非常满意", "Very satisfied"),
    "satisfied": ("满意", "Satisfied"),
    "neutral": ("一般", "Neutral"),
    "dissatisfied": ("不满意", "Dissatisfied"),
}
TABLES: dict[str, Mapping[str, tuple[str, str]]] = {
    "status": STATUSES,
    "type": DISPUTE_TYPES,
    "grade": GRADES,
    "party_role": PARTY_ROLES,
    "mode": SESSION_MODES,
    "outcome": SESSION_OUTCOMES,
    "referral": REFERRALS,
    "mediator_kind": MEDIATOR_KINDS,
    "document": DOCUMENT_KINDS,
    "kept": AGREEMENT_KEPT,
    "satisfaction": SATISFACTION,
}


def word(table: str, code: str | None) -> str:
    """``code``'s word from the named table in the page language; "—" for none, the code when unknown."""
    if not code:
        return "—"
    pair = TABLES[table].get(code)
    if pair is None:
        return code
    return pair[1] if current_language() == "en" else pair[0]


def choices(table: str) -> list[tuple[str, str]]:
    """(code, word) of every entry of the named table, in its order."""
    return [(code, word(table, code)) for code in TABLES[table]]
