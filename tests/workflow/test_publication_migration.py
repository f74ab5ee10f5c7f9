"""The Alembic revision of drafts and publications on existing data (SQLite, built by the real migrations):
every deploy went live at once until now, so the newest version of every key is published and the older
ones are history (a rollback goes back to the version before)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.workflow import deploy, publication
from tests.conftest import _settings

BEFORE = "e1f2a3b4c5d6"  # the revision before publications
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(_settings(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
    with app.app_context():
        upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        db.engine.dispose()


def test_the_newest_version_of_every_key_is_published_and_the_older_ones_are_history(
    old_database: Flask,
) -> None:
    # Deployed out of order on purpose: the version, not the id, says which is the newest.
    rows = [
        (1, "p_one", 2, "bpmn"),
        (2, "p_one", 1, "bpmn"),
        (3, "p_two", 1, "bpmn"),
        (4, "grading", 1, "dmn"),
    ]
    for definition_id, key, version, kind in rows:
        db.session.execute(
            text(
                "INSERT INTO process_definition (id, key, name, version, content_hash, frozen_hash,"
                " file_name, kind, bpmn_xml, spec_document, user_tasks, start_messages, deployed_at)"
                " VALUES (:id, :key, :key, :version, :hash, :hash, :file, :kind, '<x/>', '{}', '[]', '[]',"
                " :now)"
            ),
            {
                "id": definition_id,
                "key": key,
                "version": version,
                "hash": f"{definition_id:064d}",
                "file": f"{key}.{kind}",
                "kind": kind,
                "now": NOW,
            },
        )
    db.session.commit()

    upgrade()

    assert deploy.published_definition("p_one").id == 1
    assert deploy.published_definition("p_two").id == 3
    assert publication.current("grading", "dmn").id == 4  # type: ignore[union-attr]
    assert publication.statuses("p_one") == {1: publication.PUBLISHED, 2: publication.HISTORY}
    assert publication.rollback_target("p_one").id == 2  # type: ignore[union-attr]
    published_at = db.session.execute(
        text("SELECT published_at FROM process_publication LIMIT 1")
    ).scalar_one()
    assert str(published_at).startswith("2026-11-02 09:00")
