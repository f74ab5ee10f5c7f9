"""The shipped bpmn folder deployed for real once per test process and database kind, then replayed.

About 900 tests start from the whole folder deployed (``deployed``, ``deploy_bpmn_folder``): 30 documents
validated, their forms frozen and every version published, 0.1-0.2 s of CPU each time, the same rows each
time. The first deploy into a database that holds no definition yet is recorded (the rows it added to each
table); a later one into a database in the same state (no definition, form version or publication yet, the
same clock, folder and rules, nothing pending in the session) inserts those rows in one statement per table
and its audit events after the audit trail already there, and moves PostgreSQL's id sequences on as the
real inserts would. Anything else deploys for real. ``tests/test_deploy_replay.py`` checks that both give
the same database. Tests only: a production process deploys a folder once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Table, func, insert, select, text

from app import clock
from app.audit.models import AuditEvent
from app.audit.services import _PENDING
from app.extensions import db
from app.workflow import deploy

AUDIT = AuditEvent.__table__


@dataclass(frozen=True)
class _Recording:
    rows: dict[str, list[dict[str, Any]]]  # table name -> its rows after the deploy, in id order
    audit: list[dict[str, Any]]  # the deploy's audit events, without their ids


_recordings: dict[tuple[Any, ...], _Recording] = {}
_unrecordable: set[tuple[Any, ...]] = set()


def _tables() -> list[Table]:
    return [table for table in db.metadata.sorted_tables if table is not AUDIT]


def _counts() -> dict[str, int]:
    # one round trip: the row count of every table but the audit trail
    tables = _tables()
    query = " UNION ALL ".join(f"SELECT '{t.name}', COUNT(*) FROM {t.name}" for t in tables)
    return {name: count for name, count in db.session.execute(text(query)).all()}


def _files(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What the folder holds, as far as a change to it shows (a test may write to its own copy)."""
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    return tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files)


def _key() -> tuple[Any, ...]:
    settings = current_app.extensions["gridcase.settings"]
    rules = current_app.extensions["gridcase.deploy_rules"]()
    return (
        db.engine.dialect.name,
        _files(settings.bpmn_folder),
        _files(settings.forms_folder),  # what rules.form_exists looks in
        tuple(sorted(rules.operator_names)),
        tuple(sorted(rules.known_roles)),
        rules.required_user_task_properties,
        clock.now(),
    )


def _contents(names: list[str]) -> dict[str, list[dict[str, Any]]]:
    tables = {table.name: table for table in _tables()}
    contents = {}
    for name in names:
        table = tables[name]
        order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
        contents[name] = [dict(row) for row in db.session.execute(select(table).order_by(*order)).mappings()]
    return contents


def _session_is_clean() -> bool:
    session = db.session()
    return not (session.new or session.dirty or session.deleted or session.info.get(_PENDING))


def _replay(recording: _Recording) -> None:
    for table in _tables():
        rows = recording.rows.get(table.name)
        if rows:
            db.session.execute(insert(table), rows)
            if db.engine.dialect.name == "postgresql" and "id" in table.c:
                sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                db.session.execute(text(f"SELECT setval({sequence}, MAX(id)) FROM {table.name}"))
    if recording.audit:
        db.session.execute(insert(AUDIT), recording.audit)
    db.session.commit()


def _record(added_to: list[str], audit_before: int) -> _Recording:
    rows = _contents(added_to)
    added = select(AUDIT).where(AUDIT.c.id > audit_before).order_by(AUDIT.c.id)
    audit = [{k: v for k, v in row.items() if k != "id"} for row in db.session.execute(added).mappings()]
    return _Recording(rows, audit)


def deploy_shipped_folder() -> None:
    """Deploy every diagram of the app's bpmn folder with the app's rules and commit (replayed if it can)."""
    settings = current_app.extensions["gridcase.settings"]
    rules = current_app.extensions["gridcase.deploy_rules"]()
    counts = _counts() if _session_is_clean() else None
    key = _key() if counts is not None and counts["process_definition"] == 0 else None
    if key is None or key in _unrecordable:
        deploy.deploy_folder(settings.bpmn_folder, rules)
        db.session.commit()
        return
    recording = _recordings.get(key)
    if recording is not None and all(counts[name] == 0 for name in recording.rows):
        _replay(recording)
        return
    # Recorded only when the deploy added rows to empty tables alone (then they are its rows) and left the
    # rows of every other table as they were (read in full here, once per process and key).
    kept = [name for name, count in counts.items() if count]
    kept_before = _contents(kept)
    audit_before = db.session.execute(select(func.coalesce(func.max(AUDIT.c.id), 0))).scalar_one()
    deploy.deploy_folder(settings.bpmn_folder, rules)
    db.session.commit()
    after = _counts()
    added_to = [name for name in after if after[name] != counts[name]]
    if all(counts[name] == 0 for name in added_to) and _contents(kept) == kept_before:
        _recordings[key] = _record(added_to, audit_before)
    else:
        _unrecordable.add(key)  # not read in full again for this key
