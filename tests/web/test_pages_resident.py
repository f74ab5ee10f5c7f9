"""Resident pages through the test client: reporting (all or nothing, fields named), the receipt, my
reports, and tracking without other people's data."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.cases.models import Attachment, Case
from app.extensions import db
from tests.helpers import fingerprint, jpeg, walk_to
from tests.web.pages import csrf_token, sign_in
from tests.web.seed import seed_people


@pytest.fixture
def seeded(app):
    api, auth = seed_people(app)
    return {"api": api, "auth": auth}


def _report(client, **fields):
    data = {
        "csrf_token": csrf_token(client, "/r/report"),
        "category_code": "E0102",
        "description": "北门垃圾桶满了",
        "lat": "30.7589",
        "lon": "103.9718",
        "address": "锦绣花园北门",
        **fields,
    }
    return client.post("/r/report", data=data, content_type="multipart/form-data")


def test_report_page_offers_category_icons_camera_and_map(client, seeded):
    sign_in(client, "resident")
    page = client.get("/r/report").get_data(as_text=True)
    assert "/static/icons/categories/E01.svg" in page and "/static/icons/categories/P06.svg" in page
    assert 'capture="environment"' in page and 'id="pick-map"' in page
    assert client.get("/static/icons/categories/E01.svg").status_code == 200
    grids = client.get("/geo/grids.json").get_json()
    assert {f["properties"]["code"] for f in grids["features"]} == {"510124001001001", "510124001001002"}
    assert client.get("/geo/grids.json?level=planet").status_code == 400


def test_report_with_photo_gives_a_receipt(client, seeded):
    sign_in(client, "resident")
    response = _report(client, photo=(io.BytesIO(jpeg()), "p.jpg"))
    assert response.status_code == 302
    key = response.headers["Location"].split("/")[3]
    case = db.session.execute(select(Case).where(Case.key == key)).scalar_one()
    assert (case.status, case.title, case.source_channel) == ("triage", "暴露垃圾", "resident")
    assert (
        db.session.execute(select(Attachment.kind).where(Attachment.case_id == case.id)).scalar_one()
        == "report"
    )
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert key in receipt and "待受理" in receipt
    assert key in client.get("/r/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lat": "91"}, "lat"),
        ({"lon": ""}, "location"),
        ({"category_code": "X1"}, "category_code"),
        ({"category_code": "E9999"}, "category_code"),
        ({"description": "", "category_code": ""}, "title"),
        ({"photo": (io.BytesIO(b"GIF89a not a photo"), "x.gif")}, "photo"),
    ],
)
def test_bad_reports_name_the_field_and_write_nothing(client, seeded, fields, field):
    sign_in(client, "resident")
    before = fingerprint()
    response = _report(client, **fields)
    assert response.status_code in (413, 415, 422)
    page = response.get_data(as_text=True)
    assert 'class="field-error"' in page or field == "category_code"
    assert "请检查标出的内容" in page
    assert fingerprint() == before


def test_report_needs_csrf(client, seeded):
    sign_in(client, "resident")
    before = fingerprint()
    response = client.post("/r/report", data={"category_code": "E0102", "description": "x y"})
    assert response.status_code == 400
    assert fingerprint() == before


def test_who_may_report(client, seeded):
    sign_in(client, "supervisor")
    assert client.get("/r/report").status_code == 403
    client2 = client.application.test_client()
    sign_in(client2, "worker")
    assert _report(client2).status_code == 302  # grid workers report what they find on patrol


def _reported_and_dispatched(client, seeded):
    sign_in(client, "resident")
    key = _report(client).headers["Location"].split("/")[3]
    walk_to(seeded["api"], seeded["auth"], key, "handle", hours=8)
    return key


def test_tracking_shows_progress_without_people(client, seeded):
    key = _reported_and_dispatched(client, seeded)
    response = client.get(f"/r/track?key={key.lower()}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    main = page.split("<main", 1)[1]
    assert "已上报" in main and "已受理" in main and "已派遣" in main and "处置中" in main
    assert main.count('class="step done') == 3
    for name in ("worker", "dispatcher", "resident", "supervisor"):
        assert name not in main


def test_tracking_someone_elses_case_is_like_an_unknown_number(client, seeded):
    key = _reported_and_dispatched(client, seeded)
    other = client.application.test_client()
    sign_in(other, "resident2")
    hidden = other.get(f"/r/track?key={key}")
    unknown = other.get("/r/track?key=GC-2026-999999")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_data(as_text=True).replace(key, "K") == unknown.get_data(as_text=True).replace(
        "GC-2026-999999", "K"
    )
    assert other.get(f"/r/cases/{key}/receipt").status_code == 404


def test_rejected_case_shows_the_reason(client, seeded):
    sign_in(client, "resident")
    key = _report(client).headers["Location"].split("/")[3]
    from tests.helpers import complete

    complete(
        seeded["api"],
        seeded["auth"],
        "dispatcher",
        key,
        "triage",
        {"triage_decision": "reject", "reject_reason": "不属于受理范围"},
    )
    page = client.get(f"/r/track?key={key}").get_data(as_text=True)
    assert "不予受理" in page and "不属于受理范围" in page


def test_my_reports_lists_only_mine(client, seeded):
    sign_in(client, "resident")
    key = _report(client).headers["Location"].split("/")[3]
    other = client.application.test_client()
    sign_in(other, "resident2")
    assert key not in other.get("/r/").get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 1
