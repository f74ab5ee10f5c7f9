"""What a person is told about an instance parked by an incident, in zh-CN first and English by locale.

The incident's reason (the element, the exception) is for admins and designers; a person whose step ran into
it, or who opens a task of a parked instance, reads only these words. Kept here, in both languages (as the
forms' messages are), because the API and every page that runs an engine step say the same thing.
"""

from __future__ import annotations

from flask import has_request_context
from flask_babel import get_locale

# A person's step was stored, and the process stopped after it.
CONTINUES_AFTER_REPAIR = {
    "zh-CN": "已提交。流程在后续环节遇到问题,已转管理员修复,修复后案件将继续办理。",
    "en": "Submitted. The process met a problem in a later step; it has been passed on for repair, and the "
    "case continues once it is repaired.",
}
# A task of a parked instance (open incident, suspended, terminated) cannot be completed.
WAITS_FOR_REPAIR = {
    "zh-CN": "该流程正在等待修复,暂时不能办理此任务,修复后即可继续。",
    "en": "This process is waiting for a repair: the task cannot be completed until then.",
}
SUSPENDED = {
    "zh-CN": "该流程已被暂停,恢复后才能办理此任务。",
    "en": "This process is suspended: the task can be completed once it is resumed.",
}
TERMINATED = {
    "zh-CN": "该流程已终止,此任务不再办理。",
    "en": "This process was terminated: the task is no longer to be done.",
}


def why_parked(status: str) -> str:
    """Why a task of an instance with ``status`` (error, suspended, terminated) cannot be completed."""
    return in_language({"suspended": SUSPENDED, "terminated": TERMINATED}.get(status, WAITS_FOR_REPAIR))


def in_language(texts: dict[str, str]) -> str:
    """``texts`` in the request's language (the pages' switch): English when chosen, else zh-CN."""
    if has_request_context():
        locale = get_locale()
        if locale is not None and locale.language == "en":
            return texts["en"]
    return texts["zh-CN"]
