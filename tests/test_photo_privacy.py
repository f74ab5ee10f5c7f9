"""Photos: uploads are re-encoded (a ZIP or a <script> appended after the image is not kept) with their EXIF
kept for staff; residents download a copy without EXIF (no place, time or camera) and see no GPS in the
API, while a supervisor gets the original evidence."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import select

from app import runtime
from app.cases.models import Attachment
from app.cases.photos import inspect_image
from app.extensions import db
from tests.helpers import report

CAMERA = "HUAWEI P60"
LAT = (IFDRational(30, 1), IFDRational(39, 1), IFDRational(3096, 100))
LON = (IFDRational(104, 1), IFDRational(3, 1), IFDRational(5292, 100))
APPENDED = b"PK\x03\x04 a zip archive <script>alert(document.cookie)</script>"


def _photo_with_evidence(fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "HUAWEI"
    exif[ExifTags.Base.Model] = CAMERA
    exif.get_ifd(ExifTags.IFD.Exif)[36867] = "2026:11:02 08:30:15"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    for tag, value in ((1, "N"), (2, LAT), (3, "E"), (4, LON)):
        gps[tag] = value
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def _upload(client: Any, auth: Any, key: str, content: bytes, who: str = "resident") -> dict[str, Any]:
    response = client.post(
        f"/api/v1/cases/{key}/attachments?kind=report",
        data={"file": (io.BytesIO(content), "photo.jpg")},
        headers=auth(who),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _exif_of(content: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(content)) as im:
        return im.getexif()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_an_appended_payload_is_not_kept_and_the_evidence_is(
    client: Any, auth: Any, users: dict[str, Any], deployed: None, fmt: str
) -> None:
    key = report(client, auth)["key"]
    uploaded = _upload(client, auth, key, _photo_with_evidence(fmt) + APPENDED)
    row = db.session.get(Attachment, uploaded["id"])
    assert row is not None
    stored = (runtime.settings().upload_folder / row.storage_path).read_bytes()
    assert b"<script>" not in stored and b"PK\x03\x04" not in stored
    info = inspect_image(stored, 10 * 1024 * 1024)
    assert info.sha256 == row.sha256 and info.size == row.size  # the row describes the stored bytes
    assert info.gps_lat == pytest.approx(30.6586, abs=1e-3) and info.gps_lon == pytest.approx(
        104.0647, abs=1e-3
    )
    assert _exif_of(stored)[ExifTags.Base.Model] == CAMERA


def test_a_resident_downloads_without_gps_while_a_supervisor_gets_the_original(
    client: Any, auth: Any, users: dict[str, Any], deployed: None
) -> None:
    key = report(client, auth)["key"]
    uploaded = _upload(client, auth, key, _photo_with_evidence())
    url = f"/api/v1/attachments/{uploaded['id']}/content"

    resident = client.get(url, headers=auth("resident"))
    assert resident.status_code == 200 and resident.mimetype == "image/jpeg"
    public = resident.get_data()
    assert len(_exif_of(public)) == 0  # no GPS, no camera, no time
    assert inspect_image(public, 10 * 1024 * 1024).gps_lat is None
    assert "private" in resident.headers["Cache-Control"]
    again = client.get(url, headers=auth("resident")).get_data()
    assert again == public  # the copy is made once and kept

    supervisor = client.get(url, headers=auth("supervisor"))
    assert supervisor.status_code == 200
    row = db.session.execute(select(Attachment)).scalar_one()
    assert supervisor.get_data() == (runtime.settings().upload_folder / row.storage_path).read_bytes()
    evidence = _exif_of(supervisor.get_data())
    assert evidence[ExifTags.Base.Model] == CAMERA
    assert inspect_image(supervisor.get_data(), 10 * 1024 * 1024).gps_lat == pytest.approx(30.6586, abs=1e-3)

    # The API's description of the photo: the place for staff only.
    assert uploaded["gps_lat"] is None  # the resident's own upload answer
    mine = client.get(f"/api/v1/cases/{key}/attachments", headers=auth("resident")).get_json()
    assert mine[0]["gps_lat"] is None and mine[0]["gps_lon"] is None
    staff = client.get(f"/api/v1/attachments/{uploaded['id']}", headers=auth("supervisor")).get_json()
    assert staff["gps_lat"] == pytest.approx(30.6586, abs=1e-3)
