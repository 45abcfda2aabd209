"""Workers (the threads of a `uet run`, `uet worker` processes) and the attempts they claim."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from core.state.contract import AttemptRow, WorkerRow
from core.state.sqlite import attempts
from core.state.sqlite.tables import Table

TABLE = Table(name="workers", key=("worker_id",), fields=tuple(WorkerRow.__annotations__))
_SELECT = f"SELECT {TABLE.select_columns} FROM workers"  # noqa: S608
_ATTEMPT_COLUMNS = ", ".join(f"a.{c}" for c in attempts.TABLE.select_columns.split(", "))


def insert(conn: sqlite3.Connection, worker: WorkerRow) -> None:
    TABLE.insert(conn, cast(Any, worker))


def select(conn: sqlite3.Connection, states: Sequence[str]) -> list[WorkerRow]:
    sql = _SELECT
    if states:
        sql += f" WHERE state IN ({', '.join('?' for _ in states)})"
    rows = conn.execute(sql + " ORDER BY started_at DESC, worker_id DESC", list(states))
    return [cast(WorkerRow, TABLE.decode(row)) for row in rows]


def claim(conn: sqlite3.Connection, worker_id: str, run_id: str | None) -> AttemptRow | None:
    """Give the oldest unclaimed running attempt to ``worker_id`` (one UPDATE: atomic)."""
    where = "state = 'running' AND worker_id IS NULL"
    params: list[Any] = [worker_id]
    if run_id is not None:
        where += " AND run_id = ?"
        params.append(run_id)
    row = conn.execute(
        f"UPDATE attempts SET worker_id = ? WHERE attempt_id = "  # noqa: S608
        f"(SELECT attempt_id FROM attempts WHERE {where} ORDER BY started_at LIMIT 1) "
        "AND worker_id IS NULL RETURNING attempt_id",
        params,
    ).fetchone()
    return attempts.get(conn, row[0]) if row else None


def orphaned(conn: sqlite3.Connection, run_id: str) -> list[AttemptRow]:
    rows = conn.execute(
        f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a JOIN workers w ON w.worker_id = a.worker_id "  # noqa: S608
        "WHERE a.run_id = ? AND a.state = 'running' AND a.result_json IS NULL "
        "AND w.state = 'lost'",
        (run_id,),
    )
    return [cast(AttemptRow, attempts.TABLE.decode(row)) for row in rows]


def activity(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Per worker: attempts run, succeeded, failed, busy seconds, and its running attempts."""
    stats: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        "SELECT worker_id, COUNT(*), SUM(state = 'succeeded'), "
        "SUM(state IN ('failed', 'timed_out')), COALESCE(SUM(duration_seconds), 0) "
        "FROM attempts WHERE worker_id IS NOT NULL GROUP BY worker_id"
    )
    for row in rows:
        stats[row[0]] = {
            "attempts": row[1],
            "succeeded": row[2],
            "failed": row[3],
            "busy_seconds": round(row[4], 3),
            "running": [],
        }
    running = conn.execute(
        "SELECT worker_id, attempt_id FROM attempts WHERE state = 'running' "
        "AND worker_id IS NOT NULL ORDER BY started_at"
    )
    for worker_id, attempt_id in running:
        stats.setdefault(
            worker_id,
            {"attempts": 0, "succeeded": 0, "failed": 0, "busy_seconds": 0.0, "running": []},
        )
        stats[worker_id]["running"].append(attempt_id)
    return stats
