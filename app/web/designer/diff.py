"""A unified diff of two versions' XML, as rows the page renders with one CSS class per kind of line."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

RowKind = Literal["file", "hunk", "add", "del", "ctx"]
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffRow:
    kind: RowKind
    text: str
    old_line: int | None = None  # line number in version a (deleted and context lines)
    new_line: int | None = None  # line number in version b (added and context lines)


@dataclass(frozen=True)
class XmlDiff:
    rows: list[DiffRow]
    added: int
    removed: int

    @property
    def identical(self) -> bool:
        return not self.rows


def xml_diff(old: str, new: str, old_label: str, new_label: str, context: int = 3) -> XmlDiff:
    """``difflib.unified_diff`` of ``old`` → ``new`` with line numbers on every row."""
    rows: list[DiffRow] = []
    added = removed = 0
    old_line = new_line = 0
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=old_label, tofile=new_label, n=context, lineterm=""
    )
    for index, line in enumerate(lines):
        if index < 2:  # the "--- a" and "+++ b" header lines
            rows.append(DiffRow("file", line))
        elif match := _HUNK.match(line):
            old_line, new_line = int(match.group(1)), int(match.group(2))
            rows.append(DiffRow("hunk", line))
        elif line.startswith("+"):
            rows.append(DiffRow("add", line[1:], new_line=new_line))
            new_line += 1
            added += 1
        elif line.startswith("-"):
            rows.append(DiffRow("del", line[1:], old_line=old_line))
            old_line += 1
            removed += 1
        else:
            rows.append(DiffRow("ctx", line[1:], old_line=old_line, new_line=new_line))
            old_line += 1
            new_line += 1
    return XmlDiff(rows, added, removed)
