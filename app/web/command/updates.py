"""On-scene updates (现场反馈) posted from the board by the command centre and the coordinators: a note and
photos, stored as photos of the case and one update through ``app.emergency.services.add_update`` (the
API's own operation and rules); a refused note or photo writes nothing (the request edge rolls back)."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_pgettext
from werkzeug.datastructures import FileStorage

from app.auth.models import User
from app.cases import services as cases
from app.emergency import services as emergencies
from app.emergency.models import EmergencyStatus
from app.errors import DomainError
from app.web.command.board import Board

MAX_NOTE = 2000
MAX_PHOTOS = 20
PHOTO_KIND = "other"  # 现场照片: neither the report's nor a handler's before/after proof
NOTE_WORDS = lazy_pgettext("command", "Say what is happening on the scene, in at most 2000 characters.")
PHOTO_WORDS = {
    413: lazy_pgettext("command", "A photo is too large."),
    415: lazy_pgettext("command", "Photos must be JPEG, PNG or WebP images."),
}
TOO_MANY_WORDS = lazy_pgettext("command", "At most 20 photos per update.")
NOT_STORED_WORDS = lazy_pgettext("command", "A photo could not be stored; try another one.")


class UpdateRefused(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


def may_post(user: User, board: Board) -> bool:
    """The command centre and the coordinators post updates (the service's ``UPDATERS``) while the
    emergency is still running."""
    return user.role in emergencies.UPDATERS and board.view["status"] not in (
        EmergencyStatus.CLOSED,
        EmergencyStatus.REVIEWED,
    )


def post(user: User, key: str, form: Mapping[str, str], files: list[FileStorage]) -> None:
    note = (form.get("note") or "").strip()
    chosen = [f for f in files if f.filename]
    errors: dict[str, str] = {}
    if not note or len(note) > MAX_NOTE:
        errors["note"] = str(NOTE_WORDS)
    if len(chosen) > MAX_PHOTOS:
        errors["photos"] = str(TOO_MANY_WORDS)
    if errors:
        raise UpdateRefused(errors)
    ids = []
    for upload in chosen:
        try:
            ids.append(cases.add_attachment(user, key, upload.read(), upload.filename, PHOTO_KIND).id)
        except DomainError as exc:
            raise UpdateRefused({"photos": str(PHOTO_WORDS.get(exc.status, NOT_STORED_WORDS))}) from exc
    emergencies.add_update(user, key, note, ids)
