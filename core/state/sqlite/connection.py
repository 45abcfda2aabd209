"""Every SQLite connection setting in one place, and the one way to start a write.

- WAL: readers (``uet status`` in another terminal) never block the writer, nor it them.
- ``synchronous=NORMAL``: in WAL mode a commit survives a process crash; only a power loss can
  roll back the last transactions, which resume then redoes. This is what makes per-task
  ledger writes cost microseconds instead of an fsync each.
- ``foreign_keys=ON``: tasks and attempts cannot outlive or precede their run.
- Writers start with ``BEGIN IMMEDIATE`` so they take the write lock up front and never fail
  half-way with SQLITE_BUSY; if another process holds it past ``busy_timeout``, we retry with
  capped exponential backoff and jitter before giving up with :class:`LedgerBusy`.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from core.errors import LedgerBusy

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5_000
MAX_LOCK_WAIT_SECONDS = 60.0
_BACKOFF_START = 0.01
_BACKOFF_CAP = 0.5

T = TypeVar("T")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the SQLite ledger at ``path`` with UET's settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: the sqlite3 module issues no implicit BEGIN/COMMIT; we do.
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
        cached_statements=256,
    )
    conn.row_factory = sqlite3.Row

    def configure() -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA temp_store=MEMORY")

    with_lock_retry(configure, str(path))
    return conn


def is_lock_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


def with_lock_retry(action: Callable[[], T], location: str) -> T:
    """Run ``action``, retrying while SQLite reports the database locked by another writer."""
    delay = _BACKOFF_START
    started = time.monotonic()
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc):
                raise
            waited = time.monotonic() - started
            if waited >= MAX_LOCK_WAIT_SECONDS:
                raise LedgerBusy(location, waited) from exc
            log.debug("ledger %s locked, retrying in %.3fs", location, delay)
            time.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, _BACKOFF_CAP)


def begin_immediate(conn: sqlite3.Connection, location: str) -> None:
    """Start a write transaction, holding the write lock from the first statement."""
    with_lock_retry(lambda: conn.execute("BEGIN IMMEDIATE"), location)
