"""Validation, metadata extraction and storage for case photos.

Uploaded photos come from the public and from field workers' phones, so every byte is
untrusted: the type is decided from the content (never the filename or the client's
content type), the image is fully decoded once to catch truncation, and oversized or
"decompression bomb" images are refused before any pixel data is decoded.

Pure functions only: no Flask, no database.  Callers map :class:`UploadRejected` to an
HTTP error response.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from PIL import ExifTags, Image, ImageOps

from app.timelimits.calendar import CHINA_STANDARD_TIME

#: Largest accepted image, in pixels (width * height).  A 40 MP RGB image already needs
#: ~120 MB of RAM once decoded; anything above that from a phone is suspicious.
MAX_PIXELS = 40_000_000

_FIELD = "file"
_MB = 1024 * 1024

# Pillow format name -> (content type, extension).  MPO is what Pillow calls a JPEG
# carrying extra pictures (many phone cameras write those); its content is plain JPEG.
_ACCEPTED: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# Restricting the decoders Pillow tries keeps the attack surface to the three formats we
# accept (JpegImagePlugin's opener covers MPO too).
_PILLOW_FORMATS = ("JPEG", "PNG", "WEBP")

_TAG_DATETIME = 306  # IFD0 DateTime
_TAG_DATETIME_ORIGINAL = 36867  # Exif IFD DateTimeOriginal
_TAG_OFFSET_TIME = 36880  # Exif IFD OffsetTime (pairs with DateTime)
_TAG_OFFSET_TIME_ORIGINAL = 36881  # Exif IFD OffsetTimeOriginal
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

_EXIF_DATETIME_RE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET_RE = re.compile(r"([+-])(\d{2}):(\d{2})")


class UploadRejected(Exception):
    """An uploaded file was refused; ``status`` is the HTTP status to answer with.

    413: too large (bytes or pixels), 415: not a JPEG/PNG/WebP image or a damaged one,
    400: empty.  ``field`` names the form field at fault, ``reason`` is shown to users.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.field = _FIELD
        self.reason = reason

    def __repr__(self) -> str:
        return f"UploadRejected(status={self.status!r}, reason={self.reason!r})"


@dataclass(frozen=True)
class ImageInfo:
    """What we learnt about a validated image.

    ``width``/``height`` are the stored pixel dimensions, before any EXIF orientation.
    ``taken_at`` is timezone-aware UTC.  ``gps_lat``/``gps_lon`` are both set or both None.
    """

    content_type: str
    extension: str
    width: int
    height: int
    size: int
    sha256: str
    taken_at: datetime | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None


def inspect_image(data: bytes, max_bytes: int) -> ImageInfo:
    """Validate an uploaded image and extract its metadata, or raise :class:`UploadRejected`."""
    size = len(data)
    # Size first: never spend CPU decoding something we would refuse anyway.
    if size > max_bytes:
        raise UploadRejected(413, _size_reason(size, max_bytes))
    if size == 0:
        raise UploadRejected(400, "file is empty")

    try:
        with warnings.catch_warnings():
            # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; make it an error
            # so a bomb is refused by the header alone, whatever the global warning filters.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Pillow's UserWarnings here ("Corrupt EXIF data", "malformed MPO") describe the
            # hostile input, which we handle; they are noise in the logs.
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS) as im:
                fmt = im.format or ""
                width, height = im.size
                _check_pixels(width, height)
                # verify() checks structure (e.g. PNG chunk CRCs) without decoding pixels.
                im.verify()
            # verify() leaves the image unusable: reopen and decode fully to catch truncation.
            with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS) as im:
                im.load()
                taken_at, gps = _read_exif(im)
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected(
            413, f"image dimensions exceed the limit of {MAX_PIXELS // 1_000_000} megapixels"
        ) from None
    except Exception:
        # Decoders fed hostile bytes raise a zoo of exceptions (OSError, SyntaxError,
        # ValueError, EOFError, struct.error, IndexError...): all mean "not a usable image".
        raise UploadRejected(415, _unsupported_reason(data)) from None

    if fmt not in _ACCEPTED:  # pragma: no cover - formats= already restricts this
        raise UploadRejected(415, _unsupported_reason(data))
    content_type, extension = _ACCEPTED[fmt]
    return ImageInfo(
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        size=size,
        sha256=hashlib.sha256(data).hexdigest(),
        taken_at=taken_at,
        gps_lat=gps[0] if gps else None,
        gps_lon=gps[1] if gps else None,
    )


def reencode(data: bytes, info: ImageInfo) -> tuple[bytes, ImageInfo]:
    """The image decoded and encoded again, keeping its pixels, EXIF (the evidence staff see: time, place,
    camera) and colour profile, and nothing else: bytes after the image's end (an appended ZIP or
    ``<script>``), comments, XMP and extra frames are gone. ``data`` must have passed :func:`inspect_image`.
    JPEGs keep their quantisation tables and subsampling, so the re-encoding loses next to nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # hostile EXIF: see inspect_image
        with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS) as im:
            keep: dict[str, Any] = {
                "exif": im.info.get("exif") or b"",
                "icc_profile": im.info.get("icc_profile") or None,
            }
            out = io.BytesIO()
            if info.extension == "jpg":
                im.save(out, "JPEG", quality="keep", subsampling="keep", comment=b"", **keep)
            elif info.extension == "png":
                im.save(out, "PNG", optimize=False, **keep)
            else:
                im.save(out, "WEBP", quality=90, method=4, **keep)
    clean = out.getvalue()
    return clean, replace(info, size=len(clean), sha256=hashlib.sha256(clean).hexdigest())


def public_copy(source: Path, target: Path) -> None:
    """Write ``source`` without its metadata to ``target`` (same format): no EXIF (place, time, camera),
    no XMP, no colour profile; the EXIF orientation is applied to the pixels so the photo stays upright.
    What residents and other non-staff download (see ``app.cases.services.attachment_file``)."""
    with Image.open(source) as opened:
        fmt = "JPEG" if opened.format in ("JPEG", "MPO") else opened.format or "JPEG"
        im = ImageOps.exif_transpose(opened)
        if fmt == "JPEG":
            im = _to_rgb(im)
    target.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"JPEG": {"quality": 90}, "WEBP": {"quality": 90}}.get(fmt, {})
    _atomic_write(target, lambda fh: im.save(fh, format=fmt, **options))


def store_blob(folder: Path, data: bytes, info: ImageInfo) -> str:
    """Store ``data`` content-addressed under ``folder``; return the relative posix path.

    Layout ``<sha[:2]>/<sha[2:4]>/<sha>.<ext>`` keeps directories small.  Identical content
    maps to the same path and is written once; the write goes through a temporary file in
    the same directory plus ``os.replace`` so readers never see a partial file.
    """
    sha = info.sha256
    if not re.fullmatch(r"[0-9a-f]{64}", sha) or info.extension not in {"jpg", "png", "webp"}:
        raise ValueError("ImageInfo does not describe a validated image")
    # The path is derived from the hash, so refuse data that does not match it.
    if hashlib.sha256(data).hexdigest() != sha:
        raise ValueError("data does not match info.sha256")

    relative = f"{sha[:2]}/{sha[2:4]}/{sha}.{info.extension}"
    target = folder / relative
    if target.exists():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, lambda fh: fh.write(data))
    return relative


def make_thumbnail(source: Path, target: Path, max_side: int = 480) -> None:
    """Write a JPEG thumbnail of ``source`` fitting in ``max_side`` x ``max_side``.

    EXIF orientation is applied (the thumbnail carries no EXIF, so no GPS either) and
    transparency is flattened onto white, as JPEG has no alpha channel.
    """
    if max_side < 1:
        raise ValueError("max_side must be positive")
    with Image.open(source) as opened:
        # For JPEG sources, let the decoder downscale (DCT scaling): far less memory and CPU.
        opened.draft("RGB", (max_side, max_side))
        im = ImageOps.exif_transpose(opened)
    im = _to_rgb(im)
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, lambda fh: im.save(fh, format="JPEG", quality=80, optimize=True))


# -- helpers ---------------------------------------------------------------------------


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise UploadRejected(
            413,
            f"image is {width}x{height} ({width * height / 1_000_000:.1f} megapixels), "
            f"the limit is {MAX_PIXELS // 1_000_000} megapixels",
        )


def _human_size(n: int) -> str:
    if n >= _MB:
        return f"{n / _MB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def _size_reason(size: int, limit: int) -> str:
    got, allowed = _human_size(size), _human_size(limit)
    if got == allowed:  # "10.0 MB, the limit is 10.0 MB" would read as a contradiction
        got, allowed = f"{size} bytes", f"{limit} bytes"
    return f"file is {got}, the limit is {allowed}"


# Magic numbers used only to word the rejection message helpfully; acceptance is Pillow's call.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF", 0, "PDF"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"BM", 0, "BMP"),
    (b"PK\x03\x04", 0, "ZIP archive or Office document"),
    (b"\xd0\xcf\x11\xe0", 0, "Office document"),
    (b"\x1f\x8b", 0, "gzip archive"),
    (b"Rar!", 0, "RAR archive"),
    (b"7z\xbc\xaf", 0, "7z archive"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"8BPS", 0, "Photoshop document"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypavif", 4, "AVIF"),
    (b"ftyp", 4, "video"),
)
_OUR_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}


def _sniff(data: bytes) -> str | None:
    for magic, offset, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    head = data[:512].lstrip()
    if head[:5].lower() == b"<?xml" or b"<svg" in head.lower():
        return "SVG/XML"
    if head[:1] == b"<":
        return "HTML"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the 4096 boundary is still text.
        if exc.start < len(data[:4096]) - 3:
            return None
        text = data[: exc.start].decode("utf-8")
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "text"
    return None


def _unsupported_reason(data: bytes) -> str:
    kind = _sniff(data)
    if kind in _OUR_FORMATS:
        return f"content is a damaged or truncated {_OUR_FORMATS[kind]} image"
    looks = f"looks like {kind}" if kind else "format not recognised"
    return f"content is not a JPEG, PNG or WebP image ({looks})"


def _read_exif(im: Image.Image) -> tuple[datetime | None, tuple[float, float] | None]:
    """Capture time and position from EXIF; malformed EXIF yields None, never an error."""
    try:
        exif = im.getexif()
    except Exception:
        return None, None
    return _taken_at(exif), _gps(exif)


def _safe_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:
        return {}


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        ifd0 = dict(exif)
    except Exception:
        return None
    sub = _safe_ifd(exif, ExifTags.IFD.Exif)
    # DateTimeOriginal belongs in the Exif sub-IFD, but some writers put it in IFD0.
    original = sub.get(_TAG_DATETIME_ORIGINAL, ifd0.get(_TAG_DATETIME_ORIGINAL))
    candidates = (
        (original, sub.get(_TAG_OFFSET_TIME_ORIGINAL)),
        (ifd0.get(_TAG_DATETIME), sub.get(_TAG_OFFSET_TIME)),
    )
    for raw, raw_offset in candidates:
        parsed = _parse_exif_datetime(raw, raw_offset)
        if parsed is not None:
            return parsed
    return None


def _exif_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 \t\r\n")


def _parse_exif_datetime(raw: object, raw_offset: object) -> datetime | None:
    text = _exif_text(raw)
    match = _EXIF_DATETIME_RE.match(text) if text else None
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError:  # e.g. "0000:00:00 00:00:00" from cameras without a clock
        return None
    # Without an offset tag: China Standard Time, the local time the cameras and phones feeding this system
    # are set to.
    return naive.replace(tzinfo=_parse_offset(raw_offset) or CHINA_STANDARD_TIME).astimezone(UTC)


def _parse_offset(raw: object) -> timezone | None:
    """EXIF 2.31 OffsetTime* ("+08:00"); when a camera states its zone, trust it."""
    text = _exif_text(raw)
    match = _EXIF_OFFSET_RE.fullmatch(text) if text else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14) or int(minutes) >= 60:
        return None
    return timezone(-delta if sign == "-" else delta)


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    gps = _safe_ifd(exif, ExifTags.IFD.GPSInfo)
    lat = _gps_coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "N", "S", 90.0)
    lon = _gps_coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "E", "W", 180.0)
    # Half a position is no position.
    if lat is None or lon is None:
        return None
    return lat, lon


def _gps_coordinate(value: object, ref: object, positive: str, negative: str, limit: float) -> float | None:
    ref_text = _exif_text(ref)
    if ref_text is None:
        return None
    ref_text = ref_text.upper()
    if ref_text not in (positive, negative):
        return None
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    numbers: list[float] = []
    for part in parts:
        number = _rational(part)
        if number is None or number < 0:
            return None
        numbers.append(number)
    # A single value is decimal degrees; (degrees, minutes) is also seen in the wild.
    degrees, minutes, seconds = (*numbers, 0.0, 0.0)[:3]
    if minutes > 60 or seconds > 60:
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if decimal > limit:
        return None
    return -decimal if ref_text == negative else decimal


def _rational(value: object) -> float | None:
    """EXIF RATIONAL as float: Pillow gives IFDRational (NaN for x/0) or a (num, den) pair."""
    try:
        if isinstance(value, tuple) and len(value) == 2:
            num, den = value
            result = float(num) / float(den)
        elif isinstance(value, bool):
            return None
        else:
            result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _to_rgb(im: Image.Image) -> Image.Image:
    """Flatten onto white: converting RGBA straight to RGB shows hidden pixels (often black)."""
    if im.mode == "RGB":
        return im
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if not has_alpha:
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write via a uniquely named temp file in the target's directory, then ``os.replace``.

    ``open(..., "xb")`` (unlike mkstemp) honours the umask, so files get normal permissions.
    """
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
