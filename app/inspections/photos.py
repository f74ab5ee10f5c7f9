"""Photos taken at an inspection: validated and stored like case photos (``app.cases.photos``), kept per item.
The inspection forms name them by id; ``inspection.record_inspection`` checks they belong to the item."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app import runtime
from app.audit.services import record
from app.auth.models import User
from app.auth.roles import Role
from app.cases import photos as image_files
from app.clock import now
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from app.extensions import db
from app.inspections.campaigns import get_item
from app.inspections.models import CampaignItem, InspectionPhoto, ItemStatus

UPLOADERS = frozenset({Role.GRID_WORKER, Role.SUPERVISOR, Role.ADMIN})


def add_photo(user: User, item_id: int, data: bytes, original_name: str | None) -> InspectionPhoto:
    item = get_item(user, item_id)
    if user.role not in UPLOADERS:
        raise Forbidden(f"a {user.role} does not inspect places", {"role": user.role})
    if item.status in ItemStatus.FINAL:
        raise Conflict(f"inspection item {item_id} is {item.status}; no more photos", {"status": item.status})
    settings = runtime.settings()
    try:
        info = image_files.inspect_image(data, settings.max_upload_bytes)
    except image_files.UploadRejected as exc:
        error = {413: PayloadTooLarge, 415: UnsupportedMediaType}.get(exc.status, InvalidInput)
        raise error(exc.reason, {exc.field: exc.reason}) from exc
    data, info = image_files.reencode(data, info)  # nothing appended to the upload is kept
    photo = InspectionPhoto(
        item_id=item.id,
        uploaded_by_id=user.id,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        storage_path=image_files.store_blob(settings.upload_folder, data, info),
        original_name=(original_name or "")[:200] or None,
        width=info.width,
        height=info.height,
        taken_at=info.taken_at,
        created_at=now(),
    )
    db.session.add(photo)
    db.session.flush()
    record(
        "inspection.photo_added",
        entity_type="inspection_photo",
        entity_id=photo.id,
        actor=user,
        after={"item_id": item.id, "sha256": info.sha256, "size": info.size},
    )
    return photo


def photos_of(user: User, item_id: int) -> list[InspectionPhoto]:
    item = get_item(user, item_id)
    return list(
        db.session.execute(
            select(InspectionPhoto).where(InspectionPhoto.item_id == item.id).order_by(InspectionPhoto.id)
        ).scalars()
    )


def photo_file(user: User, photo_id: int) -> tuple[Path, str]:
    photo = db.session.get(InspectionPhoto, photo_id)
    if photo is None:
        raise NotFound(f"photo {photo_id} does not exist")
    try:
        get_item(user, photo.item_id)
    except NotFound:
        raise NotFound(f"photo {photo_id} does not exist") from None
    return runtime.settings().upload_folder / photo.storage_path, photo.content_type


def check_photo_ids(item: CampaignItem, ids: object) -> list[int]:
    """``ids`` (from a form) are photos of ``item``; 422 on ``photos`` naming the others."""
    if ids is None:
        return []
    wanted = [int(i) for i in ids] if isinstance(ids, list) else []
    known = set(
        db.session.execute(
            select(InspectionPhoto.id).where(
                InspectionPhoto.item_id == item.id, InspectionPhoto.id.in_(wanted)
            )
        ).scalars()
    )
    foreign = [i for i in wanted if i not in known]
    if foreign:
        raise InvalidInput(
            "photos of another inspection",
            {"photos": f"not photos of this inspection: {', '.join(map(str, foreign))}"},
        )
    return wanted
