"""Before and after photos of a case, side by side: what was reported vs. what the handler sent as proof.

"Before" is the reporter's photo (kind ``report``) and any ``before`` photo; "after" is the photo proof
(kind ``after``, what the ``photo_proof`` form's ``after_photos`` name). Photos of kind ``other`` are listed
apart. The images themselves are served by ``GET /api/v1/attachments/<id>/content`` (page sessions may read).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.auth.models import User
from app.cases.models import Attachment
from app.cases.services import attachments

BEFORE_KINDS = ("report", "before")
AFTER_KINDS = ("after",)


@dataclass
class PhotoPairs:
    before: list[Attachment] = field(default_factory=list)
    after: list[Attachment] = field(default_factory=list)
    other: list[Attachment] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.before or self.after or self.other)


def before_and_after(user: User, key: str) -> PhotoPairs:
    pairs = PhotoPairs()
    for attachment in attachments(user, key):
        if attachment.kind in BEFORE_KINDS:
            pairs.before.append(attachment)
        elif attachment.kind in AFTER_KINDS:
            pairs.after.append(attachment)
        else:
            pairs.other.append(attachment)
    return pairs
