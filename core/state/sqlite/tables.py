"""How a row family maps onto a SQLite table: columns, JSON and boolean encoding, cached SQL.

Each record family module (runs, tasks, attempts, events) declares one :class:`Table`; the
generic insert/update/decode below is shared so the families stay a few lines each. Inserts
and updates sit on the per-task hot path, so SQL text is built once per shape of row and
cached, and encoding is a table lookup per field.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_PLAIN, _JSON, _BOOL = 0, 1, 2


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    fields: tuple[str, ...]  # Python-side names, in column order
    json_fields: frozenset[str] = frozenset()  # stored in "<field>_json" columns
    bool_fields: frozenset[str] = frozenset()  # stored as 0/1
    _sql: dict[Any, str] = field(default_factory=dict, compare=False, repr=False)
    _kinds: dict[str, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        kinds = {
            name: _JSON
            if name in self.json_fields
            else _BOOL
            if name in self.bool_fields
            else _PLAIN
            for name in self.fields
        }
        object.__setattr__(self, "_kinds", kinds)

    def column(self, name: str) -> str:
        return f"{name}_json" if name in self.json_fields else name

    def encode(self, name: str, value: Any) -> Any:
        kind = self._kinds[name]
        if value is None or kind == _PLAIN:
            return value
        return dumps(value) if kind == _JSON else int(bool(value))

    def encode_all(self, items: Iterable[tuple[str, Any]]) -> list[Any]:
        """Encode (field, value) pairs; plain values pass through without a call per field."""
        kinds = self._kinds
        return [
            value if value is None or kinds[name] == _PLAIN else self.encode(name, value)
            for name, value in items
        ]

    def decode(self, row: sqlite3.Row) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name in self.fields:
            value = row[self.column(name)]
            if value is not None:
                if name in self.json_fields:
                    value = json.loads(value)
                elif name in self.bool_fields:
                    value = bool(value)
            result[name] = value
        return result

    @property
    def select_columns(self) -> str:
        return ", ".join(self.column(name) for name in self.fields)

    def insert_sql(self, fields: Iterable[str], extra: Iterable[str] = ()) -> str:
        names = [self.column(name) for name in fields] + list(extra)
        marks = ", ".join("?" for _ in names)
        return f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608

    def insert(self, conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
        """INSERT the non-NULL fields of ``row`` (the rest take the column default, NULL)."""
        present = tuple(name for name, value in row.items() if value is not None)
        self._check(present)
        sql = self._sql.get(present)
        if sql is None:
            sql = self._sql[present] = self.insert_sql(present)
        conn.execute(sql, self.encode_all((name, row[name]) for name in present))

    def insert_many(
        self, conn: sqlite3.Connection, rows: Sequence[Mapping[str, Any]], fields: tuple[str, ...]
    ) -> None:
        """INSERT many rows of the same shape (``fields``) in one statement."""
        key = ("many", fields)
        sql = self._sql.get(key)
        if sql is None:
            self._check(fields)
            sql = self._sql[key] = self.insert_sql(fields)
        conn.executemany(
            sql, [self.encode_all((name, row[name]) for name in fields) for row in rows]
        )

    def update(
        self,
        conn: sqlite3.Connection,
        key: tuple[Any, ...],
        expected_state: str | None,
        changes: Mapping[str, Any],
    ) -> bool:
        """UPDATE one row by key, only if it is still in ``expected_state`` (when given)."""
        names = tuple(changes)
        cache_key = ("update", names, expected_state is not None)
        sql = self._sql.get(cache_key)
        if sql is None:
            self._check(names)
            if any(name in self.key for name in names):
                raise ValueError(f"{self.name}: key fields cannot be updated")
            assignments = ", ".join(f"{self.column(name)} = ?" for name in names)
            where = " AND ".join(f"{name} = ?" for name in self.key)
            if expected_state is not None:
                where += " AND state = ?"
            sql = f"UPDATE {self.name} SET {assignments} WHERE {where}"  # noqa: S608
            self._sql[cache_key] = sql
        params = self.encode_all(changes.items())
        params.extend(key)
        if expected_state is not None:
            params.append(expected_state)
        return conn.execute(sql, params).rowcount == 1

    def _check(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self._kinds:
                raise ValueError(f"{self.name} has no updatable field {name!r}")
