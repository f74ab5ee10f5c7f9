"""``/admin/holidays``: the holiday schedule file (HOLIDAY_SCHEDULE_FILE) for the years chinesecalendar does
not know yet: which years the package knows, the file's years, a year's holidays and make-up working days
edited or uploaded (checked: dates in that year, no day twice, make-up days on weekends) and counted by the
time limits at once (``app.holidays.services``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import pgettext

from app import runtime
from app.auth.models import User
from app.clock import now
from app.errors import Conflict
from app.extensions import db
from app.holidays import services
from app.holidays.services import Problem, ScheduleRefused
from app.timelimits.calendar import CHINA_STANDARD_TIME
from app.web.admin_data import bp, words
from app.web.admin_data.access import admin_page


def _this_year() -> int:
    return now().astimezone(CHINA_STANDARD_TIME).year


def _as_lines(days: tuple[date, ...]) -> str:
    """Dates one per line, a run of consecutive days as one range (how the notices write them)."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return "\n".join(
        run[0].isoformat() if len(run) == 1 else f"{run[0].isoformat()} ~ {run[-1].isoformat()}"
        for run in runs
    )


def _year_values(view: services.ScheduleView, year: int) -> dict[str, Any]:
    entry = view.years.get(year)
    return {
        "year": str(year),
        "source": entry.source if entry else "",
        "holidays": _as_lines(entry.holidays) if entry else "",
        "workdays": _as_lines(entry.workdays) if entry else "",
    }


def _view() -> tuple[services.ScheduleView, str | None]:
    """The schedule, or an empty one and why the file cannot be read (edited by hand since start-up)."""
    try:
        return services.view(), None
    except ScheduleRefused as exc:
        path = services.schedule_path()
        return services.ScheduleView(path=path, package_years=services.package_years()), exc.problems[0].value


def _page(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200) -> Any:
    view, broken = _view()
    this_year = _this_year()
    first, last = view.package_years
    return (
        render_template(
            "admin_data/holidays.html",
            view=view,
            broken=broken,
            values=values,
            errors=errors,
            this_year=this_year,
            watch_years=[this_year, this_year + 1],
            package_first=first,
            package_last=last,
            policy=runtime.settings().unknown_holiday_years,
        ),
        status,
    )


@bp.route("/holidays")
@admin_page
def holidays_home(user: User) -> ResponseReturnValue:
    raw = request.args.get("year", "")
    year = (
        int(raw) if raw.isdigit() and services.MIN_YEAR <= int(raw) <= services.MAX_YEAR else _this_year() + 1
    )
    return _page(_year_values(_view()[0], year), {})


def _refused(values: dict[str, Any], problems: list[Problem]) -> Any:
    db.session.rollback()
    flash(pgettext("admin_data", "Please correct the marked fields; nothing was saved."), "error")
    return _page(values, words.holiday_errors(problems), 422)


@bp.route("/holidays", methods=["POST"])
@admin_page
def holidays_save(user: User) -> ResponseReturnValue:
    values = {name: request.form.get(name, "") for name in ("year", "source", "holidays", "workdays")}
    problems: list[Problem] = []
    holidays = services.parse_dates(values["holidays"], "holidays", problems)
    workdays = services.parse_dates(values["workdays"], "workdays", problems)
    try:
        schedule = services.checked_year(values["year"], values["source"], holidays, workdays)
        if problems:
            raise ScheduleRefused(problems)
        services.save_years([schedule], user)
    except ScheduleRefused as exc:
        return _refused(values, problems + [p for p in exc.problems if p not in problems])
    except Conflict:
        return _refused(values, [Problem("file", "bad_file", _("no schedule file is configured"))])
    db.session.commit()
    flash(
        _(
            "%(year)s saved: %(h)s holidays, %(w)s make-up working days. Time limits count them from now on.",
            year=schedule.year,
            h=len(schedule.holidays),
            w=len(schedule.workdays),
        ),
        "success",
    )
    return redirect(url_for("admin_data.holidays_home", year=schedule.year))


@bp.route("/holidays/upload", methods=["POST"])
@admin_page
def holidays_upload(user: User) -> ResponseReturnValue:
    upload = request.files.get("file")
    values = _year_values(_view()[0], _this_year() + 1)
    try:
        if upload is None or not upload.filename:
            raise ScheduleRefused([Problem("file", "bad_file", _("choose a file"))])
        schedules = services.parse_upload(upload.read())
        services.save_years(schedules, user)
    except ScheduleRefused as exc:
        return _refused(values, exc.problems)
    except Conflict:
        return _refused(values, [Problem("file", "bad_file", _("no schedule file is configured"))])
    db.session.commit()
    years = "、".join(str(s.year) for s in schedules)
    flash(_("Saved from the file: %(years)s. Time limits count them from now on.", years=years), "success")
    return redirect(url_for("admin_data.holidays_home", year=schedules[0].year))
