"""Costs (one row per attempt and per gate run) and the per-tool history routing reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from core.state.contract import CircuitRow, CostRow, ToolHistory
from core.state.sqlite.tables import Table

TABLE = Table(
    name="costs",
    key=("cost_id",),
    fields=tuple(CostRow.__annotations__),
    json_fields=frozenset({"usage"}),
    bool_fields=frozenset({"estimated"}),
)
CIRCUITS = Table(name="circuits", key=("tool",), fields=tuple(CircuitRow.__annotations__))
_SELECT = f"SELECT {TABLE.select_columns} FROM costs"  # noqa: S608
_SELECT_CIRCUITS = f"SELECT {CIRCUITS.select_columns} FROM circuits"  # noqa: S608
_UPSERT_CIRCUIT = CIRCUITS.insert_sql(CIRCUITS.fields).replace("INSERT", "INSERT OR REPLACE", 1)


def insert_many(conn: sqlite3.Connection, costs: Sequence[CostRow]) -> None:
    TABLE.insert_many(conn, cast(Sequence[Any], costs), TABLE.fields)


def select(conn: sqlite3.Connection, run_id: str | None) -> list[CostRow]:
    if run_id is None:
        rows = conn.execute(f"{_SELECT} ORDER BY recorded_at, cost_id")
    else:
        rows = conn.execute(f"{_SELECT} WHERE run_id = ? ORDER BY recorded_at, cost_id", (run_id,))
    return [cast(CostRow, TABLE.decode(row)) for row in rows]


def tool_history(conn: sqlite3.Connection, kind: str | None) -> dict[str, ToolHistory]:
    rows = conn.execute(
        "SELECT a.tool, COUNT(*), SUM(a.state = 'succeeded'), "
        "COALESCE(SUM(c.amount), 0), COALESCE(SUM(c.tokens_in + c.tokens_out), 0) "
        "FROM attempts a LEFT JOIN costs c "
        "ON c.subject_kind = 'attempt' AND c.subject_id = a.attempt_id "
        "WHERE a.tool IS NOT NULL AND a.kind IS ? "
        "AND a.state IN ('succeeded', 'failed', 'timed_out') GROUP BY a.tool",
        (kind,),
    )
    return {row[0]: ToolHistory(row[1], row[2], row[3], row[4]) for row in rows}


def get_circuit(conn: sqlite3.Connection, tool: str) -> CircuitRow | None:
    row = conn.execute(f"{_SELECT_CIRCUITS} WHERE tool = ?", (tool,)).fetchone()
    return cast(CircuitRow, CIRCUITS.decode(row)) if row else None


def put_circuit(conn: sqlite3.Connection, circuit: CircuitRow) -> None:
    conn.execute(_UPSERT_CIRCUIT, CIRCUITS.encode_all((n, circuit[n]) for n in CIRCUITS.fields))  # type: ignore[literal-required]


def circuits(conn: sqlite3.Connection) -> list[CircuitRow]:
    rows = conn.execute(f"{_SELECT_CIRCUITS} ORDER BY tool")
    return [cast(CircuitRow, CIRCUITS.decode(row)) for row in rows]


def recent_outcomes(conn: sqlite3.Connection, per_tool: int) -> dict[str, tuple[int, int]]:
    """Per tool: (finished attempts, succeeded) among its latest ``per_tool`` attempts."""
    rows = conn.execute(
        "SELECT tool, state FROM (SELECT tool, state, ROW_NUMBER() OVER "
        "(PARTITION BY tool ORDER BY started_at DESC) AS n FROM attempts "
        "WHERE tool IS NOT NULL AND state IN ('succeeded', 'failed', 'timed_out')) "
        "WHERE n <= ?",
        (per_tool,),
    )
    seen: dict[str, tuple[int, int]] = {}
    for tool, state in rows:
        total, ok = seen.get(tool, (0, 0))
        seen[tool] = (total + 1, ok + (state == "succeeded"))
    return seen
