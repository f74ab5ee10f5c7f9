"""The API keeps its contract on edge input (issue #18 item 4): integers past a database INTEGER are a 422
naming the field (a 404 for path ids), ``%`` and ``_`` in searches mean themselves, a position is both
``lat`` and ``lon`` or neither. On SQLite and PostgreSQL: overflow and LIKE escaping are the database's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.categories.models import Category
from app.extensions import db
from app.inputs import INT_MAX
from tests.factories import app_on_both_backends
from tests.helpers import ensure_catalogue, fingerprint, report
from tests.web.pages import PageClient, sign_in

app = app_on_both_backends

HUGE = (2**63, 10**20, INT_MAX + 1)
PATH_PARAM = re.compile(r"\{([^}]+)\}")


@pytest.fixture
def admin(users: dict[str, Any], auth: Any) -> dict[str, str]:
    return auth("admin")  # type: ignore[no-any-return]


def _openapi(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json", headers=headers)
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def _is_integer(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or schema.get("items", {}).get("type") == "integer"


def _fill(path: str, params: dict[str, dict[str, Any]], value: Any = None, name: str | None = None) -> str:
    """``path`` with ``name`` set to ``value`` and every other path parameter to a plausible value."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == name:
            return str(value)
        return "1" if _is_integer(params.get(key, {}).get("schema", {})) else "x"

    return "/api/v1" + PATH_PARAM.sub(one, path.removeprefix("/api/v1"))


def _operations(
    spec: dict[str, Any],
) -> list[tuple[str, str, dict[str, dict[str, Any]], list[dict[str, Any]]]]:
    found = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameters = shared + operation.get("parameters", [])
            path_params = {p["name"]: p for p in parameters if p["in"] == "path"}
            query_params = [p for p in parameters if p["in"] == "query"]
            found.append((path, method, path_params, query_params))
    return found


def test_every_integer_query_parameter_and_path_id_is_bounded(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    spec = _openapi(client, admin)
    operations = _operations(spec)
    path_ids = [
        (p, m, params, n)
        for p, m, params, _ in operations
        for n, q in params.items()
        if _is_integer(q["schema"])
    ]
    query_ints = [
        (p, params, q["name"])
        for p, m, params, query in operations
        if m == "get"
        for q in query
        if _is_integer(q["schema"])
    ]
    assert len(path_ids) >= 5 and len(query_ints) >= 20, (len(path_ids), len(query_ints))  # the sweep sweeps
    before = fingerprint()
    for path, method, params, name in path_ids:
        for value in HUGE:
            url = _fill(path, params, value, name)
            response = client.open(url, method=method.upper(), headers=admin, json={})
            # A path id out of range names nothing that exists: 404, as for any id that is not there.
            assert response.status_code == 404, (method, url, response.get_json())
            assert set(response.get_json()) == {"error", "message", "details"}
    for path, params, name in query_ints:
        for value in HUGE:
            response = client.get(_fill(path, params), query_string={name: str(value)}, headers=admin)
            assert response.status_code == 422, (path, name, value, response.get_json())
            body = response.get_json()
            assert name in body["details"] and name in body["message"], body
            assert "must be between" in str(body["details"][name])
    assert fingerprint() == before


def test_the_openapi_document_gives_the_bounds(client: FlaskClient, admin: dict[str, str]) -> None:
    spec = _openapi(client, admin)
    attachment = spec["paths"]["/api/v1/attachments/{attachment_id}"]
    params = attachment.get("parameters", []) + attachment["get"].get("parameters", [])
    (path_id,) = [p for p in params if p["name"] == "attachment_id"]
    assert path_id["schema"]["maximum"] == INT_MAX
    (page,) = [p for p in spec["paths"]["/api/v1/cases"]["get"]["parameters"] if p["name"] == "page"]
    assert page["schema"]["maximum"] == INT_MAX and page["schema"]["minimum"] == 1


def test_an_integer_in_a_body_past_the_range_is_a_422_naming_it(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    before = fingerprint()
    response = client.post(
        "/api/v1/emergencies/x/updates", json={"note": "到场", "attachment_ids": [2**63]}, headers=admin
    )
    assert response.status_code == 422, response.get_json()
    assert "attachment_ids" in response.get_json()["details"]
    assert fingerprint() == before


def test_the_last_integer_is_still_accepted(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.get("/api/v1/cases", query_string={"page": str(INT_MAX)}, headers=admin)
    assert response.status_code == 200 and response.get_json()["items"] == []
    assert client.get(f"/api/v1/attachments/{INT_MAX}", headers=admin).status_code == 404


# -- search text is literal ------------------------------------------------------------------------


def test_percent_and_underscore_in_a_case_search_match_themselves(
    client: FlaskClient, auth: Any, users: dict[str, Any], deployed: None
) -> None:
    percent = report(client, auth, title="达标率100%的小区")
    underscore = report(client, auth, title="路灯编号A_12损坏")
    report(client, auth, title="垃圾满溢")
    headers = auth("admin")

    def keys(q: str) -> set[str]:
        response = client.get("/api/v1/cases", query_string={"q": q}, headers=headers)
        assert response.status_code == 200, response.get_json()
        return {item["key"] for item in response.get_json()["items"]}

    assert keys("%") == {percent["key"]}
    assert keys("_") == {underscore["key"]}
    assert keys("100%") == {percent["key"]}
    assert keys("A_1") == {underscore["key"]}
    assert keys("A%1") == set() and keys("\\") == set()
    assert client.get("/api/v1/cases", headers=headers).get_json()["total"] == 3


def test_percent_and_underscore_in_a_category_search_match_themselves(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    ensure_catalogue()
    db.session.commit()
    rows = db.session.execute(select(Category)).scalars().all()

    def codes(q: str) -> set[str]:
        response = client.get("/api/v1/categories", query_string={"q": q, "page_size": 100}, headers=admin)
        assert response.status_code == 200, response.get_json()
        return {item["code"] for item in response.get_json()["items"]}

    def literal(text: str) -> set[str]:
        lowered = text.lower()
        return {
            c.code
            for c in rows
            if c.active and any(lowered in (v or "").lower() for v in (c.code, c.name, c.name_en))
        }

    assert len(rows) > 20
    assert codes("%") == literal("%")
    assert codes("_") == literal("_")
    assert codes("E01") == literal("E01") and codes("E01")


# -- a position is both numbers or neither -----------------------------------------------------------


@pytest.mark.parametrize(("given", "missing"), [({"lat": 30.7589}, "lon"), ({"lon": 103.9718}, "lat")])
def test_a_report_with_half_a_position_is_a_422_naming_the_missing_one(
    client: FlaskClient,
    auth: Any,
    users: dict[str, Any],
    deployed: None,
    given: dict[str, float],
    missing: str,
) -> None:
    ensure_catalogue()
    db.session.commit()
    headers = auth("resident")
    before = fingerprint()
    body = {"title": "井盖缺失", "category_code": "P0101", **given}
    response = client.post("/api/v1/cases", json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    details = response.get_json()["details"]
    assert list(details) == [missing] and "missing" in str(details[missing])
    assert fingerprint() == before


@pytest.mark.parametrize(("given", "missing"), [({"lat": 30.7589}, "lon"), ({"lon": 103.9718}, "lat")])
def test_an_emergency_with_half_a_position_is_a_422_naming_the_missing_one(
    client: FlaskClient, admin: dict[str, str], given: dict[str, float], missing: str
) -> None:
    before = fingerprint()
    response = client.post("/api/v1/emergencies", json={"plan_code": "gas_leak", **given}, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert missing in response.get_json()["details"]
    assert fingerprint() == before


# -- pages take the same numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(("who", "path"), [("worker", "/m/"), ("resident", "/r/")])
def test_a_page_number_past_the_range_is_an_empty_page_not_a_500(
    app: Any, users: dict[str, Any], who: str, path: str
) -> None:
    app.test_client_class = PageClient
    browser = app.test_client()
    sign_in(browser, who)
    for value in HUGE:
        response = browser.get(path, query_string={"page": str(value)})
        assert response.status_code == 200, (path, value, response.status_code)
    assert browser.get(f"/m/tasks/{2**63}").status_code == 404
