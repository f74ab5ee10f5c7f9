"""children: running emergencies and campaigns converted to child instances (helper: children, issue #19)

An emergency or an inspection campaign started before the child layout runs its responders / places as the
branches of one multi-instance activity inside its own state. This revision converts each one standing at
that activity into the new layout (``app.workflow.relayout``): a child instance per unfinished branch with
the branch's very state (waiting task, due times, escalation), its human tasks re-pointed to the child, the
join counting the ones left, the parent on the new version of its diagram (deployed from ``bpmn/`` here if
it is not yet). Instances not yet at the activity move to the new version; those past it keep theirs.
Audited (``instance.relayout``, ``instance.started``). No schema change.

All or nothing: when an instance cannot be converted safely (a branch parked with an incident) the upgrade
stops, lists those instances and converts none. The way out (docs/engine.md): repair or terminate them, or
leave them on their version with ``GRIDCASE_KEEP_OLD_LAYOUT=<id>,<id> flask db upgrade``;
``flask instances children-layout`` lists what the upgrade would do.

The conversion runs the app's engine code: the stored state is SpiffWorkflow's, which only the engine reads.

Revision ID: c7d8e9f0a1b2
Revises: 5a7c9e1b3d4f
Create Date: 2026-12-06 09:00:00.000000

"""

import os
from contextlib import contextmanager

from alembic import op

# revision identifiers, used by Alembic.
revision = "c7d8e9f0a1b2"
down_revision = "5a7c9e1b3d4f"
branch_labels = None
depends_on = None


@contextmanager
def _app_session_on(connection):
    """The app's ``db.session`` working in this migration's connection and transaction (SQLite allows one
    writer: a second connection would wait for this one)."""
    from sqlalchemy.orm import Session

    from app.extensions import db

    session = Session(bind=connection, autoflush=True)
    db.session.remove()
    db.session.registry.set(session)
    try:
        yield session
        session.flush()
    finally:
        session.close()
        db.session.registry.clear()


def _kept():
    listed = os.environ.get("GRIDCASE_KEEP_OLD_LAYOUT", "")
    return {int(part) for part in listed.replace(" ", "").split(",") if part}


def upgrade():
    from app.workflow import relayout

    with _app_session_on(op.get_bind()):
        report = relayout.convert_all(keep=_kept())
    if report.converted or report.migrated:
        print(
            f"children: {len(report.converted)} instance(s) converted ({report.children} child instances), "
            f"{len(report.migrated)} moved to the new version, {len(report.kept)} kept"
        )


def downgrade():
    # Converted instances stay converted: the previous revision's code runs the child layout too.
    pass
