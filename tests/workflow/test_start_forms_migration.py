"""The Alembic revision of frozen start forms on existing data (SQLite and PostgreSQL, built by the real
migrations): a version deployed before start forms were frozen gets its start form frozen as forms/ holds it,
and the deployment's hash is what deploying the same diagram computes now, so a redeploy is no new version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select, text

from app.config import PROJECT_ROOT
from app.extensions import db
from app.workflow import deploy, form_versions
from app.workflow.form_version_models import DefinitionForm, FormVersion
from app.workflow.models import ProcessDefinition
from tests.test_migrations import database_at, revision_before

BEFORE = revision_before("5a7c9e1b3d4f")  # the revision before start forms were frozen
START_FORM = "visit_record.schema.json"
DIAGRAM = PROJECT_ROOT / "bpmn" / "visit_record.bpmn"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """A database at the revision before start forms were frozen, on each backend."""
    with database_at(BEFORE, request.param, tmp_path) as app:
        yield app


def _deployed_as_before(app: Flask) -> tuple[int, str]:
    """visit_record deployed as the code before this revision did: its task forms frozen, not its start
    form, and a frozen hash of the task forms only."""
    (result,) = deploy.deploy_file(
        DIAGRAM.name, DIAGRAM.read_bytes(), app.extensions["gridcase.deploy_rules"]()
    )
    definition = result.definition
    db.session.execute(
        text("DELETE FROM process_definition_form WHERE definition_id = :d AND form_name = :f"),
        {"d": definition.id, "f": START_FORM},
    )
    task_forms = [t["properties"]["formJsonSchemaFilename"] for t in definition.user_tasks]
    assert START_FORM not in task_forms
    contents = form_versions.current_contents(task_forms, app.extensions["gridcase.forms"])
    definition.frozen_hash = form_versions.frozen_hash(contents)
    deployed = (definition.id, definition.frozen_hash)
    db.session.commit()
    db.session.remove()  # the revision runs on a connection of its own
    return deployed


def test_a_deployed_start_form_is_frozen_and_a_redeploy_is_no_new_version(old_database: Flask) -> None:
    definition_id, old_hash = _deployed_as_before(old_database)

    upgrade()
    db.session.expire_all()

    linked = db.session.execute(
        select(FormVersion.name, FormVersion.schema)
        .join(DefinitionForm, DefinitionForm.form_version_id == FormVersion.id)
        .where(DefinitionForm.definition_id == definition_id, DefinitionForm.form_name == START_FORM)
    ).one()
    assert linked.schema == old_database.extensions["gridcase.forms"].load(START_FORM)
    stored = db.session.get(ProcessDefinition, definition_id)
    assert stored is not None and stored.frozen_hash != old_hash
    (again,) = deploy.deploy_file(
        DIAGRAM.name, DIAGRAM.read_bytes(), old_database.extensions["gridcase.deploy_rules"]()
    )
    assert not again.created and again.definition.id == definition_id
