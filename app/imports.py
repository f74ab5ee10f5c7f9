"""All-or-nothing file imports (units, places, grids, devices): one reader for CSV/JSON rows, what a rejected
row looks like, the report of an import, the error that carries it, and how the CLI prints it. Each import
checks every row first and writes nothing if any is rejected."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from app.errors import InvalidInput


@dataclass(frozen=True)
class ImportRow:
    """One row of an import file, as read (numbered like its rejections)."""

    row: int  # CSV: the line number (header = 1); JSON: the position in the list, from 0
    values: dict[str, Any]


def decode_text(raw: bytes) -> str:
    """An uploaded file's text: UTF-8, a byte-order mark tolerated (spreadsheets write one)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("not a UTF-8 file", {"file": str(exc)}) from exc


def read_rows(
    raw: bytes,
    file_format: str,
    *,
    items: str,
    required: Sequence[str],
    columns: Sequence[str] | None = None,
) -> list[ImportRow]:
    """Rows of a CSV file (header first, cells stripped) or of a JSON file (a list of objects, or
    ``{items: [...]}``). A CSV header must name every ``required`` column and, if ``columns`` is given,
    no other."""
    text = decode_text(raw)
    if file_format == "csv":
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        problems = []
        if missing := [name for name in required if name not in header]:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if columns is not None and (unknown := [name for name in header if name not in columns]):
            problems.append(f"unknown column(s): {', '.join(unknown)}; columns: {', '.join(columns)}")
        if problems:
            raise InvalidInput("bad CSV header", {"file": "; ".join(problems)})
        return [
            ImportRow(reader.line_num, {k: (v.strip() if isinstance(v, str) else v) for k, v in r.items()})
            for r in reader
        ]
    if file_format == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput("not a JSON file", {"file": str(exc)}) from exc
        found = data.get(items) if isinstance(data, dict) else data
        if not isinstance(found, list):
            raise InvalidInput("bad JSON", {"file": f'expected a list of {items} or {{"{items}": [...]}}'})
        return [ImportRow(i, item if isinstance(item, dict) else {"": item}) for i, item in enumerate(found)]
    raise InvalidInput("unknown format", {"format": f"{file_format!r}: expected csv or json"})


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

    @property
    def rejected_rows(self) -> int:
        return len({r.row for r in self.rejected})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected_rows": self.rejected_rows,
            "rejected": [r.as_dict() for r in self.rejected],
        }


class ImportRejected(InvalidInput):
    """At least one row failed a check; nothing was written. ``details`` is the whole report. ``position``
    says where a rejection is in the file, for the CLI: "row {}", "line {}", "feature #{}"."""

    def __init__(self, report: ImportReport, noun: str, position: str = "row {}") -> None:
        super().__init__(
            f"{report.rejected_rows} of {report.rows} {noun} rejected; nothing was imported", report.as_dict()
        )
        self.report = report
        self.position = position


def echo_rejections(error: ImportRejected) -> None:
    """The CLI's account of a refused import: one line per rejected field, on stderr."""
    for rejection in error.report.rejected:
        click.echo(
            f"rejected {error.position.format(rejection.row)} {rejection.code or '(no code)'} "
            f"[{rejection.field}]: {rejection.reason}",
            err=True,
        )
    sys.stderr.flush()
