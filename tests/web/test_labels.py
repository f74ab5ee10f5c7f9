"""Codes turned into words on the pages, in the page language: configured time limits ("4wh" → 4 工作小时),
task statuses, escalation levels, and a task's title in English from its form."""

from __future__ import annotations

from flask_babel import refresh

from app.web.labels import escalation_label, task_status_label, time_limit_text


def test_codes_in_words_in_both_languages(app):
    with app.test_request_context("/"):
        assert [time_limit_text(t) for t in ("4wh", "20wd", "24h", "0.5h")] == [
            "4 工作小时",
            "20 个工作日",
            "24 小时",
            "0.5 小时",
        ]
        assert time_limit_text("soon") == "soon"  # not a limit: shown as stored, never an error page
        assert (task_status_label("claimed"), escalation_label("street")) == ("已被认领", "街道")
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        refresh()
        assert time_limit_text("4wh") == "4 working hours"
        assert (task_status_label("cancelled"), escalation_label("district")) == (
            "Withdrawn by the process",
            "District",
        )
