"""The category catalogue: the shipped data file, its validation (all or nothing), the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.categories import services
from app.categories.models import Category
from app.errors import InvalidInput
from app.extensions import db
from app.timelimits.calendar import TimeLimit
from app.units.models import UNIT_KINDS
from tests.helpers import fingerprint

GOOD_CLASS = {
    "code": "E01",
    "name": "市容环境",
    "name_en": "City appearance",
    "default_severity": "yellow",
    "responsible_level": "grid",
    "handle_limit": "1wd",
    "close_limit": "5wd",
    "process_key": "case_handling",
}
GOOD_SUB = {
    **GOOD_CLASS,
    "code": "E0102",
    "name": "暴露垃圾",
    "name_en": "Exposed garbage",
    "handle_limit": "4wh",
    "close_limit": "2wd",
}


def _write(tmp_path: Path, *entries: Any) -> Path:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"categories": list(entries)}, ensure_ascii=False), encoding="utf-8")
    return path


def _count() -> int:
    return db.session.execute(select(func.count()).select_from(Category)).scalar_one()


# -- the shipped catalogue ---------------------------------------------------------------------------


def test_the_shipped_catalogue_loads_and_is_complete(app):
    report = services.sync_catalogue()
    db.session.commit()
    assert report.total == _count() >= 60
    assert len(report.created) == report.total and report.updated == [] and report.unchanged == 0
    garbage = services.get_category("E0102")
    assert garbage is not None
    assert (garbage.name, garbage.kind, garbage.parent_code) == ("暴露垃圾", "event", "E01")
    assert (garbage.handle_limit, garbage.responsible_level) == ("4wh", "grid")
    structure = services.get_category("E0101")
    assert (structure.name, structure.handle_limit, structure.close_limit) == ("私搭乱建", "4wh", "20wd")
    cover = services.get_category("P0101")
    assert (cover.name, cover.kind, cover.responsible_level, cover.responsible_unit_kind) == (
        "上水井盖",
        "part",
        "unit",
        "water",
    )
    names = {c.code: c.name for c in db.session.execute(select(Category)).scalars()}
    for code, name in {
        "E01": "市容环境",
        "E0103": "积存垃圾渣土",
        "E0104": "道路不洁",
        "E0105": "水域不洁",
        "E0106": "绿地脏乱",
        "E02": "宣传广告",
        "E03": "施工管理",
        "E04": "突发事件",
        "E05": "街面秩序",
        "E1001": "停水",
        "E1002": "停电",
        "E1003": "停气",
        "E1101": "独居老人关怀",
        "E1201": "邻里纠纷",
        "P01": "公用设施",
        "P0102": "污水井盖",
        "P0104": "燃气井盖",
        "P0105": "消防栓",
        "P0106": "路灯",
        "P02": "道路交通",
        "P03": "市容环境",
        "P04": "园林绿化",
        "P05": "房屋土地",
        "P06": "其他设施",
    }.items():
        assert names[code] == name
    for category in db.session.execute(select(Category)).scalars():
        TimeLimit.parse(category.handle_limit)
        TimeLimit.parse(category.close_limit)
        assert category.parent_code is None or category.parent_code in names
        assert category.process_key == "case_handling"
        assert category.responsible_unit_kind is None or category.responsible_unit_kind in UNIT_KINDS
        assert category.name_en
    imported = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "categories.imported")
    ).scalar_one()
    assert imported.data["created"] == report.total


def test_loading_twice_changes_nothing(app):
    services.sync_catalogue()
    db.session.commit()
    before = fingerprint()
    report = services.sync_catalogue()
    db.session.commit()
    assert report.unchanged == report.total and not report.created and not report.updated
    assert fingerprint() == before  # no second audit event either


def test_a_changed_entry_is_updated(app, tmp_path):
    services.sync_catalogue(_write(tmp_path, GOOD_CLASS, GOOD_SUB))
    db.session.commit()
    report = services.sync_catalogue(_write(tmp_path, GOOD_CLASS, {**GOOD_SUB, "handle_limit": "2wh"}))
    db.session.commit()
    assert report.updated == ["E0102"] and report.unchanged == 1
    assert services.get_category("E0102").handle_limit == "2wh"


# -- bad input: a clear error naming the code and the field, nothing written ---------------------------


@pytest.mark.parametrize(
    ("bad", "code", "field", "message"),
    [
        ({**GOOD_SUB, "handle_limit": None}, "E0102", "handle_limit", "required"),
        ({k: v for k, v in GOOD_SUB.items() if k != "close_limit"}, "E0102", "close_limit", "required"),
        ({**GOOD_SUB, "handle_limit": "4 weeks"}, "E0102", "handle_limit", "bad time limit '4 weeks'"),
        ({**GOOD_SUB, "close_limit": "0wd"}, "E0102", "close_limit", "greater than 0"),
        ({**GOOD_SUB, "process_key": "no_such_process"}, "E0102", "process_key", "unknown process key"),
        (
            {**GOOD_SUB, "responsible_level": "unit", "responsible_unit_kind": "plumbers"},
            "E0102",
            "responsible_unit_kind",
            "unknown unit kind 'plumbers'",
        ),
        (
            {**GOOD_SUB, "responsible_level": "unit"},
            "E0102",
            "responsible_unit_kind",
            "required when responsible_level is 'unit'",
        ),
        ({**GOOD_SUB, "code": "E0901"}, "E0901", "code", "its class E09"),
        ({**GOOD_SUB, "default_severity": "purple"}, "E0102", "default_severity", "'purple'"),
        ({**GOOD_SUB, "responsible_level": "city"}, "E0102", "responsible_level", "'city'"),
        ({**GOOD_SUB, "name": "  "}, "E0102", "name", "non-blank"),
        ({**GOOD_SUB, "code": "0102"}, "#1", "code", "not a category code"),
        ({**GOOD_SUB, "kind": "part"}, "E0102", "kind", "does not match"),
        ({**GOOD_SUB, "colour": "red"}, "E0102", "fields", "unknown field(s) colour"),
        (GOOD_CLASS, "E01", "code", "duplicate"),
    ],
)
def test_a_bad_entry_rejects_the_whole_file(app, tmp_path, bad, code, field, message):
    services.sync_catalogue(_write(tmp_path, {**GOOD_CLASS, "code": "P01", "name": "公用设施"}))
    db.session.commit()
    before = fingerprint()
    path = _write(tmp_path, GOOD_CLASS, bad, {**GOOD_SUB, "code": "E0103", "name": "积存垃圾渣土"})
    with pytest.raises(InvalidInput) as caught:
        services.sync_catalogue(path)
    db.session.rollback()
    assert "nothing was imported" in caught.value.message
    assert code in caught.value.message
    problems = caught.value.details
    assert field in problems[code], problems
    assert message in problems[code][field]
    assert fingerprint() == before
    assert services.get_category("E01") is None  # the good entries of the file were not written either


def test_every_problem_is_listed(app, tmp_path):
    path = _write(
        tmp_path,
        GOOD_CLASS,
        {**GOOD_SUB, "handle_limit": "soon"},
        {**GOOD_SUB, "code": "P0101", "process_key": "nope"},
    )
    with pytest.raises(InvalidInput) as caught:
        services.sync_catalogue(path)
    assert set(caught.value.details) == {"E0102", "P0101"}
    assert set(caught.value.details["P0101"]) == {"code", "process_key"}  # no class P01, unknown process


def test_not_a_catalogue(app, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        services.sync_catalogue(path)
    assert "file" in caught.value.details
    with pytest.raises(InvalidInput) as caught:
        services.sync_catalogue(_write(tmp_path))
    assert "categories" in caught.value.details


def test_a_deployed_process_key_is_known(app, tmp_path, deployed):
    from app.workflow.models import ProcessDefinition

    definition = db.session.execute(select(ProcessDefinition)).scalars().first()
    definition.key = "renamed_process"  # as if deployed from a file that is not in the bpmn folder
    db.session.commit()
    services.sync_catalogue(_write(tmp_path, {**GOOD_CLASS, "process_key": "renamed_process"}))
    assert services.get_category("E01").process_key == "renamed_process"


# -- CLI ---------------------------------------------------------------------------------------------


def test_cli_import_and_export(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["categories", "import"])
    assert result.exit_code == 0, result.output
    assert f"{_count()} created, 0 updated, 0 unchanged" in result.output
    result = runner.invoke(args=["categories", "import"])
    assert "0 created, 0 updated" in result.output

    out = tmp_path / "export.json"
    result = runner.invoke(args=["categories", "export", "-o", str(out)])
    assert result.exit_code == 0, result.output
    exported = json.loads(out.read_text(encoding="utf-8"))["categories"]
    shipped = json.loads(services.CATALOGUE_PATH.read_text(encoding="utf-8"))["categories"]
    assert exported == sorted(shipped, key=lambda e: e["code"])


def test_cli_import_of_a_bad_file_lists_the_problems(app, tmp_path):
    path = _write(tmp_path, GOOD_CLASS, {**GOOD_SUB, "handle_limit": "whenever"})
    result = app.test_cli_runner().invoke(args=["categories", "import", str(path)])
    assert result.exit_code == 2
    assert "rejected E0102 [handle_limit]" in result.output
    assert "nothing was imported" in result.output
    assert _count() == 0


# -- API ---------------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(app: Any, users: Any, auth: Any) -> None:
    services.sync_catalogue()
    db.session.commit()
    for username in users:
        auth(username)


def test_anyone_signed_in_reads_the_catalogue(client, auth, catalogue):
    response = client.get("/api/v1/categories?page_size=100", headers=auth("resident"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == _count()
    assert body["items"][0]["code"] == "E01"
    response = client.get("/api/v1/categories?parent=E01", headers=auth("worker"))
    assert [c["code"] for c in response.get_json()["items"]] == [
        "E0101",
        "E0102",
        "E0103",
        "E0104",
        "E0105",
        "E0106",
    ]
    response = client.get("/api/v1/categories?kind=part&parent=&page_size=100", headers=auth("worker"))
    assert [c["code"] for c in response.get_json()["items"]] == ["P01", "P02", "P03", "P04", "P05", "P06"]
    response = client.get("/api/v1/categories?q=井盖", headers=auth("worker"))
    assert {c["code"] for c in response.get_json()["items"]} == {"P0101", "P0102", "P0103", "P0104"}
    response = client.get("/api/v1/categories?page=2&page_size=5", headers=auth("worker"))
    assert response.get_json()["page"] == 2 and len(response.get_json()["items"]) == 5
    one = client.get("/api/v1/categories/E0102", headers=auth("handler")).get_json()
    assert one["name"] == "暴露垃圾" and one["handle_limit"] == "4wh" and one["active"] is True
    assert client.get("/api/v1/categories/E0999", headers=auth("worker")).status_code == 404
    assert client.get("/api/v1/categories").status_code == 401
    bad = client.get("/api/v1/categories?kind=other", headers=auth("worker"))
    assert bad.status_code == 422 and "kind" in bad.get_json()["details"]


@pytest.mark.parametrize("who", ["resident", "worker", "dispatcher", "supervisor", "designer", "handler"])
def test_only_admins_change_the_catalogue(client, auth, catalogue, who):
    before = fingerprint()
    new = {**GOOD_SUB, "code": "E0107", "name": "焚烧垃圾"}
    assert client.post("/api/v1/categories", json=new, headers=auth(who)).status_code == 403
    assert client.put("/api/v1/categories/E0102", json=GOOD_SUB, headers=auth(who)).status_code == 403
    patch = client.patch("/api/v1/categories/E0102", json={"handle_limit": "2wh"}, headers=auth(who))
    assert patch.status_code == 403
    assert client.delete("/api/v1/categories/E0102", headers=auth(who)).status_code == 403
    assert fingerprint() == before


def _audit(action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        .scalars()
        .all()
    )


def test_admins_create_change_and_deactivate(client, auth, catalogue):
    new = {**GOOD_SUB, "code": "E0107", "name": "焚烧垃圾", "name_en": "Burning rubbish"}
    response = client.post("/api/v1/categories", json=new, headers=auth("admin"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["parent_code"] == "E01"
    assert [e.entity_id for e in _audit("category.created")] == ["E0107"]
    assert _audit("category.created")[0].actor_label == "admin"

    response = client.patch("/api/v1/categories/E0107", json={"handle_limit": "2wh"}, headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["handle_limit"] == "2wh"
    updated = _audit("category.updated")[-1]
    assert updated.before["handle_limit"] == "4wh" and updated.after["handle_limit"] == "2wh"

    response = client.put(
        "/api/v1/categories/E0107", json={**new, "default_severity": "orange"}, headers=auth("admin")
    )
    assert response.status_code == 200 and response.get_json()["default_severity"] == "orange"

    response = client.delete("/api/v1/categories/E0107", headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert [e.entity_id for e in _audit("category.deactivated")] == ["E0107"]
    listed = client.get("/api/v1/categories?parent=E01", headers=auth("worker")).get_json()["items"]
    assert "E0107" not in [c["code"] for c in listed]
    listed = client.get("/api/v1/categories?parent=E01&include_inactive=true", headers=auth("admin"))
    assert "E0107" in [c["code"] for c in listed.get_json()["items"]]
    reported = client.post(
        "/api/v1/cases", json={"title": "焚烧垃圾", "category_code": "E0107"}, headers=auth("resident")
    )
    assert reported.status_code == 422 and "category_code" in reported.get_json()["details"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/categories", {**GOOD_SUB, "code": "E0107", "handle_limit": "soon"}, "handle_limit"),
        ("post", "/api/v1/categories", {**GOOD_SUB, "code": "E0902"}, "code"),
        ("post", "/api/v1/categories", {**GOOD_SUB}, "code"),  # exists already
        ("post", "/api/v1/categories", {**GOOD_SUB, "code": "E0107", "process_key": "x"}, "process_key"),
        ("post", "/api/v1/categories", {**GOOD_SUB, "code": "E0107", "close_limit": None}, "close_limit"),
        ("patch", "/api/v1/categories/E0102", {"close_limit": "3 days"}, "close_limit"),
        ("patch", "/api/v1/categories/E0102", {"responsible_level": "unit"}, "responsible_unit_kind"),
        ("patch", "/api/v1/categories/E0102", {"responsible_unit_kind": "plumbers"}, "responsible_unit_kind"),
        ("put", "/api/v1/categories/E0102", {**GOOD_SUB, "code": "E0103"}, "code"),
        ("put", "/api/v1/categories/E0102", {"name": "暴露垃圾"}, "handle_limit"),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(client, auth, catalogue, method, path, body, field):
    before = fingerprint()
    response = getattr(client, method)(path, json=body, headers=auth("admin"))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["details"], response.get_json()
    assert fingerprint() == before
