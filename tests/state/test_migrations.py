"""Migrations: numbered, applied once, verified; tampering and newer ledgers are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.errors import LedgerNotFound, LedgerOutdated, LedgerTooNew, MigrationTampered
from core.state import open_ledger
from core.state.sqlite import migrations


def test_fresh_ledger_is_migrated_to_the_latest(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    status = ledger.migration_status()
    assert status.current
    assert status.applied == tuple(range(1, len(migrations.shipped()) + 1))
    assert ledger.migrate() == []  # idempotent
    ledger.close()


def test_read_only_open_refuses_a_missing_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerNotFound, match="no ledger at"):
        open_ledger(f"sqlite:///{tmp_path / 'missing.db'}", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_outdated_ledger_names_the_command(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE uet_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT, sha256 TEXT, applied_at TEXT)"
    )
    conn.commit()
    conn.close()
    with pytest.raises(LedgerOutdated, match="uet db migrate"):
        open_ledger(f"sqlite:///{path}", create=False, migrate=False)
    ledger = open_ledger(f"sqlite:///{path}", create=False, migrate=True)
    assert ledger.migration_status().current
    ledger.close()


def test_tampered_migration_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    open_ledger(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE uet_migrations SET sha256 = 'x' WHERE version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(MigrationTampered, match="append-only"):
        open_ledger(f"sqlite:///{path}")


def test_ledger_from_a_newer_uet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    open_ledger(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO uet_migrations VALUES (999, 'future', 'x', '2030-01-01T00:00:00Z')")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerTooNew, match="upgrade uet"):
        open_ledger(f"sqlite:///{path}")


def test_migration_statements_split_triggers_whole() -> None:
    script = (
        "CREATE TABLE a (x);\n"
        "CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND;\n"
    )
    assert len(list(migrations.statements(script))) == 2


def test_connection_settings(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'p.db'}")
    rows = {
        pragma: ledger.execute(f"PRAGMA {pragma}")[0][0]  # type: ignore[attr-defined]
        for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    }
    assert rows == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }
    ledger.close()
