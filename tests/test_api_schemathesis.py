"""The whole OpenAPI document, probed by schemathesis as an admin and as a grid worker: no server error, and
every answer (status, content type, headers, body) as the document describes it.

One test per operation and user, all against one app (module scope) with some data behind it: a case with
a photo, so ids and keys can exist. Bounded: a few generated requests per operation (``MAX_EXAMPLES``).
Each request carries a token the app accepts at that moment: the user's token is made once and made again
after an operation revoked it (sign-out, revoke, password change), so that does not turn the rest of the run
into 401s (a new token for every request cost 8 % of the run's CPU). (The document is read from an
app made at import; schemathesis' lazy fixture loader does not run on pytest 9.)"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from app.auth.models import User
from app.auth.services import create_user, issue_token, user_from_token
from app.clock import FrozenClock
from app.extensions import db
from tests.conftest import PASSWORD, START, _settings
from tests.factories import pushed
from tests.helpers import ensure_catalogue, report, upload_photo

MAX_EXAMPLES = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
USERS = {"admin": "admin", "worker": "grid_worker", "resident": "resident", "supervisor": "supervisor"}

_document_app = create_app(_settings("sqlite://", Path(tempfile.gettempdir()) / "gridcase-schemathesis"))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app)


@pytest.fixture(scope="module")
def contract_app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copy(sqlite_template, folder / "test.sqlite3")
    app = create_app(_settings(f"sqlite:///{folder / 'test.sqlite3'}", folder), clock=FrozenClock(START))
    app.config["TESTING"] = True
    with pushed(app):
        from tests.probes import deploy_bpmn_folder

        for username, role in USERS.items():
            create_user(username, PASSWORD, role)
        db.session.commit()
        deploy_bpmn_folder()
        ensure_catalogue()
        client = app.test_client()

        def auth(username: str) -> dict[str, str]:
            return _bearer(username)

        key = report(client, auth)["key"]
        upload_photo(client, auth, "resident", key, kind="report")
        yield app


_tokens: dict[str, str] = {}  # username -> the last token made for them (checked before each use)


def _bearer(username: str) -> dict[str, str]:
    token = _tokens.get(username)
    db.session.expire_all()  # what the last request changed (it ran in a session of its own)
    if token is None or user_from_token(token) is None:
        user = db.session.execute(db.select(User).where(User.username == username)).scalar_one()
        token, _row = issue_token(user)
        db.session.commit()
        _tokens[username] = token
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("username", ["admin", "worker"])
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_document_says(case: Any, username: str, contract_app: Flask) -> None:
    # Through WSGI schemathesis reads the raw body, where an HTTP client would undo Content-Encoding
    # first: ask for it uncompressed (compression has its own tests, tests/test_compression.py).
    headers = {**_bearer(username), "Accept-Encoding": "identity"}
    case.call_and_validate(headers=headers, checks=CHECKS, app=contract_app)
