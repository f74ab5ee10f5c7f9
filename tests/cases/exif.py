"""Camera JPEGs for tests: EXIF DateTimeOriginal (+ OffsetTimeOriginal) and GPS written with Pillow alone."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import ExifTags, Image

_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 36867, 36881


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round(((value - degrees) * 60 - minutes) * 60, 4)


def camera_jpeg(
    taken_at: datetime | None = None,
    place: tuple[float, float] | None = None,
    color: tuple[int, int, int] = (90, 140, 60),
    size: tuple[int, int] = (320, 240),
) -> bytes:
    """A JPEG as a phone camera writes it: capture time in local time with its offset, and the position.
    Without ``taken_at`` and ``place``: no EXIF at all (a screenshot, a chat app's copy)."""
    exif = Image.Exif()
    if taken_at is not None:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        local = taken_at.astimezone()
        offset = local.strftime("%z")
        sub[_DATETIME_ORIGINAL] = local.strftime("%Y:%m:%d %H:%M:%S")
        sub[_OFFSET_TIME_ORIGINAL] = f"{offset[:3]}:{offset[3:]}"
    if place is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[1], gps[2] = ("N" if place[0] >= 0 else "S"), _dms(place[0])
        gps[3], gps[4] = ("E" if place[1] >= 0 else "W"), _dms(place[1])
    buffer = io.BytesIO()
    image = Image.new("RGB", size, color)
    if taken_at is None and place is None:
        image.save(buffer, "JPEG")
    else:
        image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()
