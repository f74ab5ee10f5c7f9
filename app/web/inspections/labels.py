"""What the inspection pages show for their codes: item and campaign statuses, place types, grid states."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from app.inspections.models import PLACE_TYPES, CampaignStatus, ItemStatus
from app.web.i18n import current_language

PLACE_TYPE_CODES = tuple(PLACE_TYPES)
ITEM_STATUSES = {
    ItemStatus.PENDING: _l("Not inspected yet"),
    ItemStatus.OVERDUE: _l("Not inspected by the deadline"),
    ItemStatus.RECTIFYING: _l("Rectifying"),
    ItemStatus.PASSED: _l("Passed"),
    ItemStatus.BLACKLISTED: _l("Failed, blacklisted"),
}
CAMPAIGN_STATUSES = {
    CampaignStatus.RUNNING: lazy_pgettext("inspections", "Running"),
    CampaignStatus.COMPLETED: lazy_pgettext("inspections", "Completed"),
}
# A grid's colour on the campaign map: every item passed / some failed / still under way.
GRID_STATES = {
    "done": _l("All passed"),
    "failed": _l("Some failed"),
    "pending": _l("Under way"),
}


def item_status(code: str) -> str:
    return str(ITEM_STATUSES.get(code, code))


def campaign_status(code: str) -> str:
    return str(CAMPAIGN_STATUSES.get(code, code))


def place_type(code: str) -> str:
    names = PLACE_TYPES.get(code)
    if names is None:
        return code
    return names[1] if current_language() == "en" else names[0]
