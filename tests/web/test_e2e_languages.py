"""The resident's and the grid worker's pages walked in Chromium in zh-CN, then in English by the page's own
language switch: no English word in zh-CN (any run of Latin letters outside a short allow-list fails, so a
username shown where a name belongs fails too), no zh-CN interface word in English, people by their names,
and the server's and the page's validation messages in the page language."""

from __future__ import annotations

import re

from app.extensions import db
from tests.conftest import PASSWORD
from tests.helpers import jpeg, open_task, report, walk_to
from tests.web.conftest import PHONE
from tests.web.process_seed import seed

# Latin words a zh-CN page may show: the switch's own name, image formats, the map library's credit.
ALLOWED_LATIN = {"English", "JPEG", "PNG", "WebP", "Leaflet"}
# zh-CN interface words that must not survive the switch to English (data such as titles stays Chinese)
ZH_INTERFACE = (
    "待办",
    "认领",
    "办结",
    "退回",
    "此项必填",
    "请选择",
    "剩余",
    "类别",
    "状态",
    "上报",
    "进度",
    "退出",
)


def _latin_words(page):
    text = page.evaluate("document.body.innerText")
    return sorted({w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED_LATIN} - {"GC"})


def _zh_interface(page):
    text = page.evaluate("document.body.innerText")
    return [w for w in ZH_INTERFACE if w in text]


def _to_english(page):
    with page.expect_navigation():
        page.click(".lang-switch a[lang=en]")
    assert page.locator("html").get_attribute("lang") == "en"


def _api(app):
    client = app.test_client()

    def auth(username):
        token = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD}).get_json()
        return {"Authorization": f"Bearer {token['token']}"}

    return client, auth


def test_resident_and_worker_pages_in_both_languages(live_server, page_as, screenshot):
    app = live_server.app
    with app.app_context():
        seed(app, "resident", "worker", "dispatcher")
        client, auth = _api(app)
        key = report(client, auth, who="resident")["key"]
        walk_to(client, auth, key, "handle", hours=8)
        handle_id = open_task(key, "handle").id
        db.session.commit()

    # -- the resident, zh-CN: my reports, tracking, a refused report -----------------------------------
    resident = page_as("resident", viewport=PHONE)
    resident.goto(f"{live_server.url}/r/")
    assert _latin_words(resident) == [] and "刘居民" in resident.inner_text(".who")
    resident.goto(f"{live_server.url}/r/track?key={key}")
    assert "处置中" in resident.inner_text("#progress") and _latin_words(resident) == []
    resident.goto(f"{live_server.url}/r/report")
    # the photo's button speaks the page's language (not the browser's "Choose File"), the chosen name shown
    assert resident.inner_text(".file-choice label") == "拍照或选择照片"
    photo = {"name": "garbage.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}
    resident.set_input_files("#photo", files=[photo])
    assert resident.inner_text("#photo-names") == "garbage.jpg"
    resident.fill("#address", "锦绣花园北门")
    with resident.expect_navigation():
        resident.click("#report-form button[type=submit]")
    errors = resident.locator("#report-form .field-error").all_inner_texts()
    assert "请填写 2 至 120 字的标题,或描述问题。" in errors
    assert _latin_words(resident) == [], errors
    screenshot(resident, "languages_resident_report_zh")
    # ... and in English by the switch: the same refusal in English, no zh-CN interface word
    _to_english(resident)
    with resident.expect_navigation():
        resident.click("#report-form button[type=submit]")
    errors = resident.locator("#report-form .field-error").all_inner_texts()
    assert "Give a title of 2 to 120 characters, or describe the problem." in errors
    assert _zh_interface(resident) == []
    resident.goto(f"{live_server.url}/r/track?key={key}")
    assert "Being handled" in resident.inner_text("#progress") and _zh_interface(resident) == []

    # -- the grid worker, zh-CN: the inbox and the task, the page's own check -----------------------------
    worker = page_as("worker", viewport=PHONE)
    worker.goto(f"{live_server.url}/m/")
    row = worker.locator(f"li.task-row[data-task-id='{handle_id}']")
    assert row.locator(".task-name").inner_text() == "处置" and _latin_words(worker) == []
    row.locator(".task-name").click()
    worker.wait_for_url(f"**/m/tasks/{handle_id}")
    worker.locator("#json-form .form-field:visible").first.wait_for()
    assert worker.inner_text('.task-context [data-fact="assignee"]') == "张网格"
    worker.click("#complete-button")
    marked = worker.locator('#json-form [data-pointer="/handle_result"] > .field-error')
    marked.wait_for()
    assert marked.inner_text() == "此项必填"
    assert _latin_words(worker) == []
    screenshot(worker, "languages_worker_task_zh")
    # ... and in English: the task's English title, English checks, still the person's name
    _to_english(worker)
    worker.locator("#json-form .form-field:visible").first.wait_for()
    assert worker.inner_text("h1") == "Handle"
    assert worker.inner_text('.task-context [data-fact="assignee"]') == "张网格"
    worker.click("#complete-button")
    marked.wait_for()
    assert marked.inner_text() == "this field is required"
    assert _zh_interface(worker) == []
    screenshot(worker, "languages_worker_task_en")
    worker.goto(f"{live_server.url}/m/")
    assert worker.locator(f"li.task-row[data-task-id='{handle_id}'] .task-name").inner_text() == "Handle"
    assert _zh_interface(worker) == []
