"""Rows into tables fast, in the session's transaction: PostgreSQL's COPY, or SQLAlchemy Core executemany
on SQLite (tests and embedded mode). Rows are tuples in a fixed column order; JSON columns hold Python
values, dumped here, or JSON text (a str) passed as it is."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text

from app.extensions import db

FLUSH_ROWS = 5_000  # per table, for executemany
STAGE_VALUES = 2_000_000  # values staged before they are sent (a few hundred MB at most)


class BulkWriter:
    """``add(table, row)`` many times, then ``close()``. Nothing is committed here: the caller commits."""

    def __init__(self, columns: dict[str, tuple[str, ...]], json_columns: Iterable[str]) -> None:
        self.columns = columns
        self.json_columns = set(json_columns)
        self.postgres = db.session.get_bind().dialect.name == "postgresql"
        self.counts: dict[str, int] = dict.fromkeys(columns, 0)
        self._buffers: dict[str, list[tuple[Any, ...]]] = {table: [] for table in columns}
        self._json_at = {
            table: [i for i, name in enumerate(names) if name in self.json_columns]
            for table, names in columns.items()
        }
        self._copies: dict[str, _StagedCopy] = {}
        self._staged_bytes = 0
        self._order = list(columns)  # foreign keys point to earlier tables: flush in this order

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.counts[table] += 1
        if self.postgres:
            self._staged_bytes += self._copy(table).write_row(self._dumped(table, row))
            if self._staged_bytes >= STAGE_VALUES:
                self._send_all()
            return
        buffer = self._buffers[table]
        buffer.append(row)
        if len(buffer) >= FLUSH_ROWS:
            self._flush_all()

    def close(self) -> None:
        if self.postgres:
            self._send_all()
        else:
            self._flush_all()

    # -- PostgreSQL ---------------------------------------------------------------------------------

    def _dumped(self, table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
        positions = self._json_at[table]
        if not positions:
            return row
        values = list(row)
        for i in positions:
            if values[i] is not None and not isinstance(values[i], str):
                values[i] = json.dumps(values[i])
        return tuple(values)

    def _copy(self, table: str) -> _StagedCopy:
        copy = self._copies.get(table)
        if copy is None:
            copy = self._copies[table] = _StagedCopy(table, self.columns[table])
        return copy

    def _send_all(self) -> None:
        # In table order, so every foreign key finds its row (checked at the end of each COPY).
        for table in self._order:
            if table in self._copies:
                self._copies[table].send()
        self._staged_bytes = 0

    # -- SQLite and others ------------------------------------------------------------------------

    def _flush_all(self) -> None:
        for table in self._order:
            rows = self._buffers[table]
            if not rows:
                continue
            names = self.columns[table]
            json_at = set(self._json_at[table])
            statement = text(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
            )
            params = [
                {
                    name: json.dumps(value)
                    if i in json_at and not isinstance(value, (str, type(None)))
                    else value
                    for i, (name, value) in enumerate(zip(names, row, strict=True))
                }
                for row in rows
            ]
            db.session.execute(statement, params)
            rows.clear()


class _StagedCopy:
    """Rows for one table staged in PostgreSQL's COPY text format, sent in one COPY when asked: a connection
    runs one COPY at a time, and the history writes five tables row by row."""

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        self.statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self.rows: list[tuple[Any, ...]] = []

    def write_row(self, row: tuple[Any, ...]) -> int:
        """Stage ``row``; how many values it holds."""
        self.rows.append(row)
        return len(row)

    def send(self) -> None:
        if not self.rows:
            return
        raw: Any = db.session.connection().connection.dbapi_connection  # psycopg's own connection
        with raw.cursor() as cursor, cursor.copy(self.statement) as copy:
            for row in self.rows:  # psycopg formats each value (in C)
                copy.write_row(row)
        self.rows.clear()
