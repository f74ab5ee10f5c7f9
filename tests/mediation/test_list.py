"""GET /api/v1/disputes: the disputes you could open (the detail's rule), newest first, paged, filtered, and
each masked exactly as the detail masks it for you. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import Auth, fingerprint
from tests.mediation.flow import PERSONAL, file_dispute, intake, parties, view
from tests.mediation.territory import COMMUNITY_A, GRID_A2, GRID_B1, PEOPLE, STREET
from tests.mediation.test_privacy import json_has_none_of

pytestmark = pytest.mark.usefixtures("people", "deployed_mediation")

# What the detail shows and the list leaves out.
DETAIL_ONLY = ("description", "sessions", "documents")


@pytest.fixture
def disputes(client: FlaskClient, auth: Auth, clock: Any) -> dict[str, str]:
    """Three disputes, filed a minute apart:

    - ``a``: filed by the resident in GRID_A1, complex, with med1;
    - ``b``: filed by the resident in GRID_A2, urgent, with med2 (chosen over med1, with a reason);
    - ``c``: filed by the dispatcher in GRID_B1 (community B), parties living there, still at intake.
    """
    a = file_dispute(client, auth)["key"]
    intake(client, auth, a, grade="complex")  # → med1
    clock.advance(minutes=1)
    b = file_dispute(client, auth, grid_code=GRID_A2)["key"]
    intake(client, auth, b, grade="urgent", mediator_user="med2", override_reason="当事人要求更换调解员")
    clock.advance(minutes=1)
    c_parties = [{k: v for k, v in p.items() if k != "grid_code"} for p in parties()]
    c = file_dispute(client, auth, who="dispatcher", grid_code=GRID_B1, parties=c_parties)["key"]
    return {"a": a, "b": b, "c": c}


def listed(client: FlaskClient, auth: Auth, who: str, query: str = "", expect: int = 200) -> dict[str, Any]:
    response = client.get(f"/api/v1/disputes{query}", headers=auth(who))
    assert response.status_code == expect, (who, query, response.get_json())
    return response.get_json()  # type: ignore[no-any-return]


def keys(page: dict[str, Any]) -> list[str]:
    return [item["key"] for item in page["items"]]


def names(disputes: dict[str, str], *letters: str) -> list[str]:
    return [disputes[letter] for letter in letters]


def test_newest_first_in_pages_with_totals(client, auth, disputes):
    whole = listed(client, auth, "supervisor")
    assert keys(whole) == names(disputes, "c", "b", "a")
    assert (whole["page"], whole["page_size"], whole["total"], whole["pages"]) == (1, 20, 3, 1)
    first = listed(client, auth, "supervisor", "?page_size=2")
    second = listed(client, auth, "supervisor", "?page_size=2&page=2")
    assert keys(first) == names(disputes, "c", "b") and keys(second) == names(disputes, "a")
    assert [(p["page"], p["total"], p["pages"]) for p in (first, second)] == [(1, 3, 2), (2, 3, 2)]
    assert listed(client, auth, "supervisor", "?page=3&page_size=2")["items"] == []
    assert listed(client, auth, "supervisor", "?page_size=100")["total"] == 3


# The cases below only read (or, the bad queries, must change nothing): each list is checked case by case
# as subtests of one test per backend, over one seeded set of disputes.
FILTERS = [
    ("?status=intake", ("c",)),
    ("?status=mediating", ("b", "a")),
    ("?status=closed", ()),
    ("?grade=urgent", ("b",)),
    ("?grade=complex", ("a",)),
    ("?grade=simple", ()),
    ("?dispute_type=water_leak", ("c", "b", "a")),
    ("?dispute_type=noise", ()),
    ("?mediator=med1", ("a",)),
    ("?mediator=med2", ("b",)),
    ("?mediator=nobody", ()),  # a name that matches nobody is an empty page, not a probe for users
    (f"?grid={GRID_A2}", ("b",)),
    (f"?grid={COMMUNITY_A}", ("b", "a")),
    (f"?grid={STREET}", ("c", "b", "a")),
    (f"?grid={GRID_B1}", ("c",)),
    ("?status=mediating&grade=complex&mediator=med1", ("a",)),
    ("?status=intake&mediator=med1", ()),
    ("?q=%25", ()),  # a LIKE wildcard is a character like any other
]


def test_each_filter(client, auth, disputes, subtests):
    for query, expected in FILTERS:
        with subtests.test(query=query):
            page = listed(client, auth, "supervisor", query)
            assert keys(page) == names(disputes, *expected)
            assert page["total"] == len(expected)


def test_q_finds_part_of_the_case_key(client, auth, disputes):
    assert keys(listed(client, auth, "supervisor", f"?q={disputes['b']}")) == [disputes["b"]]
    assert keys(listed(client, auth, "supervisor", f"?q={disputes['a'][-4:].lower()}")) == [disputes["a"]]
    # The parties and the description are not searched: they are what the masking protects.
    assert listed(client, auth, "supervisor", "?q=张三")["total"] == 0


VISIBLE = [
    ("supervisor", ("c", "b", "a")),
    ("admin", ("c", "b", "a")),
    ("dispatcher", ("c", "b", "a")),
    ("med1", ("a",)),  # their own mediation
    ("med2", ("b",)),
    ("med_b", ()),  # community B's mediator: c is not theirs (yet)
    ("vol1", ()),
    ("worker", ("a",)),  # the grid of a's case
    ("worker_a2", ("b",)),
    ("worker_b", ("c",)),  # another community: none of a and b
    ("leader", ("a",)),
    ("community", ("b", "a")),
    ("community_b", ("c",)),
    ("street", ("c", "b", "a")),
    ("resident", ("b", "a")),  # what they filed, as the detail
]


def test_you_list_exactly_the_disputes_you_could_open(client, auth, disputes, subtests):
    for who, expected in VISIBLE:
        with subtests.test(who=who):
            page = listed(client, auth, who)
            assert keys(page) == names(disputes, *expected)
            assert page["total"] == len(expected)
            for key in disputes.values():
                view(client, auth, key, who, expect=200 if key in keys(page) else 404)
            # Filters narrow what you see; they never widen it.
            assert listed(client, auth, who, f"?grid={STREET}")["total"] == len(expected)
            assert listed(client, auth, who, f"?q={disputes['c']}")["total"] == int("c" in expected)


def test_every_item_is_masked_as_the_detail_masks_it_for_you(client, auth, disputes):
    seen = {}
    for who in PEOPLE:
        if who in ("handler", "designer"):
            continue
        for item in listed(client, auth, who)["items"]:
            detail = view(client, auth, item["key"], who)
            assert item == {k: v for k, v in detail.items() if k not in DETAIL_ONLY}, (who, item["key"])
            if item["redacted"]:
                assert json_has_none_of(item, PERSONAL), (who, item["key"])
            seen[(who, item["key"])] = item["redacted"]
    a, b, c = names(disputes, "a", "b", "c")
    # Whole for the mediator, supervisors and the parties' grid staff; masked for everyone else.
    for who, key in (("med1", a), ("med2", b), ("supervisor", a), ("worker", a), ("worker_a2", b)):
        assert seen[(who, key)] is False, (who, key)
    assert seen[("worker_b", c)] is False  # the parties live in the case's grid, GRID_B1
    for who, key in (("resident", a), ("community", b), ("dispatcher", c), ("admin", a), ("street", b)):
        assert seen[(who, key)] is True, (who, key)
    masked = next(i for i in listed(client, auth, "resident")["items"] if i["key"] == a)
    assert [(p["name"], p["phone"]) for p in masked["parties"]] == [
        ("张*", "138****5678"),
        ("李**", "139****4321"),
    ]
    assert not {"description", "sessions", "documents"} & set(masked)


def test_roles_with_no_part_in_mediation_are_refused(client, auth, disputes):
    for who in ("handler", "designer"):
        refused = listed(client, auth, who, expect=403)
        assert refused["error"] == "forbidden" and "role" in refused["details"], who


BAD_QUERIES = [
    ("?colour=red", "colour"),
    ("?per_page=10", "per_page"),
    ("?status=open", "status"),
    ("?grade=hard", "grade"),
    ("?dispute_type=feud", "dispute_type"),
    ("?grid=abc", "grid"),
    ("?grid=510124001001009", "grid"),  # well-formed, but no such grid
    ("?grid=5101240010", "grid"),  # no grid level has 10 digits
    ("?mediator=", "mediator"),
    ("?q=", "q"),
    ("?page=0", "page"),
    ("?page_size=0", "page_size"),
    ("?page_size=101", "page_size"),
    ("?page=two", "page"),
]


def test_bad_query_is_a_422_naming_the_key_and_changes_nothing(client, auth, disputes, subtests):
    for query, field in BAD_QUERIES:
        with subtests.test(query=query):
            before = fingerprint()
            refused = listed(client, auth, "supervisor", query, expect=422)
            assert field in refused["details"], refused
            if field in ("colour", "per_page"):
                assert refused["details"][field] == ["Unknown field."]
            assert fingerprint() == before
