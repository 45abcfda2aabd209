"""Attempts: one row per try of a task, unique per (run, task, attempt number)."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from core.state.contract import AttemptRow
from core.state.sqlite.tables import Table

TABLE = Table(
    name="attempts",
    key=("attempt_id",),
    fields=tuple(AttemptRow.__annotations__),
    json_fields=frozenset({"argv", "output", "usage", "result"}),
    bool_fields=frozenset({"retryable", "stdout_truncated", "stderr_truncated"}),
)
_SELECT = f"SELECT {TABLE.select_columns} FROM attempts"  # noqa: S608


def insert(conn: sqlite3.Connection, attempt: AttemptRow) -> None:
    TABLE.insert(conn, cast(Any, attempt))


def select(
    conn: sqlite3.Connection, run_id: str, task_id: str | None, state: str | None
) -> list[AttemptRow]:
    sql = f"{_SELECT} WHERE run_id = ?"
    params: list[str] = [run_id]
    if task_id is not None:
        sql += " AND task_id = ?"
        params.append(task_id)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    rows = conn.execute(sql + " ORDER BY started_at, attempt_no", params)
    return [cast(AttemptRow, TABLE.decode(row)) for row in rows]


def get(conn: sqlite3.Connection, attempt_id: str) -> AttemptRow | None:
    row = conn.execute(f"{_SELECT} WHERE attempt_id = ?", (attempt_id,)).fetchone()
    return cast(AttemptRow, TABLE.decode(row)) if row else None


def reported(conn: sqlite3.Connection, run_id: str) -> list[AttemptRow]:
    """Running attempts of ``run_id`` a process worker has reported on (a partial index)."""
    rows = conn.execute(
        f"{_SELECT} WHERE run_id = ? AND state = 'running' AND result_json IS NOT NULL", (run_id,)
    )
    return [cast(AttemptRow, TABLE.decode(row)) for row in rows]
