"""Tests for app.cases.photos: content sniffing, EXIF, bombs, blob storage, thumbnails."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageFile
from PIL.TiffImagePlugin import IFDRational

from app.cases import photos
from app.cases.photos import ImageInfo, UploadRejected, inspect_image, make_thumbnail, store_blob

LIMIT = 10 * 1024 * 1024
# Tianfu Square, Chengdu: 30.6586 N, 104.0647 E as degrees / minutes / seconds.
CHENGDU_LAT = (IFDRational(30, 1), IFDRational(39, 1), IFDRational(3096, 100))
CHENGDU_LON = (IFDRational(104, 1), IFDRational(3, 1), IFDRational(5292, 100))


def _exif(
    *,
    original: str | None = "2024:05:01 08:30:15",
    datetime_: str | None = "2024:05:01 09:00:00",
    lat: object = CHENGDU_LAT,
    lat_ref: object = "N",
    lon: object = CHENGDU_LON,
    lon_ref: object = "E",
    orientation: int | None = None,
) -> Image.Exif:
    """Build EXIF with Pillow only: IFD0, the Exif sub-IFD and the GPS IFD (0x8825)."""
    exif = Image.Exif()
    if datetime_ is not None:
        exif[306] = datetime_
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if original is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[36867] = original
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    for tag, value in ((1, lat_ref), (2, lat), (3, lon_ref), (4, lon)):
        if value is not None:
            gps[tag] = value
    return exif


def _jpeg(
    size: tuple[int, int] = (64, 48), exif: Image.Exif | bytes | None = None, color: str = "red"
) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", size, color)
    if exif is None:
        image.save(buf, "JPEG")
    else:
        image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _png_with_alpha(size: tuple[int, int] = (30, 20)) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 255, 0))  # fully transparent blue
    image.putpixel((0, 0), (0, 0, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _webp(size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "green").save(buf, "WEBP", quality=80)
    return buf.getvalue()


def _rejection(data: bytes, max_bytes: int = LIMIT) -> UploadRejected:
    with pytest.raises(UploadRejected) as excinfo:
        inspect_image(data, max_bytes)
    assert excinfo.value.field == "file"
    return excinfo.value


# -- accepted images ------------------------------------------------------------------


def test_jpeg_with_exif_time_and_gps() -> None:
    data = _jpeg(exif=_exif())

    info = inspect_image(data, LIMIT)

    assert info.content_type == "image/jpeg"
    assert info.extension == "jpg"
    assert (info.width, info.height) == (64, 48)
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    # 08:30:15 China Standard Time is 00:30:15 UTC.
    assert info.taken_at == datetime(2024, 5, 1, 0, 30, 15, tzinfo=UTC)
    assert info.taken_at is not None and info.taken_at.utcoffset() is not None
    assert info.gps_lat == pytest.approx(30.6586, abs=1e-4)
    assert info.gps_lon == pytest.approx(104.0647, abs=1e-4)


def test_southern_and_western_refs_give_negative_coordinates() -> None:
    info = inspect_image(_jpeg(exif=_exif(lat_ref="S", lon_ref="W")), LIMIT)

    assert info.gps_lat == pytest.approx(-30.6586, abs=1e-4)
    assert info.gps_lon == pytest.approx(-104.0647, abs=1e-4)


def test_taken_at_falls_back_to_datetime_tag() -> None:
    info = inspect_image(_jpeg(exif=_exif(original=None, datetime_="2023:12:31 23:59:59")), LIMIT)

    assert info.taken_at == datetime(2023, 12, 31, 15, 59, 59, tzinfo=UTC)


def test_taken_at_falls_back_when_datetime_original_is_malformed() -> None:
    info = inspect_image(_jpeg(exif=_exif(original="0000:00:00 00:00:00")), LIMIT)

    assert info.taken_at == datetime(2024, 5, 1, 1, 0, 0, tzinfo=UTC)


def test_explicit_exif_offset_is_honoured() -> None:
    exif = _exif()
    exif.get_ifd(ExifTags.IFD.Exif)[36881] = "+02:00"  # OffsetTimeOriginal

    info = inspect_image(_jpeg(exif=exif), LIMIT)

    assert info.taken_at == datetime(2024, 5, 1, 6, 30, 15, tzinfo=UTC)


def test_jpeg_without_exif_has_no_metadata() -> None:
    info = inspect_image(_jpeg(), LIMIT)

    assert (info.taken_at, info.gps_lat, info.gps_lon) == (None, None, None)


def test_png_with_alpha() -> None:
    data = _png_with_alpha((30, 20))

    info = inspect_image(data, LIMIT)

    assert (info.content_type, info.extension) == ("image/png", "png")
    assert (info.width, info.height) == (30, 20)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.taken_at is None


def test_webp() -> None:
    data = _webp((40, 30))

    info = inspect_image(data, LIMIT)

    assert (info.content_type, info.extension) == ("image/webp", "webp")
    assert (info.width, info.height) == (40, 30)
    assert info.size == len(data)


def test_webp_exif_is_read() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buf, "WEBP", exif=_exif())

    info = inspect_image(buf.getvalue(), LIMIT)

    assert info.taken_at == datetime(2024, 5, 1, 0, 30, 15, tzinfo=UTC)
    assert info.gps_lat == pytest.approx(30.6586, abs=1e-4)


# -- malformed EXIF never raises --------------------------------------------------------


_CHENGDU_TIME = datetime(2024, 5, 1, 0, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("exif", "taken_at", "has_gps"),
    [
        pytest.param(b"Exif\x00\x00" + b"\x13" * 64, None, False, id="garbage-exif-block"),
        pytest.param(b"Exif\x00\x00MM\x00*\x00\x00\xff\xff", None, False, id="ifd-offset-out-of-range"),
        pytest.param(b"Exif\x00\x00", None, False, id="empty-exif-block"),
        pytest.param(
            _exif(original="yesterday", datetime_="2024:13:45 99:00:00"), None, True, id="bad-dates"
        ),
        pytest.param(_exif(original="2024:05:01 08:30:15\x00junk"), _CHENGDU_TIME, True, id="trailing-junk"),
        pytest.param(_exif(lat_ref="Q"), _CHENGDU_TIME, False, id="bad-ref"),
        pytest.param(_exif(lat_ref=None), _CHENGDU_TIME, False, id="missing-ref"),
        pytest.param(_exif(lon=None), _CHENGDU_TIME, False, id="missing-longitude"),
        pytest.param(
            _exif(lat=(IFDRational(30, 0), IFDRational(39, 1), IFDRational(0, 1))),
            _CHENGDU_TIME,
            False,
            id="zero-denominator",
        ),
        pytest.param(
            _exif(lat=(IFDRational(95, 1), IFDRational(0, 1), IFDRational(0, 1))),
            _CHENGDU_TIME,
            False,
            id="lat-over-90",
        ),
        pytest.param(_exif(lon=(IFDRational(104, 1),) * 4), _CHENGDU_TIME, False, id="four-part-longitude"),
    ],
)
def test_malformed_exif_yields_none_fields(
    exif: Image.Exif | bytes, taken_at: datetime | None, has_gps: bool
) -> None:
    info = inspect_image(_jpeg(exif=exif), LIMIT)

    assert info.content_type == "image/jpeg"
    assert info.taken_at == taken_at
    if has_gps:
        assert info.gps_lat == pytest.approx(30.6586, abs=1e-4)
        assert info.gps_lon == pytest.approx(104.0647, abs=1e-4)
    else:
        assert info.gps_lat is None and info.gps_lon is None


def test_gps_as_single_decimal_degrees_value() -> None:
    exif = _exif(lat=IFDRational(306586, 10000), lon=IFDRational(1040647, 10000))

    info = inspect_image(_jpeg(exif=exif), LIMIT)

    assert info.gps_lat == pytest.approx(30.6586, abs=1e-4)
    assert info.gps_lon == pytest.approx(104.0647, abs=1e-4)


# -- rejected content -------------------------------------------------------------------


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (10, 10)).save(buf, "GIF")
    return buf.getvalue()


_GOOD_JPEG = _jpeg((200, 150), color="navy")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n",
            "content is not a JPEG, PNG or WebP image (looks like PDF)",
            id="pdf",
        ),
        pytest.param(
            "网格员巡查记录: all fine\n".encode(),
            "content is not a JPEG, PNG or WebP image (looks like text)",
            id="text",
        ),
        pytest.param(_gif(), "content is not a JPEG, PNG or WebP image (looks like GIF)", id="gif"),
        pytest.param(
            bytes([0, 255, 7, 9, 200, 3, 1, 0]) * 16,
            "content is not a JPEG, PNG or WebP image (format not recognised)",
            id="binary-noise",
        ),
        pytest.param(
            _GOOD_JPEG[: len(_GOOD_JPEG) // 2],
            "content is a damaged or truncated JPEG image",
            id="truncated-jpeg",
        ),
        pytest.param(
            _GOOD_JPEG[:20] + bytes(range(256)) * 8,
            "content is a damaged or truncated JPEG image",
            id="jpeg-header-then-garbage",
        ),
        pytest.param(
            b"\xff\xd8\xff\xe0" + b"\x00" * 300, "content is a damaged or truncated JPEG image", id="bare-soi"
        ),
        pytest.param(
            _png_with_alpha()[:-30], "content is a damaged or truncated PNG image", id="truncated-png"
        ),
    ],
)
def test_unsupported_or_corrupt_content_is_415(data: bytes, reason: str) -> None:
    rejected = _rejection(data)

    assert rejected.status == 415
    assert rejected.reason == reason
    assert str(rejected) == reason


def test_png_with_corrupted_pixel_data_is_415() -> None:
    data = bytearray(_png_with_alpha((64, 64)))
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 20] = b"\xaa" * 10  # breaks the chunk CRC

    assert _rejection(bytes(data)).status == 415


def test_oversize_is_413_before_any_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded an oversize upload")

    monkeypatch.setattr(photos.Image, "open", must_not_decode)
    data = b"\x00" * 2048  # not even an image: the size check must come first

    rejected = _rejection(data, max_bytes=1024)

    assert rejected.status == 413
    assert rejected.reason == "file is 2.0 KB, the limit is 1.0 KB"


def test_oversize_reason_in_megabytes() -> None:
    data = b"\xff" * int(12.3 * 1024 * 1024)

    rejected = _rejection(data, max_bytes=LIMIT)

    assert rejected.reason == "file is 12.3 MB, the limit is 10.0 MB"


def test_oversize_by_a_few_bytes_shows_exact_sizes() -> None:
    assert (
        _rejection(b"\x00" * (LIMIT + 5)).reason == f"file is {LIMIT + 5} bytes, the limit is {LIMIT} bytes"
    )


def test_image_exactly_at_the_byte_limit_is_accepted() -> None:
    data = _jpeg()

    assert inspect_image(data, max_bytes=len(data)).size == len(data)


@pytest.mark.parametrize("max_bytes", [0, LIMIT])
def test_empty_is_400(max_bytes: int) -> None:
    rejected = _rejection(b"", max_bytes)

    assert rejected.status == 400
    assert rejected.reason == "file is empty"


# -- decompression bombs -----------------------------------------------------------------


def _blank_png(size: tuple[int, int]) -> bytes:
    """Huge declared size, tiny file: a 1-bit blank image compresses to a few KB."""
    buf = io.BytesIO()
    Image.new("1", size).save(buf, "PNG", optimize=True)
    return buf.getvalue()


@pytest.mark.parametrize(
    "size",
    [
        pytest.param((8000, 8000), id="64MP-over-our-limit"),
        pytest.param((10000, 10000), id="100MP-pillow-warns"),
        pytest.param((15000, 15000), id="225MP-pillow-errors"),
    ],
)
def test_decompression_bomb_is_413(size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    data = _blank_png(size)
    assert len(data) < 64 * 1024

    def must_not_load(self: Image.Image) -> None:
        raise AssertionError("decoded the pixels of a bomb")

    monkeypatch.setattr(Image.Image, "load", must_not_load)
    monkeypatch.setattr(ImageFile.ImageFile, "load", must_not_load)

    rejected = _rejection(data)

    assert rejected.status == 413
    assert "40 megapixels" in rejected.reason


def test_bomb_reason_names_the_dimensions_when_known() -> None:
    assert _rejection(_blank_png((8000, 8000))).reason == (
        "image is 8000x8000 (64.0 megapixels), the limit is 40 megapixels"
    )


# -- blob storage ---------------------------------------------------------------------------


def test_store_blob_layout_and_idempotence(tmp_path: Path) -> None:
    data = _jpeg(exif=_exif())
    info = inspect_image(data, LIMIT)
    sha = info.sha256

    relative = store_blob(tmp_path, data, info)

    assert relative == f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    stored = tmp_path / relative
    assert stored.read_bytes() == data
    first_stat = stored.stat()

    assert store_blob(tmp_path, data, info) == relative
    second_stat = stored.stat()
    assert (second_stat.st_ino, second_stat.st_mtime_ns) == (first_stat.st_ino, first_stat.st_mtime_ns)
    # No temporary files left behind.
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]


def test_store_blob_uses_the_detected_extension(tmp_path: Path) -> None:
    data = _webp()
    info = inspect_image(data, LIMIT)

    relative = store_blob(tmp_path, data, info)

    assert relative.endswith(f"/{info.sha256}.webp")
    assert (tmp_path / relative).read_bytes() == data


def test_store_blob_refuses_data_not_matching_the_hash(tmp_path: Path) -> None:
    info = inspect_image(_jpeg(), LIMIT)

    with pytest.raises(ValueError, match="sha256"):
        store_blob(tmp_path, _jpeg(color="blue"), info)
    assert list(tmp_path.iterdir()) == []


def test_store_blob_refuses_a_forged_info(tmp_path: Path) -> None:
    data = b"whatever"
    info = ImageInfo("image/jpeg", "jpg", 1, 1, len(data), "../../etc/passwd")

    with pytest.raises(ValueError):
        store_blob(tmp_path, data, info)


# -- thumbnails -----------------------------------------------------------------------------


def test_thumbnail_fits_max_side(tmp_path: Path) -> None:
    source = tmp_path / "src.jpg"
    source.write_bytes(_jpeg((1200, 800)))
    target = tmp_path / "thumbs" / "deep" / "t.jpg"

    make_thumbnail(source, target, max_side=300)

    with Image.open(target) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (300, 200)
    assert [p.name for p in target.parent.iterdir()] == ["t.jpg"]


def test_thumbnail_does_not_upscale(tmp_path: Path) -> None:
    source = tmp_path / "small.jpg"
    source.write_bytes(_jpeg((100, 60)))
    target = tmp_path / "t.jpg"

    make_thumbnail(source, target)

    with Image.open(target) as thumb:
        assert thumb.size == (100, 60)


def test_thumbnail_applies_exif_orientation(tmp_path: Path) -> None:
    # Landscape pixels with a red left edge; Orientation 6 means "rotate 90° clockwise to view".
    image = Image.new("RGB", (600, 300), "white")
    image.paste((255, 0, 0), (0, 0, 60, 300))
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=_exif(orientation=6))
    source = tmp_path / "rotated.jpg"
    source.write_bytes(buf.getvalue())
    assert inspect_image(buf.getvalue(), LIMIT).width == 600  # stored dimensions
    target = tmp_path / "t.jpg"

    make_thumbnail(source, target, max_side=200)

    with Image.open(target) as thumb:
        assert thumb.size == (100, 200)  # width/height swapped
        red, green, _ = thumb.convert("RGB").getpixel((50, 5))  # type: ignore[misc]
        assert red > 200 and green < 60  # the red left edge is now at the top
        assert ExifTags.Base.Orientation not in thumb.getexif()


def test_thumbnail_of_png_with_alpha_is_rgb_on_white(tmp_path: Path) -> None:
    source = tmp_path / "alpha.png"
    source.write_bytes(_png_with_alpha((40, 40)))
    target = tmp_path / "t.jpg"

    make_thumbnail(source, target)

    with Image.open(target) as thumb:
        assert thumb.mode == "RGB"
        assert thumb.size == (40, 40)
        assert all(channel > 240 for channel in thumb.getpixel((20, 20)))  # type: ignore[union-attr]


def test_thumbnail_strips_gps(tmp_path: Path) -> None:
    source = tmp_path / "gps.jpg"
    source.write_bytes(_jpeg((500, 500), exif=_exif()))
    target = tmp_path / "t.jpg"

    make_thumbnail(source, target)

    with Image.open(target) as thumb:
        assert not thumb.getexif().get_ifd(ExifTags.IFD.GPSInfo)
