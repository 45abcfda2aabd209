"""Events: the append-only log. ``seq`` (the rowid) gives the total order readers follow."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from core.state.contract import EventRow
from core.state.sqlite.tables import Table

TABLE = Table(
    name="events",
    key=("seq",),
    fields=tuple(EventRow.__annotations__),
    json_fields=frozenset({"payload"}),
)
_INSERT_FIELDS = tuple(name for name in TABLE.fields if name != "seq")  # seq: the rowid
_SELECT = f"SELECT {TABLE.select_columns} FROM events"  # noqa: S608


def append(conn: sqlite3.Connection, events: Sequence[EventRow]) -> None:
    TABLE.insert_many(conn, cast(Sequence[Any], events), _INSERT_FIELDS)


def select(
    conn: sqlite3.Connection, run_id: str | None, after_seq: int, limit: int | None
) -> list[EventRow]:
    sql = f"{_SELECT} WHERE seq > ?"
    params: list[Any] = [after_seq]
    if run_id is not None:
        sql += " AND run_id = ?"
        params.append(run_id)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [cast(EventRow, TABLE.decode(row)) for row in conn.execute(sql, params)]
