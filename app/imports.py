"""All-or-nothing file imports (units, places): what a rejected row looks like, the report of an import,
the error that carries it, and how the CLI prints it. Each import checks every row first and writes
nothing if any is rejected."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import click

from app.errors import InvalidInput


@dataclass(frozen=True)
class RowRejection:
    row: int  # CSV: the line number (header = 1); JSON: the position in the list, from 0
    code: str | None
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "code": self.code, "field": self.field, "reason": self.reason}


@dataclass
class ImportReport:
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowRejection] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected_rows": len({r.row for r in self.rejected}),
            "rejected": [r.as_dict() for r in self.rejected],
        }


class ImportRejected(InvalidInput):
    """At least one row failed a check; nothing was written. ``details`` is the whole report."""

    def __init__(self, report: ImportReport, noun: str) -> None:
        rejected_rows = len({r.row for r in report.rejected})
        super().__init__(
            f"{rejected_rows} of {report.rows} {noun} rejected; nothing was imported", report.as_dict()
        )
        self.report = report


def echo_rejections(error: ImportRejected) -> None:
    """The CLI's account of a refused import: one line per rejected field, on stderr."""
    for rejection in error.report.rejected:
        click.echo(
            f"rejected row {rejection.row} {rejection.code or '(no code)'} "
            f"[{rejection.field}]: {rejection.reason}",
            err=True,
        )
    sys.stderr.flush()
