"""A campaign's checklist: checked when launched, and turned into the inspection forms.

The form files (``forms/inspection_inspect.schema.json``, ``forms/inspection_reinspect.schema.json``) accept
any item under ``results``; for a task of a campaign the schema names exactly that campaign's items, each
required (``app.tasks.services.register_form_builder``), so the form shows them and refuses a missing or an
unknown item."""

from __future__ import annotations

import copy
import re
from typing import Any

from sqlalchemy import select

from app.errors import InvalidInput
from app.extensions import db
from app.inspections.models import Campaign, campaign_instance
from app.workflow.models import HumanTask

INSPECTION_FORMS = ("inspection_inspect.schema.json", "inspection_reinspect.schema.json")
MAX_ITEMS = 50
MAX_TITLE = 200
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def normalise(raw: Any) -> list[dict[str, str]]:
    """``[{"key", "title"}, …]`` from a list of titles or of ``{"key"?, "title"}``; a missing key becomes
    ``item_<n>``. 422 naming the checklist (and the item) when empty, too long, or malformed."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("empty checklist", {"checklist": "must list at least one check item"})
    if len(raw) > MAX_ITEMS:
        raise InvalidInput("checklist too long", {"checklist": f"at most {MAX_ITEMS} check items"})
    items: list[dict[str, str]] = []
    problems: dict[str, str] = {}
    for index, entry in enumerate(raw):
        where = f"checklist.{index}"
        if isinstance(entry, str):
            entry = {"title": entry}
        if not isinstance(entry, dict) or set(entry) - {"key", "title"}:
            problems[where] = 'expected a title or {"key", "title"}'
            continue
        title = entry.get("title")
        key = entry.get("key") or f"item_{index + 1}"
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            problems[f"{where}.title"] = f"required, 1-{MAX_TITLE} characters"
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            problems[f"{where}.key"] = "1-40 lowercase letters, digits or '_', starting with a letter"
        elif key in {item["key"] for item in items}:
            problems[f"{where}.key"] = f"{key!r} appears twice"
        if isinstance(title, str) and f"{where}.title" not in problems and f"{where}.key" not in problems:
            items.append({"key": key, "title": title.strip()})
    if problems:
        raise InvalidInput("invalid checklist", problems)
    return items


def failed_keys(checklist: list[dict[str, Any]], results: dict[str, Any]) -> list[str]:
    """The checklist keys marked ``fail`` (in checklist order): any one fails the inspection."""
    return [item["key"] for item in checklist if (results.get(item["key"]) or {}).get("result") == "fail"]


def _schema_with_items(base: dict[str, Any], checklist: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    schema = copy.deepcopy(base)
    results = schema["properties"]["results"]
    results["properties"] = {key: {"$ref": "#/$defs/check", "title": title} for key, title in checklist}
    results["required"] = [key for key, _ in checklist]
    results["additionalProperties"] = False
    return schema


def campaign_schema(task: HumanTask, base: dict[str, Any]) -> dict[str, Any]:
    """The inspection form of ``task``: ``base`` (the form file) with its campaign's check items."""
    checklist = db.session.execute(
        select(Campaign.checklist).where(Campaign.instance_id == campaign_instance(task.instance_id))
    ).scalar_one_or_none()
    if not checklist:
        return base
    return _schema_with_items(base, tuple((item["key"], item["title"]) for item in checklist))
