"""Sensor page routes: thin (who is asking → one query or service call → render or redirect)."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.auth.models import User
from app.devices import services
from app.devices.types import DEVICE_TYPES, DeviceStatus
from app.devices.visibility import visible_device
from app.errors import InvalidInput
from app.extensions import db
from app.web.errors import register_page_errors
from app.web.sensors import bp, labels, queries, registering
from app.web.sensors.access import may_write, reader_json, reader_page, writer_json, writer_page
from app.web.supervisor.case_list import grid_choices

register_page_errors(bp)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"sn_labels": labels, "device_types": DEVICE_TYPES, "device_statuses": DeviceStatus.ALL}


def _device_query(user: User) -> tuple[queries.DeviceQuery, dict[str, str], list[tuple[str, str, str]]]:
    grids = grid_choices(user)
    query, errors = queries.parse_device_query(request.args.to_dict(), {code for code, _n, _l in grids})
    return query, errors, grids


@bp.route("/")
@reader_page
def devices(user: User) -> ResponseReturnValue:
    query, errors, grids = _device_query(user)
    result = queries.device_page(user, query)
    page = render_template(
        "sensors/devices.html",
        query=query,
        result=result,
        errors=errors,
        grid_choices=grids,
        dead_letters=queries.dead_letter_counts(result["items"]),
        may_write=may_write(user),
        page_url=lambda number: url_for("sensors.devices", **query.as_args(page=number)),
    )
    return page, 422 if errors else 200


@bp.route("/map.json")
@reader_json
def device_points(user: User) -> ResponseReturnValue:
    query, _errors, _grids = _device_query(user)
    return jsonify(queries.map_points(user, query))


@bp.route("/devices/<device_id>")
@reader_page
def device(user: User, device_id: str) -> ResponseReturnValue:
    found = visible_device(user, device_id)
    alarms = queries.device_alarms(found, queries.page_number(request.args.to_dict()))
    case_ids = queries.incident_cases({a.incident_id for a in alarms["items"]})
    return render_template(
        "sensors/device.html",
        device=found,
        alarms=alarms,
        incident_cases=case_ids,
        case_keys=queries.visible_case_keys(user, set(case_ids.values())),
        dead_letter_count=services.dead_letter_count(found.id),
        silence_minutes=DEVICE_TYPES[found.device_type].silence_minutes,
        grid_name=queries.grid_name(found.grid_code),
        may_write=may_write(user),
        page_url=lambda number: url_for("sensors.device", device_id=device_id, page=number),
    )


@bp.route("/devices/<device_id>/token", methods=["POST"])
@writer_page
def new_token(user: User, device_id: str) -> ResponseReturnValue:
    """A new HTTP ingestion token (the old one stops working), shown on this answer only."""
    found = visible_device(user, device_id)
    token = services.issue_token(found, actor=user)
    db.session.commit()
    return render_template("sensors/registered.html", device=found, token=token, reissued=True)


@bp.route("/alarms")
@reader_page
def alarms(user: User) -> ResponseReturnValue:
    """The active alarms and the incidents (active or cleared), each list with its own page number."""
    args = request.args.to_dict()
    state = args.get("state", "active")
    try:
        incidents = queries.incident_page(user, state, queries.page_number(args))
    except InvalidInput as exc:
        state, incidents = "active", queries.incident_page(user, "active", 1)
        flash(str(exc.details["state"]), "error")
    active = queries.active_alarms(user, queries.page_number({"page": args.get("alarms_page", "1")}))
    case_ids = {i.case_id for i in incidents["items"]}
    case_ids |= {a.incident.case_id for a in active["items"] if a.incident is not None}

    def link(**changes: Any) -> str:
        return url_for("sensors.alarms", **{**args, "state": state, **changes})

    return render_template(
        "sensors/alarms.html",
        state=state,
        active=active,
        incidents=incidents,
        case_keys=queries.visible_case_keys(user, case_ids),
        may_write=may_write(user),
        page_url=lambda number: link(page=number),
        alarms_page_url=lambda number: link(alarms_page=number),
    )


@bp.route("/dead-letters")
@writer_page
def dead_letters(user: User) -> ResponseReturnValue:
    reason = request.args.get("reason", "")
    if reason and reason not in labels.REASON_LABELS:
        reason = ""
    named = request.args.get("device", "")
    device = visible_device(user, named) if named else None
    page = queries.page_number(request.args.to_dict())
    letters = queries.dead_letter_page(user, reason, device, page)
    return render_template(
        "sensors/dead_letters.html",
        reason=reason,
        device=device,
        letters=letters,
        devices=queries.device_ids({letter.device_id for letter in letters["items"]}),
        payload_text=queries.payload_text,
        page_url=lambda number: url_for(
            "sensors.dead_letters", reason=reason or None, device=named or None, page=number
        ),
    )


@bp.route("/register", methods=["GET", "POST"])
@writer_page
def register(user: User) -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("sensors/register.html", form={}, errors={})
    form = request.form.to_dict()
    try:
        found, token = registering.register_from_form(form, user)
    except registering.FormRefused as exc:
        db.session.rollback()
        page = render_template("sensors/register.html", form=form, errors=exc.errors)
        return page, 422
    db.session.commit()
    # The token is shown on this answer only (its hash is kept): no redirect that would lose it.
    return render_template("sensors/registered.html", device=found, token=token)


@bp.route("/import", methods=["GET", "POST"])
@writer_page
def import_page(user: User) -> ResponseReturnValue:
    """GET: the form. POST without the script: the whole file in this one request, then the report."""
    if request.method == "GET":
        return render_template("sensors/import.html", errors={}, report=None, columns=services.CSV_COLUMNS)
    try:
        rows = registering.read_file(_uploaded())
    except InvalidInput as exc:
        db.session.rollback()
        errors = {"file": str(exc.details["file"])}
        page = render_template(
            "sensors/import.html", errors=errors, report=None, columns=services.CSV_COLUMNS
        )
        return page, 422
    report, rejections = registering.register_chunk(rows, user)
    db.session.commit()
    return render_template(
        "sensors/import.html",
        errors={},
        report=report,
        rejections=rejections,
        columns=services.CSV_COLUMNS,
    )


def _uploaded() -> bytes:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("no file", {"file": str(labels.NO_FILE)})
    return upload.read(registering.MAX_FILE_BYTES + 1)


@bp.route("/import/read", methods=["POST"])
@writer_json
def import_read(user: User) -> ResponseReturnValue:
    """The chunked import's first step: the file's rows, checked for header and encoding, nothing written."""
    try:
        rows = registering.read_file(_uploaded())
    except InvalidInput as exc:
        return jsonify({"errors": {"file": str(exc.details["file"])}}), 422
    return jsonify(
        {"rows": [{"row": r.row, "values": r.values} for r in rows], "chunk_rows": registering.CHUNK_ROWS}
    )


@bp.route("/import/rows", methods=["POST"])
@writer_json
def import_rows(user: User) -> ResponseReturnValue:
    """One chunk of rows: the good ones registered and committed, the rejected ones reported."""
    rows = registering.rows_from_json(request.get_json(silent=True))
    report, rejections = registering.register_chunk(rows, user)
    db.session.commit()
    return jsonify(
        {
            "rows": report.rows,
            "created": report.created,
            "rejected_rows": report.rejected_rows,
            "rejected": [r.as_dict() for r in rejections],
        }
    )
