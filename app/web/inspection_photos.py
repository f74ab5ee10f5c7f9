"""Inspection photos on the task page: an inspection has no case, so its photos belong to the campaign
item (``app.inspections.photos``). The form's photos field (``"ui:widget": "inspection_photos"``) becomes
the page's photo picker: the item's photos to tick, the camera to add more, uploaded here for the task's
item. Same services and rules as ``POST /api/v1/inspections/items/<id>/photos``; the request edge commits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from app.auth.models import User
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.inspections import photos
from app.inspections.models import InspectionPhoto
from app.tasks import services as tasks
from app.web.blueprint import bp
from app.workflow.models import HumanTask

KIND = "inspection"


def item_id_of(data: Mapping[str, Any]) -> int | None:
    """The campaign item an inspection task is for (its ``target``), None for any other task."""
    target = data.get("target")
    if isinstance(target, Mapping) and isinstance(target.get("item_id"), int):
        return int(target["item_id"])
    return None


def photo_url(photo: InspectionPhoto) -> str:
    return url_for("inspections.PhotoContent", photo_id=photo.id)


def add_to_page(form_page: dict[str, Any], user: User, task: HumanTask, data: Mapping[str, Any]) -> None:
    """Give the form's inspection photo fields their upload address and the item's photos to tick."""
    item_id = item_id_of(data)
    fields = [f for f in form_page["model"].get("fields", []) if f.get("kinds") == [KIND]]
    if item_id is None or not fields:
        return
    for field in fields:
        field["upload_url"] = url_for("web.worker_inspection_photo", task_id=task.id)
    form_page["photos"] = form_page["photos"] + [
        {"id": p.id, "kind": KIND, "label": _("Inspection photo"), "thumbnail": photo_url(p)}
        for p in photos.photos_of(user, item_id)
    ]


@bp.route("/m/tasks/<int:task_id>/inspection-photos", methods=["POST"])
@login_required
def worker_inspection_photo(task_id: int) -> ResponseReturnValue:
    """One photo (multipart ``file``) of the task's inspection; answers its id and thumbnail."""
    from app.web.worker import task_user

    user = task_user()
    task = tasks.get_task(user, task_id)
    item_id = item_id_of(tasks.task_data(task))
    if item_id is None:
        raise NotFound(f"task {task_id} is not an inspection")
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("no file uploaded", {"file": _("Choose or take a photo.")})
    photo = photos.add_photo(user, item_id, upload.read(), upload.filename)
    db.session.commit()
    return jsonify(id=photo.id, kind=KIND, thumbnail=photo_url(photo)), 201
