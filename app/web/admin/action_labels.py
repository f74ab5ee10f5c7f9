"""What the audit log calls each action, in the page's language. A case's and a process's events are named as
on the case timeline (``app.web.supervisor.labels.ACTIONS``); the rest here. An action with no label yet
(a new one) shows its code: the code is always shown beside the label, since the filter takes codes."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_pgettext

from app.web.supervisor.labels import ACTIONS as CASE_ACTIONS


def _a(text: str) -> Any:
    return lazy_pgettext("audit", text)


ACTIONS: dict[str, Any] = {
    "auth.signed_in": _a("Signed in"),
    "auth.sign_in_failed": _a("Sign-in refused"),
    "auth.locked": _a("Account locked after failed sign-ins"),
    "token.issued": _a("API token issued"),
    "token.revoked": _a("API token revoked"),
    "token.revoked_all": _a("All API tokens revoked"),
    "user.created": _a("User created"),
    "user.updated": _a("User changed"),
    "user.deactivated": _a("User deactivated"),
    "user.reactivated": _a("User reactivated"),
    "user.grids_set": _a("User's grids set"),
    "user.password_changed": _a("Password changed"),
    "user.password_reset_issued": _a("Password reset link issued"),
    "user.password_reset_used": _a("Password reset link used"),
    "grids.imported": _a("Grids imported"),
    "unit.created": _a("Unit created"),
    "unit.updated": _a("Unit changed"),
    "unit.deactivated": _a("Unit deactivated"),
    "unit.grids_set": _a("Unit's grids set"),
    "units.imported": _a("Units imported"),
    "category.created": _a("Category created"),
    "category.updated": _a("Category changed"),
    "category.deactivated": _a("Category deactivated"),
    "categories.imported": _a("Categories imported"),
    "emergency_plan.created": _a("Emergency plan created"),
    "emergency_plan.updated": _a("Emergency plan changed"),
    "emergency_plan.deactivated": _a("Emergency plan deactivated"),
    "holidays.year_set": _a("Holiday schedule set for a year"),
    "device.registered": _a("Device registered"),
    "device.token_issued": _a("Device token issued"),
    "device.status_changed": _a("Device status changed"),
    "device.silent": _a("Device went silent"),
    "device.network_event": _a("Device network event"),
    "alarm.opened": _a("Alarm raised"),
    "alarm.cleared": _a("Alarm cleared"),
    "alarm.reopened": _a("Alarm raised again"),
    "alarm.flapping": _a("Alarm flapping"),
    "alarm.superseded": _a("Alarm superseded"),
    "place.created": _a("Place created"),
    "places.imported": _a("Places imported"),
    "place.blacklisted": _a("Place blacklisted"),
    "place.unblacklisted": _a("Place taken off the blacklist"),
    "inspection.campaign_launched": _a("Inspection campaign launched"),
    "inspection.campaign_completed": _a("Inspection campaign completed"),
    "inspection.campaign_overdue": _a("Inspection campaign overdue"),
    "inspection.overdue": _a("Inspection overdue"),
    "inspection.failed": _a("Inspection failed"),
    "inspection.notice_issued": _a("Rectification notice issued"),
    "inspection.photo_added": _a("Inspection photo added"),
    "mediation.volunteer_set": _a("Mediation volunteer set"),
    "mediation.volunteer_removed": _a("Mediation volunteer removed"),
    "dispute.filed": _a("Dispute filed"),
    "dispute.document_added": _a("Dispute document added"),
    "emergency.scene_update": _a("On-scene update from an emergency"),
    "process.published": _a("Process version published"),
    "process.rolled_back": _a("Process rolled back to its previous version"),
    "timer_start.planned": _a("Timer start planned"),
    "timer_start.fired": _a("Timer start fired"),
    "timer_start.missed": _a("Timer start missed while the system was down"),
    "timer_start.failed": _a("Timer start failed"),
    "instance.relayout": _a("Instance converted to child instances"),
    "instance.children_done_queued": _a("Child result kept until the parent can take it"),
    "form.saved": _a("Form saved"),
    "process.deployed": _a("Process deployed"),
    "testrun.started": _a("Test run started"),
    "testrun.clock_advanced": _a("Test run's simulated clock moved forward"),
    "testrun.operator_simulated": _a("Service task simulated in a test run"),
    "testrun.deleted": _a("Test run deleted"),
    "job.failed": _a("Background job failed"),
    "job.requeued": _a("Background job requeued"),
    "task.location": _a("Task location recorded"),
}


def action_label(code: str) -> str:
    """The label of ``code`` in the page's language; the code itself when none is known."""
    label = CASE_ACTIONS.get(code) or ACTIONS.get(code)
    return str(label) if label is not None else code
