"""AI camera snapshots on their way from a message to a photo of the incident's case.

A camera's message carries its snapshot base64-encoded (``connectors/adapters/ai_camera.py``). The alarm keeps
only a marker, ``snapshot_sha256`` and ``snapshot_bytes``: image bytes have no place in the JSON of
``alarm.values``, ``device.last_values`` or process variables, and every repeat would copy them again. The
decoded bytes wait on disk instead, content-addressed under the upload folder (``snapshots/``), until the
incident's case is opened, maybe later and in another process (an RQ worker in stack mode) or again after a
rollback (so taking them does not remove them). There they go through the photo machinery
(``app.cases.photos``: content check with Pillow, content-addressed store, thumbnail job) and become a
``report`` photo of the case attributed to the device, or, refused, an entry in the case's timeline with the
reason; either way the case opens. Staged files are pruned after ``STAGED_TTL_SECONDS``, taken or not (a
repeat's newer snapshot, a message that became a dead letter).

A ``snapshot_url`` is only ever kept as a link: we never fetch URLs a device sends (that would let any camera
make the server request arbitrary addresses), so it is shown in the case's description and variables.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import runtime
from app.audit.services import record_case_event
from app.cases import photos
from app.cases.models import Attachment, Case
from app.cases.services import store_photo

log = logging.getLogger(__name__)

STAGING_DIR = "snapshots"
# Far beyond PENDING_GRACE (a case opened late by the scheduler still finds its snapshot), short enough that
# a camera repeating its detection with a new snapshot each time cannot fill the disk.
STAGED_TTL_SECONDS = 3600
PRUNE_EVERY_SECONDS = 600
# The marker the adapter puts in the reading's values instead of the bytes.
SHA_KEY, SIZE_KEY, URL_KEY = "snapshot_sha256", "snapshot_bytes", "snapshot_url"
SNAPSHOT_KEYS = frozenset({SHA_KEY, SIZE_KEY, URL_KEY})
_SHA = re.compile(r"^[0-9a-f]{64}$")
_last_prune = 0.0


def _folder() -> Path:
    folder = runtime.settings().upload_folder
    return folder / STAGING_DIR


def _staged_path(sha256: str) -> Path:
    return _folder() / sha256[:2] / f"{sha256}.bin"


def marker(image: bytes) -> dict[str, Any]:
    """What the alarm keeps of a snapshot: its hash and size."""
    return {SHA_KEY: hashlib.sha256(image).hexdigest(), SIZE_KEY: len(image)}


def stage(image: bytes) -> bool:
    """Keep the decoded snapshot until the case is opened (ingestion calls this when a reading opens an
    alarm); False when the disk refuses it (the case then opens without the photo and says so)."""
    target = _staged_path(hashlib.sha256(image).hexdigest())
    if target.exists():
        os.utime(target)  # sent again: its hour starts again
        return True
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Through a temporary file and a rename, so a case opened concurrently never reads half a file.
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(image)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError:
        log.exception("staging a camera snapshot failed")
        return False
    return True


def _take(sha256: str) -> bytes | None:
    """The staged snapshot with this hash, if it is there and is what the hash says."""
    if not _SHA.match(sha256):
        return None
    try:
        data = _staged_path(sha256).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def prune_stale(force: bool = False) -> int:
    """Remove staged snapshots older than ``STAGED_TTL_SECONDS``, at most every ``PRUNE_EVERY_SECONDS``.
    File ages are the file system's, so this uses wall-clock time, not ``app.clock``."""
    global _last_prune
    wall = time.time()
    if not force and wall - _last_prune < PRUNE_EVERY_SECONDS:
        return 0
    _last_prune = wall
    removed = 0
    try:
        for path in _folder().glob("*/*.bin"):
            if wall - path.stat().st_mtime > STAGED_TTL_SECONDS:
                path.unlink(missing_ok=True)
                removed += 1
    except OSError:
        # Never worth failing the scheduler's round for; the next prune tries again.
        log.warning("pruning staged camera snapshots failed", exc_info=True)
    return removed


# -- at case opening ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What became of an alarm's snapshot, checked before its case is filed (pure, no database)."""

    sha256: str | None = None
    url: str | None = None
    data: bytes | None = None
    info: photos.ImageInfo | None = None
    refused: str | None = None  # why it is not a photo of the case
    status: int | None = None  # the photo machinery's HTTP-like status of a refusal

    def description_line(self) -> str | None:
        if self.url is not None:
            return f"现场快照(链接,系统不下载):{self.url}"
        if self.info is not None:
            return f"现场快照:已存为案件照片({self.info.width}×{self.info.height},{self.info.size} 字节)"
        if self.refused is not None:
            return f"现场快照未能存为照片:{self.refused}"
        return None


def check(values: Mapping[str, Any]) -> Snapshot | None:
    """The snapshot of an alarm's values: a link, a content-checked image, or the reason it is none."""
    url = values.get(URL_KEY)
    if isinstance(url, str) and url:
        return Snapshot(url=url)
    sha256 = values.get(SHA_KEY)
    if not isinstance(sha256, str):
        return None
    data = _take(sha256)
    if data is None:
        return Snapshot(sha256=sha256, refused="快照文件不存在或已损坏 (staged snapshot missing)")
    max_bytes = runtime.settings().max_upload_bytes
    try:
        info = photos.inspect_image(data, max_bytes)
    except photos.UploadRejected as exc:
        return Snapshot(sha256=sha256, refused=exc.reason, status=exc.status)
    return Snapshot(sha256=sha256, data=data, info=info)


def attach(snapshot: Snapshot, case: Case, actor_label: str, alarm_id: int) -> Attachment | None:
    """Store a checked snapshot as a ``report`` photo of the case (audited as the device's), or record why
    not in the case's timeline. Never raises for the snapshot's sake: the case opens regardless."""
    if snapshot.url is not None:
        return None  # a link only: in the description and variables
    assert snapshot.sha256 is not None
    attachment: Attachment | None = None
    if snapshot.info is not None and snapshot.data is not None:
        try:
            attachment = _store(snapshot.data, snapshot.info, case, actor_label, alarm_id)
        except OSError as exc:
            log.exception("storing the camera snapshot of case %s failed", case.key)
            snapshot = Snapshot(sha256=snapshot.sha256, refused=f"storing the photo failed: {exc}")
    if attachment is None:
        record_case_event(
            "case.snapshot_refused",
            case,
            actor_label=actor_label,
            data={
                "label": "现场快照未存为照片",
                "alarm_id": alarm_id,
                "sha256": snapshot.sha256,
                "reason": snapshot.refused,
                "status": snapshot.status,
            },
        )
    return attachment


def _store(data: bytes, info: photos.ImageInfo, case: Case, actor_label: str, alarm_id: int) -> Attachment:
    """As an upload is stored, for a device instead of a user."""
    name = f"{actor_label.removeprefix('device:')}-snapshot.{info.extension}"
    return store_photo(
        case,
        data,
        info,
        "report",
        name,
        actor_label=actor_label,
        audit_data={"source": "camera_snapshot", "alarm_id": alarm_id},
    )
