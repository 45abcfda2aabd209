"""Gate results: one row per run of one gate, inside a run or on its own (`uet gate run`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from core.state.contract import GateResultRow
from core.state.sqlite.tables import Table

TABLE = Table(
    name="gate_results",
    key=("gate_result_id",),
    fields=tuple(GateResultRow.__annotations__),
    json_fields=frozenset({"command", "totals", "failures", "coverage"}),
    bool_fields=frozenset({"blocking"}),
)
_SELECT = f"SELECT {TABLE.select_columns} FROM gate_results"  # noqa: S608


def insert_many(conn: sqlite3.Connection, results: Sequence[GateResultRow]) -> None:
    for result in results:
        TABLE.insert(conn, cast(Any, result))


def select(
    conn: sqlite3.Connection,
    run_id: str | None,
    patch_id: str | None,
    attempt_id: str | None,
    standalone: bool,
    limit: int | None,
) -> list[GateResultRow]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("run_id", run_id), ("patch_id", patch_id), ("attempt_id", attempt_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if standalone:
        clauses.append("run_id IS NULL")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"{_SELECT}{where} ORDER BY started_at, gate_result_id"
    if limit is not None:
        # The latest ``limit`` results, still oldest first.
        latest = f"{_SELECT}{where} ORDER BY started_at DESC, gate_result_id DESC LIMIT ?"
        sql = f"SELECT * FROM ({latest}) ORDER BY started_at, gate_result_id"  # noqa: S608
        params.append(limit)
    return [cast(GateResultRow, TABLE.decode(row)) for row in conn.execute(sql, params)]
