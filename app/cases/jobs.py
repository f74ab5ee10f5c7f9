"""Background work on case attachments."""

from __future__ import annotations

from app import runtime
from app.cases import photos
from app.cases.models import Attachment
from app.extensions import db


def make_thumbnail(attachment_id: int) -> str | None:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        return None
    folder = runtime.settings().upload_folder
    relative = f"thumbs/{attachment.sha256[:2]}/{attachment.sha256}.jpg"
    photos.make_thumbnail(folder / attachment.storage_path, folder / relative)
    attachment.thumbnail_path = relative
    return relative
