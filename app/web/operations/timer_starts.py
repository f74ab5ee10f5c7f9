"""Failed timer starts on the operations list (``_timer_start_failures.html``): a process its timer could not
start (``app.workflow.timer_starts``) is an operator's concern like an incident, shown until a start of it
succeeds again. Asked only when the partial renders."""

from __future__ import annotations

from typing import Any

from app.web.operations import bp
from app.workflow import timer_starts


def failed_timer_starts() -> list[timer_starts.Schedule]:
    return [s for s in timer_starts.schedules() if s.failure]


@bp.context_processor
def _timer_start_failures() -> dict[str, Any]:
    return {"failed_timer_starts": failed_timer_starts}
