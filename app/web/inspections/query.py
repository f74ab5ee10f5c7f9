"""The lists' filters from the query string: each filter's allowed values, the page number. A malformed
value is dropped (the list shows everything for it) and reported beside its field in zh-CN (422)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from app.grids.codes import MAX_CODE_LENGTH

_GRID = re.compile(rf"^\d{{6,{MAX_CODE_LENGTH}}}$")
TEXT_LENGTH = 80


@dataclass
class ListQuery:
    values: dict[str, str] = field(default_factory=dict)
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        return self.values.get(name)

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string of this list with ``changes`` (None drops one); page 1 is left out."""
        merged: dict[str, Any] = {**self.values, "page": self.page, **changes}
        return {k: v for k, v in merged.items() if v not in (None, "") and not (k == "page" and v == 1)}


def _problem(name: str, raw: str, allowed: tuple[str, ...] | None) -> str | None:
    if allowed is not None:
        return None if raw in allowed else _("Choose one of the listed values.")
    if name == "grid":
        return None if _GRID.fullmatch(raw) else _("Choose a grid from the list.")
    return None if len(raw) <= TEXT_LENGTH else _("At most %(n)s characters.", n=TEXT_LENGTH)


def list_query(args: Mapping[str, str], **filters: tuple[str, ...] | None) -> ListQuery:
    """``filters``: name → allowed values (None: a grid code for ``grid``, else free text)."""
    query = ListQuery()
    for name, allowed in filters.items():
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        problem = _problem(name, raw, allowed)
        if problem:
            query.errors[name] = problem
        else:
            query.values[name] = raw
    raw_page = args.get("page") or "1"
    if raw_page.isdigit() and int(raw_page) >= 1:
        query.page = int(raw_page)
    else:
        query.errors["page"] = _("Choose one of the listed values.")
    return query
