"""Runs: one row per execution of a bundle; the bundle text itself is kept for audit."""

from __future__ import annotations

import sqlite3
from typing import cast

from core.state.contract import RunRow, TaskCounts
from core.state.sqlite.tables import Table

TABLE = Table(
    name="runs",
    key=("run_id",),
    fields=tuple(RunRow.__annotations__),
    json_fields=frozenset({"workstreams", "budget", "router"}),
)
_SELECT = f"SELECT {TABLE.select_columns} FROM runs"  # noqa: S608


_INSERT = TABLE.insert_sql(TABLE.fields, extra=["bundle_json"])


def insert(conn: sqlite3.Connection, run: RunRow, bundle_text: str) -> None:
    values = [TABLE.encode(name, run[name]) for name in TABLE.fields]  # type: ignore[literal-required]
    conn.execute(_INSERT, [*values, bundle_text])


def get(conn: sqlite3.Connection, run_id: str) -> RunRow | None:
    row = conn.execute(f"{_SELECT} WHERE run_id = ?", (run_id,)).fetchone()
    return cast(RunRow, TABLE.decode(row)) if row else None


def find_ids(conn: sqlite3.Connection, prefix: str) -> list[str]:
    """Run ids starting with ``prefix`` (case-insensitive, as people type ULIDs)."""
    prefix = prefix.upper()
    if not prefix:
        return []
    # A range on the primary key: indexed, and no LIKE wildcards to escape. '~' sorts after
    # every ULID character.
    rows = conn.execute(
        "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT 20",
        (prefix, prefix + "~"),
    ).fetchall()
    return [row[0] for row in rows]


def latest_id(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC LIMIT 1")
    found = row.fetchone()
    return found[0] if found else None


def recent(conn: sqlite3.Connection, limit: int) -> list[RunRow]:
    rows = conn.execute(f"{_SELECT} ORDER BY created_at DESC, run_id DESC LIMIT ?", (limit,))
    return [cast(RunRow, TABLE.decode(row)) for row in rows]


def bundle_text(conn: sqlite3.Connection, run_id: str) -> str | None:
    row = conn.execute("SELECT bundle_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return row[0] if row else None


def task_counts(conn: sqlite3.Connection, run_id: str) -> TaskCounts:
    rows = conn.execute(
        "SELECT state, COUNT(*) FROM tasks WHERE run_id = ? GROUP BY state", (run_id,)
    ).fetchall()
    by_state = {row[0]: row[1] for row in rows}
    return TaskCounts(total=sum(by_state.values()), by_state=by_state)
