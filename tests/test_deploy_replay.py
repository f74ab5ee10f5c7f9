"""The suite's replayed deploys of the shipped folder (tests/deploy_replay.py) give the database a real
deploy gives: the same rows in every table, the same audit events after the ones already there, and ids
that go on from the same place."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.services import create_user
from app.extensions import db
from app.workflow import deploy
from tests import deploy_replay
from tests.conftest import PASSWORD, AppFactory


def _everything() -> dict[str, list[dict]]:
    tables = [t.name for t in db.metadata.sorted_tables]
    contents = deploy_replay._contents([t for t in tables if t != "audit_event"])
    trail = select(AuditEvent.__table__).order_by(AuditEvent.id)  # PostgreSQL reuses deleted rows' space
    contents["audit_event"] = [dict(row) for row in db.session.execute(trail).mappings()]
    for user in contents["user_account"]:
        user.pop("password_hash")  # salted: never the same twice
    return contents


def _deployed_database(request, folder, *, replay: bool, backend: str) -> dict[str, list[dict]]:
    app = AppFactory(folder, request)(backend)
    with app.app_context():
        create_user("someone", PASSWORD, "resident")  # an audit event before the deploy's
        db.session.commit()
        if replay:
            deploy_replay.deploy_shipped_folder()
        else:
            deploy.deploy_folder(
                app.extensions["gridcase.settings"].bpmn_folder, app.extensions["gridcase.deploy_rules"]()
            )
            db.session.commit()
        # the next rows get the ids they would get after a real deploy
        create_user("after", PASSWORD, "resident")
        db.session.commit()
        contents = _everything()
        db.session.remove()
        db.engine.dispose()
    return contents


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_replayed_deploy_gives_the_database_a_real_one_gives(backend, request, tmp_path_factory):
    deploy_replay._recordings.clear()
    real = _deployed_database(request, tmp_path_factory.mktemp("real"), replay=False, backend=backend)
    recorded = _deployed_database(request, tmp_path_factory.mktemp("recorded"), replay=True, backend=backend)
    assert len(deploy_replay._recordings) == 1
    replayed = _deployed_database(request, tmp_path_factory.mktemp("replayed"), replay=True, backend=backend)
    assert len(real["process_definition"]) >= 10 and len(real["audit_event"]) > 10
    assert recorded == real
    assert replayed == real


def test_a_deploy_into_a_database_with_definitions_is_a_real_one(app, deployed, monkeypatch):
    real_deploys = []
    monkeypatch.setattr(deploy, "deploy_folder", lambda *args: real_deploys.append(args) or [])

    def refuse(recording):
        raise AssertionError("replayed into a database that has definitions")

    monkeypatch.setattr(deploy_replay, "_replay", refuse)
    recordings = dict(deploy_replay._recordings)
    deploy_replay.deploy_shipped_folder()
    assert len(real_deploys) == 1
    assert deploy_replay._recordings == recordings
