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


def get(conn: sqlite3.Connection, run_id: str, task_id: str) -> TaskRow | None:
    row = conn.execute(f"{_SELECT} WHERE run_id = ? AND task_id = ?", (run_id, task_id)).fetchone()
    return cast(TaskRow, TABLE.decode(row)) if row else None


def find_results(
    conn: sqlite3.Connection, spec_hashes: Sequence[str], exclude_run: str
) -> dict[str, TaskRow]:
    found: dict[str, TaskRow] = {}
    for start in range(0, len(spec_hashes), 500):
        chunk = list(spec_hashes[start : start + 500])
        rows = conn.execute(
            f"{_SELECT} WHERE spec_hash IN ({', '.join('?' for _ in chunk)}) "
            "AND state = 'succeeded' AND run_id != ? ORDER BY finished_at",
            [*chunk, exclude_run],
        )
        for row in rows:
            task = cast(TaskRow, TABLE.decode(row))
            found[str(task["spec_hash"])] = task  # the latest wins
    return found
