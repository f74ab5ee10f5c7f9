"""The Alembic revision of frozen forms on existing data (SQLite and PostgreSQL, built by the real
migrations): every deployed version freezes the forms in forms/ as they are, its tasks get them, and the
deployment's hash is what deploying the same diagram computes now, so a redeploy is no new version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import JSON, bindparam, text

from app.extensions import db
from app.workflow import form_versions
from app.workflow.forms import FormRegistry
from tests.test_migrations import database_at

BEFORE = "d4e5f6a7b8c9"  # the revision before form versions
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """A database at the revision before form versions, on each backend."""
    with database_at(BEFORE, request.param, tmp_path) as app:
        yield app


def _insert(sql: str, **params: object) -> None:
    json_params = [bindparam(name, type_=JSON) for name in ("tasks",) if name in params]
    db.session.execute(text(sql).bindparams(*json_params), params)


def test_existing_deployments_and_tasks_get_todays_forms_frozen(old_database: Flask) -> None:
    user_tasks = [
        {
            "element_id": "review",
            "name": "核查",
            "lane": None,
            "properties": {"formJsonSchemaFilename": "review.schema.json"},
        },
        {
            "element_id": "gone",
            "name": "旧",
            "lane": None,
            "properties": {"formJsonSchemaFilename": "gone.schema.json"},
        },
    ]
    for definition_id, key in ((1, "p_one"), (2, "p_two")):
        _insert(
            "INSERT INTO process_definition (id, key, name, version, content_hash, file_name, kind, bpmn_xml,"
            " spec_document, user_tasks, start_messages, deployed_at)"
            " VALUES (:id, :key, :key, 1, :hash, :file, 'bpmn', '<x/>', '{}', :tasks, '[]', :now)",
            id=definition_id,
            key=key,
            hash=f"{definition_id:064d}",
            file=f"{key}.bpmn",
            tasks=user_tasks,
            now=NOW,
        )
    _insert(
        "INSERT INTO process_definition (id, key, name, version, content_hash, file_name, kind, bpmn_xml,"
        " spec_document, user_tasks, start_messages, deployed_at)"
        " VALUES (3, 'grading', 'grading', 1, :hash, 'grading.dmn', 'dmn', '<x/>', '{}', '[]', '[]', :now)",
        hash="3" * 64,
        now=NOW,
    )
    _insert(
        "INSERT INTO process_instance (id, definition_id, process_key, status, state, started_at, updated_at)"
        " VALUES (1, 2, 'p_two', 'running', '', :now, :now)",
        now=NOW,
    )
    for task_id, element, form in ((1, "review", "review.schema.json"), (2, "gone", "gone.schema.json")):
        _insert(
            "INSERT INTO human_task (id, instance_id, spiff_task_id, element_id, name, form_key,"
            " candidate_roles, status, created_at)"
            " VALUES (:id, 1, :spiff, :element, :element, :form, ',supervisor,', 'ready', :now)",
            id=task_id,
            spiff=f"00000000-0000-0000-0000-00000000000{task_id}",
            element=element,
            form=form,
            now=NOW,
        )
    db.session.commit()

    upgrade()

    registry = FormRegistry(Path(old_database.extensions["gridcase.settings"].forms_folder))
    review = (registry.load("review.schema.json"), registry.ui_schema("review.schema.json"))
    rows = db.session.execute(text("SELECT id, name, version, content_hash FROM form_version")).all()
    assert [(name, version) for _, name, version, _ in rows] == [("review.schema.json", 1)]
    assert rows[0].content_hash == form_versions.content_hash(*review)
    links = db.session.execute(
        text("SELECT definition_id, form_name, form_version_id FROM process_definition_form ORDER BY 1")
    ).all()
    assert [tuple(link) for link in links] == [
        (1, "review.schema.json", rows[0].id),
        (2, "review.schema.json", rows[0].id),
    ]
    hashes = dict(db.session.execute(text("SELECT id, frozen_hash FROM process_definition")).all())
    # what a deploy computes today for the same forms (the gone form cannot be frozen: not part of it)
    assert hashes[1] == hashes[2] == form_versions.frozen_hash({"review.schema.json": review})
    assert hashes[3] == form_versions.frozen_hash({})
    tasks = dict(db.session.execute(text("SELECT id, form_version_id FROM human_task")).all())
    assert tasks == {1: rows[0].id, 2: None}  # the gone form's task keeps reading the file, as before
