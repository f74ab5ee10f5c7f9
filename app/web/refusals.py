"""The page's words for a step the process refused after the form passed: the operators behind the other
processes' tasks check what only the database knows (the proposed mediator, the dispute's parties, the
inspector's grid, a case number) and answer in the API's English, naming the field. A page shows the field
marked with what to do, in the page language; a field not listed here keeps the server's own message."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from app.errors import InvalidInput

FIELD_WORDS = {
    "override_reason": _l("Give a reason when you choose another mediator than the proposed one."),
    "mediator_user": _l("Choose a mediator from the list."),
    "session_at": _l("Give the time the session was held (not in the future)."),
    "attendees": _l("Give the numbers of this dispute's parties who attended."),
    "agreement_document": _l("Choose an agreement uploaded for this dispute."),
    "referral_reason": _l("Give the reason for the referral."),
    "inspector": _l("You do not work this place's grid: hand the task back."),
    "results": _l("Give a result for every check item."),
    "duplicate_of": _l("No case has this number."),
    "grade": _l("Choose one of the listed values."),
    "dispute_type": _l("Choose one of the listed values."),
}


# What a refusal adds that is not a form field: the diagram element that refused (app.workflow.instances).
NOT_FIELDS = frozenset({"element_id"})
STEP_REFUSED = _l("This step could not be completed with these values; check them and try again.")


def field_errors(exc: InvalidInput) -> list[dict[str, Any]]:
    """Each refused field with its JSON pointer and the page's words (the server's message otherwise); a
    refusal naming no field gets one general line in the page language."""
    details = exc.details if isinstance(exc.details, dict) else {}
    found = [
        {
            "field": field,
            "pointer": "/" + "/".join(str(field).split(".")),
            "message": str(FIELD_WORDS.get(str(field), message)),
        }
        for field, message in details.items()
        if field not in NOT_FIELDS
    ]
    return found or [{"field": None, "pointer": "", "message": str(STEP_REFUSED)}]
