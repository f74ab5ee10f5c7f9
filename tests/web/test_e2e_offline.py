"""The grid worker's phone app in the field (360 px, Chromium): the service worker keeps the task page, a
completion and its photo made offline wait in the phone's queue across a reload and are sent once when the
network returns; a photo whose answer was lost is sent again with its Idempotency-Key and stored once; 办结
waits for an upload; a 4000×3000 camera photo goes out under 600 KB, upright, with its EXIF time and place;
handle and photo proof are done in one visit."""

from __future__ import annotations

import io
import re
from functools import lru_cache
from typing import Any

from PIL import ExifTags, Image, ImageFilter
from PIL.TiffImagePlugin import IFDRational
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.models import Attachment, Case
from app.extensions import db
from app.idempotency import IdempotencyKey
from app.jobs import run_inline_jobs
from app.workflow.models import HumanTask, TaskStatus
from tests.helpers import jpeg
from tests.web.conftest import PHONE
from tests.web.seed import case_at_handle, seed_people

UPLOAD_LIMIT = 600 * 1024
KEPT_URLS = "caches.open('gridcase-m-v1').then(c => c.keys()).then(ks => ks.map(r => r.url))"


@lru_cache(maxsize=1)
def camera_jpeg() -> bytes:
    """What a phone camera writes: 4000×3000 pixels with texture (2-3 MB), held upright (EXIF Orientation 6:
    the pixels are stored sideways), with the capture time and GPS position in its EXIF."""
    width, height = 4000, 3000
    shapes = Image.effect_noise((width // 8, height // 8), 60).filter(ImageFilter.GaussianBlur(2))
    shapes = shapes.resize((width, height), Image.Resampling.BICUBIC)
    tile = Image.effect_noise((width // 4, height // 4), 18)  # the sensor's grain, tiled: quicker to make
    grain = Image.new("L", (width, height))
    for x in range(0, width, tile.width):
        for y in range(0, height, tile.height):
            grain.paste(tile, (x, y))
    light = Image.linear_gradient("L").resize((width, height))
    image = Image.merge(
        "RGB",
        (
            Image.blend(light, shapes, 0.5),
            Image.blend(shapes, grain, 0.3),
            Image.blend(light.transpose(Image.Transpose.FLIP_TOP_BOTTOM), grain, 0.2),
        ),
    )
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Test"
    exif.get_ifd(ExifTags.IFD.Exif)[36867] = "2026:12:06 10:15:30"  # DateTimeOriginal, China time
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2] = "N", (IFDRational(30, 1), IFDRational(45, 1), IFDRational(3204, 100))
    gps[3], gps[4] = "E", (IFDRational(103, 1), IFDRational(58, 1), IFDRational(1848, 100))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def _photo_posts(page: Any, task_id: int) -> list[int]:
    """The sizes of the photo uploads the page sent to the server (bytes of the multipart body)."""
    sizes: list[int] = []

    def seen(request: Any) -> None:
        if request.method == "POST" and request.url.split("?")[0].endswith(f"/m/tasks/{task_id}/photos"):
            sizes.append(len(request.post_data_buffer or b""))

    page.on("requestfinished", seen)
    return sizes


def _controlled_and_kept(page: Any, url: str) -> None:
    """Wait until the service worker controls the page and has kept it with its scripts."""
    page.evaluate("navigator.serviceWorker.ready")
    expect(page.locator("#complete-button")).to_be_visible()
    for _ in range(50):
        kept = page.evaluate(KEPT_URLS)
        if url in kept and any(k.split("?")[0].endswith("worker_task.js") for k in kept):  # fingerprinted
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the service worker did not keep {url}: {kept}")


def _pick_photo(page: Any, field: str, name: str = "camera.jpg", content: bytes | None = None) -> None:
    page.set_input_files(
        f"#photo-{field}",
        files=[{"name": name, "mimeType": "image/jpeg", "buffer": content or camera_jpeg()}],
    )


def test_offline_completion_with_a_photo_survives_a_reload(live_server, page_as, screenshot):
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        # an address and a description without a place to break a line: the page still fits 360 px
        key, task_id = case_at_handle(
            client,
            auth,
            address="郫都区望丛社区杜鹃雅居北门东侧第三个垃圾桶旁边的绿化带再往东二十米",
            description="照片见https://example.invalid/very/long/link/without/any/place/to/break/the/line",
        )

    page = page_as("worker", viewport=PHONE)
    sent = _photo_posts(page, task_id)
    task_url = f"{live_server.url}/m/tasks/{task_id}"
    page.goto(task_url)
    _controlled_and_kept(page, task_url)
    # everything fits a 360 px phone: nothing is wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.context.set_offline(True)
    page.check('#json-form input[type=radio][value="resolved"]')
    page.fill('#json-form textarea[name="root[handle_description]"]', "已清运,现场已清理干净")
    _pick_photo(page, "before_photos")
    item = page.locator('.photo-field[data-field="before_photos"] .picked li').last
    expect(item.locator(".photo-note")).to_have_text("已保存在手机上，联网后上传。")
    expect(item.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))  # the local picture, at once
    page.click("#complete-button")
    status = page.locator("#offline-status")
    expect(status).to_have_text("离线：已保存，联网后自动提交 (1 项待发送)")
    expect(page.locator("#complete-button")).to_be_disabled()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "offline")  # README's docs/screenshots/offline.png is this one

    # reloaded offline: the service worker answers with the kept page, the queue still holds the work
    response = page.reload()
    assert response is not None and response.from_service_worker
    expect(status).to_have_text("离线：已保存，联网后自动提交 (1 项待发送)")
    expect(page.locator("#complete-button")).to_have_text("已保存，待发送")
    expect(page.locator('.photo-field[data-field="before_photos"] .picked img[src^="blob:"]')).to_have_count(
        1
    )
    with live_server.app.app_context():
        assert db.session.get(HumanTask, task_id).status == TaskStatus.CLAIMED
        assert db.session.execute(select(func.count()).select_from(Attachment)).scalar_one() == 0

    # online again: the photo, then the completion, each once; the next task (photo proof) opens
    with page.expect_navigation(url=re.compile(r"/m/tasks/\d+$")):
        page.context.set_offline(False)
    with live_server.app.app_context():
        photo = db.session.execute(select(Attachment)).scalar_one()
        task = db.session.get(HumanTask, task_id)
        assert task.status == TaskStatus.COMPLETED and task.submitted_data["before_photos"] == [photo.id]
        completions = db.session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "task.completed", AuditEvent.entity_id == str(task_id))
        ).scalar_one()
        assert completions == 1
        assert db.session.execute(select(Case.status).where(Case.key == key)).scalar_one() == "feedback"
        # made small in the phone, upright (the EXIF orientation applied), the capture time and place kept
        assert (photo.width, photo.height) == (1440, 1920)
        assert photo.taken_at is not None and photo.taken_at.isoformat().startswith("2026-12-06T02:15:30")
        assert round(photo.gps_lat, 4) == 30.7589 and round(photo.gps_lon, 4) == 103.9718
    assert len(sent) == 1 and sent[0] < UPLOAD_LIMIT, sent
    # the completed task's kept page is forgotten: offline, its old form is not offered again
    for _ in range(50):
        if task_url not in page.evaluate(KEPT_URLS):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"{task_url} is still kept by the service worker")


def test_upload_holds_complete_a_lost_answer_is_resent_once_and_proof_follows(live_server, page_as):
    with live_server.app.app_context():
        client, auth = seed_people(live_server.app)
        key, task_id = case_at_handle(client, auth)

    page = page_as("worker", viewport=PHONE)
    page.goto(f"{live_server.url}/m/tasks/{task_id}")
    page.check('#json-form input[type=radio][value="resolved"]')
    page.fill('#json-form textarea[name="root[handle_description]"]', "已清运")

    # the upload is held on its way: 办结 waits, with a progress bar on the photo
    held: list[Any] = []
    photos_url = re.compile(rf"/m/tasks/{task_id}/photos")
    page.route(photos_url, lambda route: held.append(route))
    _pick_photo(page, "before_photos")
    item = page.locator('.photo-field[data-field="before_photos"] .picked li').last
    expect(item.locator("progress")).to_be_visible()
    button = page.locator("#complete-button")
    expect(button).to_be_disabled()
    expect(button).to_have_text("等待照片上传…")
    assert len(held) == 1

    # the server stores it, but its answer is lost on the way back: the photo stays queued with its key
    stored = held[0].fetch()
    assert stored.status == 201
    held[0].abort("connectionreset")
    page.unroute(photos_url)
    expect(button).to_be_enabled()
    first_key = held[0].request.headers["idempotency-key"]

    # the next load sends it again with the same key: the first answer comes back, nothing is stored twice
    with page.expect_response(photos_url) as resent:
        page.reload()
    assert resent.value.headers.get("idempotent-replayed") == "true"
    assert resent.value.request.headers["idempotency-key"] == first_key
    restored = page.locator('.photo-field[data-field="before_photos"] .picked input:checked')
    expect(restored).to_have_count(1)
    with live_server.app.app_context():
        photo = db.session.execute(select(Attachment)).scalar_one()
        assert restored.get_attribute("value") == str(photo.id)
        assert db.session.execute(select(func.count()).select_from(IdempotencyKey)).scalar_one() == 1

    # 办结, and the case's next task, 处置反馈, is this worker's: it opens in the same visit
    page.check('#json-form input[type=radio][value="resolved"]')
    page.fill('#json-form textarea[name="root[handle_description]"]', "已清运")
    with page.expect_navigation(url=re.compile(r"/m/tasks/\d+$")):
        button.click()
    expect(page.locator(".flash")).to_contain_text("下一步")
    _pick_photo(page, "after_photos", "after.jpg", jpeg(size=(800, 600)))  # small already: sent as it is
    after = page.locator('.photo-field[data-field="after_photos"] .picked input:checked')
    expect(after).to_have_attribute("value", re.compile(r"^\d+$"))  # sent: the server's id
    # shown from the phone at once; the server's thumbnail takes its place once the photos job made it
    picture = page.locator('.photo-field[data-field="after_photos"] .picked img')
    assert picture.get_attribute("src").startswith("blob:")
    with live_server.app.app_context():
        assert run_inline_jobs() >= 1  # what embedded mode's runner thread (stack mode: RQ) does
    expect(picture).to_have_attribute("src", re.compile(r"/content\?thumbnail=1$"), timeout=10_000)
    with page.expect_navigation(url=f"{live_server.url}/m/"):
        button.click()
    with live_server.app.app_context():
        assert db.session.execute(select(Case.status).where(Case.key == key)).scalar_one() == "review"
        kinds = db.session.execute(select(Attachment.kind).order_by(Attachment.id)).scalars().all()
        assert kinds == ["before", "after"]

    # signing out empties the pages kept on the phone: the next person sees none of them offline
    assert page.evaluate("caches.has('gridcase-m-v1')")
    with page.expect_navigation(url=re.compile(r"/login")):
        page.click("form.signout button")
    assert not page.evaluate("caches.has('gridcase-m-v1')")
