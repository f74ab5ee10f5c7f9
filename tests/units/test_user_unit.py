"""A user's unit must exist: checked by units (require_unit) where a unit code comes from outside."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.units.services import ensure_units

ARGS = ["create-user", "gas1", "--role", "department_handler", "--password", "gas-password", "--unit", "gas"]


def test_create_user_command_refuses_an_unknown_unit(app):
    result = app.test_cli_runner().invoke(args=ARGS)
    assert result.exit_code == 2
    assert "unknown unit" in result.output and "no unit with code 'gas'" in result.output
    assert db.session.execute(select(User).where(User.username == "gas1")).first() is None

    ensure_units([{"code": "gas", "name": "郫都燃气公司", "kind": "gas"}])
    db.session.commit()
    result = app.test_cli_runner().invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    assert "created gas1 (department_handler)" in result.output
    user = db.session.execute(select(User).where(User.username == "gas1")).scalar_one()
    assert user.unit_code == "gas"
