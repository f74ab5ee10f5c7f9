"""The role × grid × page matrix: every page, every kind of user, and what each may see.

One file per page area (``<area>.py`` in this folder) defines ``seed(world)`` and ``pages(world)``; the test
(``tests/web/test_page_matrix.py``) seeds the shared world once per area, signs every person of ``PEOPLE`` in
through the login form, opens every page as each of them and as an anonymous visitor, and reports every
disagreement at once. See README.md here for how to add an area.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.cases.territory import COMMUNITY, DISTRICT, EAST_GRID, WEST_GRID

# (username, role, grid code or None, unit code or None). Two grids side by side (east, west) in one
# community of one district: tests/cases/territory.py.
PEOPLE: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("resident", "resident", None, None),
    ("resident2", "resident", None, None),
    ("worker", "grid_worker", EAST_GRID, None),
    ("worker_west", "grid_worker", WEST_GRID, None),
    ("leader_west", "grid_leader", WEST_GRID, None),
    ("community", "community_staff", COMMUNITY, None),
    ("dispatcher", "dispatcher", DISTRICT, None),
    ("handler", "department_handler", None, "water"),
    ("mediator", "mediator", DISTRICT, None),
    ("supervisor", "supervisor", DISTRICT, None),
    ("designer", "designer", None, None),
    ("admin", "admin", None, None),
)
EVERYONE: frozenset[str] = frozenset(username for username, *_ in PEOPLE)


def role_of(username: str) -> str:
    return next(role for name, role, *_ in PEOPLE if name == username)


def with_roles(*roles: str) -> frozenset[str]:
    """The people of ``PEOPLE`` who hold one of ``roles``."""
    return frozenset(name for name, role, *_ in PEOPLE if role in roles)


@dataclass
class World:
    """The seeded app, an API client with ``auth(username)`` for seeding, and what each area seeded."""

    app: Flask
    client: FlaskClient
    auth: Callable[[str], dict[str, str]]
    refs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page (a GET) and who may open it.

    - ``allowed``: the people answered 200 (everyone else in ``PEOPLE`` is refused);
    - ``refused``: the status everyone else gets: 403 for an area the role may not enter, 404 for a thing
      outside the user's scope (the same answer as for a thing that does not exist); a mapping gives it per
      person, with the key ``"*"`` for the rest;
    - ``shows`` / ``hides``: for a person answered 200, text the page must contain / must not contain (a list
      shows only what that person may see: name the things of another grid in ``hides``).
    Anonymous visitors are always sent to sign in (a 302 to /login).
    """

    path: str
    allowed: Iterable[str]
    refused: int | Mapping[str, int] = 403
    shows: Mapping[str, Iterable[str]] = field(default_factory=dict)
    hides: Mapping[str, Iterable[str]] = field(default_factory=dict)

    def expected_status(self, username: str) -> int:
        if username in set(self.allowed):
            return 200
        if isinstance(self.refused, int):
            return self.refused
        return self.refused.get(username, self.refused["*"])
