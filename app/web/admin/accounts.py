"""Creating and editing a user from the console's forms: the same services as the API and the command line
(``create_user`` with the password policy, ``update_user``, ``set_user_grids`` with its level rules,
``require_unit``), in one transaction. A refusal names each field in the page's language; the view rolls
back, so nothing is half-written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.auth import accounts
from app.auth.models import User
from app.auth.passwords import password_problems
from app.auth.roles import ALL_ROLES, Role
from app.auth.services import create_user
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.grids import members
from app.grids.codes import LEVEL_LABELS, LEVELS, code_problem, level_of
from app.grids.models import Grid
from app.units.services import unit_exists

# The grids the assignment list offers (compounds and buildings only when someone is assigned to one).
OFFERED_LEVELS = ("district", "street", "community", "grid")


class AccountRefused(Exception):
    """The form's fields that were refused, each with the page's words."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


@dataclass(frozen=True)
class AccountForm:
    username: str = ""
    display_name: str = ""
    role: str = ""
    unit_code: str | None = None
    password: str = ""
    grids: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, form: MultiDict[str, str]) -> AccountForm:
        codes = [code.strip() for value in form.getlist("grids") for code in value.replace(",", " ").split()]
        return cls(
            username=form.get("username", "").strip()[:200],
            display_name=form.get("display_name", "").strip()[:200],
            role=form.get("role", "").strip(),
            unit_code=form.get("unit_code", "").strip() or None,
            password=form.get("password", "")[:400],
            grids=list(dict.fromkeys(code for code in codes if code)),
        )

    @classmethod
    def of(cls, user: User) -> AccountForm:
        return cls(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            unit_code=user.unit_code,
            grids=members.user_grid_codes(user),
        )


def _levels_words(role: str) -> str:
    allowed = members.ASSIGNABLE_LEVELS.get(role, frozenset())
    return "、".join(LEVEL_LABELS[level] for level in LEVELS if level in allowed)


def _field_checks(form: AccountForm, *, new: bool) -> dict[str, str]:
    """What the page can tell before calling the services, every field at once."""
    errors: dict[str, str] = {}
    if form.role not in ALL_ROLES:
        errors["role"] = _("Choose one of the listed roles.")
    if not form.display_name and not new:
        errors["display_name"] = _("Give the person's name.")
    elif len(form.display_name) > accounts.MAX_DISPLAY_NAME:
        errors["display_name"] = _("At most %(n)s characters.", n=accounts.MAX_DISPLAY_NAME)
    if form.unit_code is not None and not unit_exists(form.unit_code):
        errors["unit_code"] = _("Choose one of the listed units.")
    if new:
        username_ok = (
            0 < len(form.username) <= 64 and form.username.replace("_", "").replace("-", "").isalnum()
        )
        if not username_ok:
            errors["username"] = _("1 to 64 letters, digits, '_' or '-'.")
        problems = password_problems(form.password, form.username)
        if problems:
            errors["password"] = "；".join(problems)
    grid_error = _grid_problem(form)
    if grid_error:
        errors["grids"] = grid_error
    return errors


def _grid_problem(form: AccountForm) -> str | None:
    if not form.grids or form.role not in ALL_ROLES:
        return None
    malformed = [code for code in form.grids if code_problem(code) is not None]
    if malformed:
        return _("Not a grid code: %(codes)s.", codes=", ".join(malformed))
    allowed = members.ASSIGNABLE_LEVELS.get(form.role)
    if allowed is None:
        return _("This role is not assigned to grids: leave the grids empty.")
    wrong = [code for code in form.grids if level_of(code) not in allowed]
    if wrong:
        return _(
            "This role is assigned to a %(levels)s only: %(codes)s do not fit.",
            levels=_levels_words(form.role),
            codes=", ".join(wrong),
        )
    known = set(db.session.execute(select(Grid.code).where(Grid.code.in_(form.grids))).scalars())
    unknown = [code for code in form.grids if code not in known]
    if unknown:
        return _("No grid has the code %(codes)s.", codes=", ".join(unknown))
    return None


def _service_refusal(exc: InvalidInput | Conflict) -> AccountRefused:
    """A refusal only the services saw (a username taken meanwhile, a rule the page does not repeat)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if isinstance(exc, Conflict):
        return AccountRefused({"username": _("This username is taken.")})
    errors = {str(name): str(message) for name, message in details.items()}
    return AccountRefused(errors or {"username": exc.message})


def create_account(actor: User, form: AccountForm) -> User:
    """A new active user with their grids; ``AccountRefused`` naming every refused field."""
    errors = _field_checks(form, new=True)
    if not errors and db.session.execute(select(User.id).where(User.username == form.username)).first():
        errors["username"] = _("This username is taken.")
    if errors:
        raise AccountRefused(errors)
    try:
        user = create_user(
            form.username, form.password, form.role, form.display_name or None, form.unit_code, actor=actor
        )
        if form.grids:
            members.set_user_grids(user, form.grids, actor=actor)
    except (InvalidInput, Conflict) as exc:
        raise _service_refusal(exc) from exc
    return user


def edit_account(actor: User, user: User, form: AccountForm) -> bool:
    """Change the user's name, role, unit and grids together; whether anything changed."""
    errors = _field_checks(form, new=False)
    if form.role != user.role and user.id == actor.id:
        errors["role"] = _("You cannot change your own role.")
    if errors:
        raise AccountRefused(errors)
    before_grids = members.user_grid_codes(user)
    try:
        changed = accounts.update_user(
            user, actor, role=form.role, display_name=form.display_name, unit_code=form.unit_code
        )
        after = members.set_user_grids(user, form.grids, actor=actor)
    except (InvalidInput, Conflict) as exc:
        raise _service_refusal(exc) from exc
    return bool(changed) or sorted(g.code for g in after) != before_grids


def grid_options(user: User | None) -> list[tuple[str, str, str]]:
    """(code, name, level) the assignment list offers: down to grid level, and the user's own grids."""
    own = members.user_grid_codes(user) if user is not None else []
    rows = db.session.execute(
        select(Grid.code, Grid.name, Grid.level)
        .where((Grid.level.in_(OFFERED_LEVELS)) | (Grid.code.in_(own)))
        .order_by(Grid.code)
    )
    return [(code, name, level) for code, name, level in rows]


def role_choices() -> list[str]:
    return [role.value for role in Role]


def assignable_levels() -> dict[str, Any]:
    """role → the level names its grids may have (the form's hint)."""
    return {role: _levels_words(role) for role in members.ASSIGNABLE_LEVELS}
