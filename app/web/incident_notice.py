"""Telling a person that their step was kept although the process stopped after it (an incident).

Every request that runs an engine step (a task's completion, a report, a message, an emergency launch, a
dispute, an inspection campaign) may open an incident in its transaction. The API's JSON answer to such a
request gets a ``notice`` ({code, message}); the pages flash ``step_notice()``. Neither says more than that
the case continues after a repair: the element and the reason are for the operations page.
"""

from __future__ import annotations

from flask import Response, current_app, request

from app.web.blueprint import bp
from app.workflow import incidents, notices

NOTICE_CODE = "incident_opened"


def step_notice() -> str | None:
    """The words for the person when this request's step opened an incident, else None."""
    if not incidents.opened_in_session():
        return None
    return notices.in_language(notices.CONTINUES_AFTER_REPAIR)


@bp.before_app_request
def _forget_earlier_incidents() -> None:
    # One session may serve several requests (an app context held across them): each starts afresh.
    incidents.forget_opened()


@bp.after_app_request
def _add_notice_to_api_answers(response: Response) -> Response:
    message = step_notice()
    if message is None or not 200 <= response.status_code < 300 or not response.is_json:
        return response
    if not request.path.startswith("/api/"):
        return response  # the pages' own JSON (the task page) carries its flash and redirect
    body = response.get_json(silent=True)
    if isinstance(body, dict) and "notice" not in body:
        body["notice"] = {"code": NOTICE_CODE, "message": message}
        response.set_data(current_app.json.dumps(body))
    return response
