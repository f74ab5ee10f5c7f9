"""Every form in forms/ drawn in Chromium (generated: one test per file, so a new form cannot regress): an
input for every property, optional and conditional ones included (conditional ones after choosing the value
that reveals them), and a server validation error marked on the field it names, with its zh-CN message.

The forms are drawn by the form preview (/m/forms/<name>), the same template and script as the task page;
its "server check only" button sends the data without the page's checks, and the test swaps one field's
value for one of the wrong type on the way, so the server (not the page) refuses it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.config import PROJECT_ROOT
from tests.web.conftest import PHONE

FORMS = sorted(p.name for p in (PROJECT_ROOT / "forms").glob("*.schema.json"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def _schema(name: str) -> dict[str, Any]:
    return json.loads((PROJECT_ROOT / "forms" / name).read_text(encoding="utf-8"))


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_resolve(root["$defs"][ref.split("/")[-1]], root), **schema}
    return schema


def _branches(schema: dict[str, Any]) -> list[tuple[dict[str, Any], set[str]]]:
    """The object's conditionals (own and under ``allOf``): the ``if`` consts, and the fields their
    ``then`` requires that are not always required (the page shows those only in that branch)."""
    found = []
    always = set(schema.get("required", []))
    for part in [schema, *schema.get("allOf", [])]:
        condition = part.get("if") or {}
        consts = {n: p["const"] for n, p in condition.get("properties", {}).items() if "const" in p}
        if consts and "then" in part:
            found.append((consts, set(part["then"].get("required", [])) - always))
    return found


def _choose(page: Any, pointer: str, value: Any) -> None:
    box = page.locator(f'[data-pointer="{pointer}"]')
    radio = box.locator(f'input[type=radio][value="{value}"]')
    if radio.count():
        radio.check()
    else:
        box.locator("select").first.select_option(json.dumps(value))


def _assert_inputs(page: Any, schema: dict[str, Any], root: dict[str, Any], prefix: str) -> int:
    """Every property of ``schema`` under ``prefix`` has a visible field box holding an input (for lists
    and maps: after pressing its "add" button). Returns how many were checked."""
    checked = 0
    branches = _branches(schema)
    conditional = set().union(*(revealed for _, revealed in branches))
    for name in conditional:  # before their branch is chosen, conditional fields wait hidden
        assert not page.locator(f'[data-pointer="{prefix}/{name}"]').is_visible(), f"{prefix}/{name} shown"
    for consts, revealed in [({}, set()), *branches]:
        for name, value in consts.items():
            _choose(page, f"{prefix}/{name}", value)
        for name, prop in schema.get("properties", {}).items():
            if name in conditional and name not in revealed:
                continue
            prop = _resolve(prop, root)
            box = page.locator(f'[data-pointer="{prefix}/{name}"]')
            assert box.count() == 1, f"{prefix}/{name}: no field"
            hidden_widget = box.locator("input[type=hidden]").count() == 1
            assert hidden_widget or box.is_visible(), f"{prefix}/{name}: not shown after choosing {consts}"
            entry = prop.get("additionalProperties")
            if prop.get("type") == "object" and isinstance(entry, dict) and not prop.get("properties"):
                box.locator(":scope > button").click()  # a map of entries: one entry, then its fields
                checked += _assert_inputs(page, _resolve(entry, root), root, f"{prefix}/{name}/*")
                continue
            if prop.get("type") == "object":
                checked += _assert_inputs(page, prop, root, f"{prefix}/{name}")
                continue
            photo_picker = box.evaluate("n => n.classList.contains('photo-field')")  # camera and thumbnails
            if prop.get("type") == "array" and not photo_picker:
                box.locator(":scope > button").click()
            assert box.locator("input, select, textarea").count() >= 1, f"{prefix}/{name}: no input"
            checked += 1
    return checked


def _wrong_type(prop: dict[str, Any]) -> Any:
    return "x" if prop.get("type") in ("integer", "number", "array", "object") else 12345


@pytest.mark.parametrize("form", FORMS)
def test_every_property_has_an_input_and_server_errors_mark_their_field(
    form, live_server, users_live, page_as, screenshot
):
    schema = _schema(form)
    page = page_as("admin1", viewport=PHONE)
    page.goto(f"{live_server.url}/m/forms/{form}")
    page.locator("#json-form .form-field").first.wait_for()
    assert page.locator("#form-heading").inner_text() == schema["title"]
    assert "root" not in page.locator("#json-form").inner_text()  # no json-editor "root" switcher
    assert _assert_inputs(page, schema, schema, "") >= len(schema["properties"])
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # fits the phone

    # the server refuses one field (a value of the wrong type, swapped in on the way): that field is marked
    name, prop = next(
        (n, p) for n, p in schema["properties"].items() if not p.get("readOnly") and n not in ("lat", "lon")
    )

    def tamper(route: Any) -> None:
        body = json.loads(route.request.post_data)
        body["data"][name] = _wrong_type(_resolve(prop, schema))
        route.continue_(post_data=json.dumps(body))

    page.route(f"**/m/forms/{form}/check", tamper)
    with page.expect_response(f"**/m/forms/{form}/check") as answer:
        page.click("#server-check-button")
    assert answer.value.status == 422
    errors = answer.value.json()["errors"]
    said = [e["message"] for e in errors if e["pointer"] == f"/{name}"]
    assert said and CJK.search(said[0]), errors  # the server's own message, in zh-CN
    marked = page.locator(f'[data-pointer="/{name}"] > .field-error')
    marked.wait_for()
    assert said[0] in marked.inner_text()
    assert page.locator(f'[data-pointer="/{name}"]').evaluate("n => n.classList.contains('has-error')")
    assert page.locator("#form-error").is_visible()
    screenshot(page, f"form_{Path(form).name.removesuffix('.schema.json')}")
