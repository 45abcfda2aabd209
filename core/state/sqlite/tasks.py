"""Tasks of a run: their lifecycle state, attempt count, resolved request and output."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from core.state.contract import TaskRow
from core.state.sqlite.tables import Table

TABLE = Table(
    name="tasks",
    key=("run_id", "task_id"),
    fields=tuple(TaskRow.__annotations__),
    json_fields=frozenset({"request", "output"}),
)
_SELECT = f"SELECT {TABLE.select_columns} FROM tasks"  # noqa: S608


def insert_many(conn: sqlite3.Connection, tasks: Sequence[TaskRow]) -> None:
    TABLE.insert_many(conn, cast(Sequence[Any], tasks), TABLE.fields)


def for_run(conn: sqlite3.Connection, run_id: str) -> list[TaskRow]:
    rows = conn.execute(f"{_SELECT} WHERE run_id = ? ORDER BY seq", (run_id,))
    return [cast(TaskRow, TABLE.decode(row)) for row in rows]
