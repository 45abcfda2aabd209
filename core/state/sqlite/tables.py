"""How a row family maps onto a SQLite table: columns, JSON and boolean encoding, cached SQL.

Each record family module (runs, tasks, attempts, events) declares one :class:`Table`; the
generic insert/update/decode below is shared so the families stay a few lines each.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    fields: tuple[str, ...]  # Python-side names, in column order
    json_fields: frozenset[str] = frozenset()  # stored in "<field>_json" columns
    bool_fields: frozenset[str] = frozenset()  # stored as 0/1
    _update_sql: dict[tuple[tuple[str, ...], bool], str] = field(
        default_factory=dict, compare=False, repr=False
    )

    def column(self, name: str) -> str:
        return f"{name}_json" if name in self.json_fields else name

    def encode(self, name: str, value: Any) -> Any:
        if name in self.json_fields:
            return None if value is None else dumps(value)
        if name in self.bool_fields:
            return None if value is None else int(bool(value))
        return value

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

    def insert_sql(self, fields: Iterable[str] | None = None, extra: Iterable[str] = ()) -> str:
        names = [self.column(name) for name in (fields or self.fields)] + list(extra)
        marks = ", ".join("?" for _ in names)
        return f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608

    def values(self, row: Mapping[str, Any], fields: Iterable[str] | None = None) -> list[Any]:
        return [self.encode(name, row[name]) for name in (fields or self.fields)]

    def update(
        self,
        conn: sqlite3.Connection,
        key: tuple[Any, ...],
        expected_state: str | None,
        changes: Mapping[str, Any],
    ) -> bool:
        """UPDATE one row by key, only if it is still in ``expected_state`` (when given)."""
        names = tuple(changes)
        for name in names:
            if name not in self.fields or name in self.key:
                raise ValueError(f"{self.name} has no updatable field {name!r}")
        cache_key = (names, expected_state is not None)
        sql = self._update_sql.get(cache_key)
        if sql is None:
            assignments = ", ".join(f"{self.column(name)} = ?" for name in names)
            where = " AND ".join(f"{name} = ?" for name in self.key)
            if expected_state is not None:
                where += " AND state = ?"
            sql = f"UPDATE {self.name} SET {assignments} WHERE {where}"  # noqa: S608
            self._update_sql[cache_key] = sql
        params = [self.encode(name, changes[name]) for name in names]
        params.extend(key)
        if expected_state is not None:
            params.append(expected_state)
        return conn.execute(sql, params).rowcount == 1
