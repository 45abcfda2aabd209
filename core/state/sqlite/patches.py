"""Patches: one row per captured diff, with its lifecycle and state history."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, cast

from core.state.contract import PatchRow
from core.state.sqlite.tables import Table, dumps

TABLE = Table(
    name="patches",
    key=("patch_id",),
    fields=tuple(PatchRow.__annotations__),
    json_fields=frozenset({"history", "files", "origin", "validation", "relations"}),
)
_SELECT = f"SELECT {TABLE.select_columns} FROM patches"  # noqa: S608


def insert(conn: sqlite3.Connection, patch: PatchRow) -> None:
    TABLE.insert(conn, cast(Any, patch))


def update(
    conn: sqlite3.Connection,
    patch_id: str,
    expected_state: str | None,
    history: Mapping[str, Any] | None,
    fields: Mapping[str, Any],
) -> bool:
    if history is None:
        return TABLE.update(conn, (patch_id,), expected_state, fields)
    # Append to the history in SQL: no read-modify-write of the JSON array.
    names = tuple(fields)
    for name in names:
        if name not in TABLE.fields or name in TABLE.key or name == "history":
            raise ValueError(f"patches has no updatable field {name!r}")
    assignments = "".join(f", {TABLE.column(name)} = ?" for name in names)
    sql = (
        "UPDATE patches SET history_json = json_insert(history_json, '$[#]', json(?))"  # noqa: S608
        f"{assignments} WHERE patch_id = ?"
    )
    params: list[Any] = [dumps(dict(history)), *TABLE.encode_all(fields.items()), patch_id]
    if expected_state is not None:
        sql += " AND state = ?"
        params.append(expected_state)
    return conn.execute(sql, params).rowcount == 1


def get(conn: sqlite3.Connection, patch_id: str) -> PatchRow | None:
    row = conn.execute(f"{_SELECT} WHERE patch_id = ?", (patch_id,)).fetchone()
    return cast(PatchRow, TABLE.decode(row)) if row else None


def select(
    conn: sqlite3.Connection, run_id: str | None, task_id: str | None, state: str | None
) -> list[PatchRow]:
    clauses: list[str] = []
    params: list[str] = []
    for column, value in (("run_id", run_id), ("task_id", task_id), ("state", state)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(f"{_SELECT}{where} ORDER BY created_at, patch_id", params)
    return [cast(PatchRow, TABLE.decode(row)) for row in rows]


def find_ids(conn: sqlite3.Connection, prefix: str) -> list[str]:
    prefix = prefix.upper()
    if not prefix:
        return []
    rows = conn.execute(
        "SELECT patch_id FROM patches WHERE patch_id >= ? AND patch_id < ? "
        "ORDER BY patch_id LIMIT 20",
        (prefix, prefix + "~"),
    ).fetchall()
    return [row[0] for row in rows]
