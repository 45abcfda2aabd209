"""Numbered, append-only migrations for the SQLite ledger.

Each ``migrations/NNNN_name.sql`` file is applied once, in order, inside one ``BEGIN
IMMEDIATE`` transaction together with its bookkeeping row in ``uet_migrations`` (version, name,
sha256 of the file). Applied files must never change: :func:`status` compares hashes and reports
tampering, and a ledger migrated by a newer uet is refused rather than misread.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from core import clock
from core.state.contract import MigrationStatus
from core.state.sqlite.connection import begin_immediate

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS uet_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@cache
def shipped() -> tuple[Migration, ...]:
    """The migrations shipped with this uet, in version order (checked to be 1..n)."""
    folder = resources.files("core.state.sqlite") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration numbering has a gap before {migration.label}")
    return tuple(found)


def statements(sql: str) -> Iterator[str]:
    """Split a script into statements (triggers' inner ';' included correctly)."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip() and not buffer.strip().startswith("--"):
        raise ValueError(f"incomplete SQL statement at end of migration: {buffer.strip()[:60]}")


def _applied(conn: sqlite3.Connection) -> dict[int, tuple[str, str]]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='uet_migrations'"
    ).fetchone()
    if not exists:
        return {}
    rows = conn.execute("SELECT version, name, sha256 FROM uet_migrations").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def status(conn: sqlite3.Connection, location: str, exists: bool = True) -> MigrationStatus:
    known = shipped()
    applied = _applied(conn) if exists else {}
    by_version = {migration.version: migration for migration in known}
    tampered = tuple(
        by_version[version].label
        for version, (_, digest) in sorted(applied.items())
        if version in by_version and by_version[version].sha256 != digest
    )
    return MigrationStatus(
        location=location,
        exists=exists,
        applied=tuple(sorted(applied)),
        pending=tuple(m.label for m in known if m.version not in applied),
        tampered=tampered,
        unknown=tuple(sorted(version for version in applied if version not in by_version)),
        known=len(known),
    )


def migrate(conn: sqlite3.Connection, location: str) -> list[str]:
    """Apply every pending migration; safe when several processes race to do it."""
    conn.execute(_BOOKKEEPING)
    applied_now: list[str] = []
    for migration in shipped():
        begin_immediate(conn, location)
        try:
            # Re-read inside the write lock: another process may have just applied it.
            if migration.version in _applied(conn):
                conn.execute("ROLLBACK")
                continue
            for statement in statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO uet_migrations (version, name, sha256, applied_at) VALUES (?,?,?,?)",
                (migration.version, migration.name, migration.sha256, clock.now()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied_now.append(migration.label)
    return applied_now
