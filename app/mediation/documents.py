"""Dispute documents (evidence, the signed agreement): a PDF or an image, decided by content, never by the
file name or the client's content type; stored content-addressed like case photos."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.cases import photos

PDF_MAGIC = b"%PDF-"
# PDF readers look for the end-of-file marker in the last 1024 bytes; a file without one was cut short.
PDF_EOF_MARKER = b"%%EOF"
PDF_TAIL_BYTES = 1024


class DocumentRejected(Exception):
    """``status``: 413 too large, 422 not a PDF or an image (or damaged, or empty)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class DocumentInfo:
    content_type: str
    extension: str
    size: int
    sha256: str


def inspect_document(data: bytes, max_bytes: int) -> DocumentInfo:
    """A PDF (by its magic bytes and end-of-file marker) or a JPEG/PNG/WebP image Pillow fully decodes."""
    if len(data) > max_bytes:
        raise DocumentRejected(413, f"file is {len(data)} bytes, the limit is {max_bytes} bytes")
    if not data:
        raise DocumentRejected(422, "file is empty")
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith(PDF_MAGIC):
        if PDF_EOF_MARKER not in data[-PDF_TAIL_BYTES:]:
            raise DocumentRejected(422, "content is a truncated PDF (no %%EOF marker at its end)")
        return DocumentInfo("application/pdf", "pdf", len(data), sha)
    try:
        image = photos.inspect_image(data, max_bytes)
    except photos.UploadRejected as exc:
        if exc.status == 413:
            raise DocumentRejected(413, exc.reason) from exc
        reason = exc.reason.replace(
            "is not a JPEG, PNG or WebP image", "is not a PDF or a JPEG, PNG or WebP image"
        )
        raise DocumentRejected(422, reason) from exc
    return DocumentInfo(image.content_type, image.extension, image.size, sha)


def store_document(folder: Path, data: bytes, info: DocumentInfo) -> str:
    """Write ``data`` under ``folder`` as ``documents/<sha[:2]>/<sha>.<ext>`` (once); the relative path."""
    if hashlib.sha256(data).hexdigest() != info.sha256:
        raise ValueError("data does not match info.sha256")
    relative = f"documents/{info.sha256[:2]}/{info.sha256}.{info.extension}"
    target = folder / relative
    if target.exists():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return relative
