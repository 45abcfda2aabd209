"""The SQLite ledger: the embedded default backend of the :class:`~core.state.contract.Ledger`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import LedgerNotFound, LedgerOutdated, LedgerTooNew, MigrationTampered
from core.state.contract import (
    AttemptRow,
    CircuitRow,
    CostRow,
    EventRow,
    GateResultRow,
    LedgerTxn,
    MigrationStatus,
    PatchRow,
    RunRow,
    TaskCounts,
    TaskRow,
    ToolHistory,
    WorkerRow,
)
from core.state.sqlite import (
    attempts,
    costs,
    events,
    gates,
    migrations,
    patches,
    runs,
    tasks,
    workers,
)
from core.state.sqlite.connection import begin_immediate, connect


class SqliteLedger:
    """A ledger in one SQLite file (plus a sibling ``logs/`` folder for attempt output)."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url or f"sqlite:///{path}"
        self.location = str(path)
        self.artifacts_dir = path.parent
        self._conn = connect(path)
        self._lock = threading.RLock()
        self._depth = 0

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path, url: str | None = None, *, create: bool, migrate: bool, verify: bool = True
    ) -> SqliteLedger:
        """Open the ledger at ``path``.

        ``create``: make the file if it is missing (else :class:`LedgerNotFound`).
        ``migrate``: apply pending migrations.
        ``verify``: refuse a ledger that is outdated, tampered or newer than this uet, with an
        error naming the fix (``uet db`` commands turn this off to report instead).
        """
        if not create and not path.exists():
            raise LedgerNotFound(str(path))
        ledger = cls(path, url)
        try:
            if migrate:
                ledger.migrate()
            if verify:
                ledger.ensure_current()
        except BaseException:
            ledger.close()
            raise
        return ledger

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def migrate(self) -> list[str]:
        with self._lock:
            self._refuse_newer()
            return migrations.migrate(self._conn, self.location)

    def migration_status(self) -> MigrationStatus:
        with self._lock:
            return migrations.status(self._conn, self.location)

    def ensure_current(self) -> None:
        state = self.migration_status()
        if state.unknown:
            raise LedgerTooNew(self.location, max(state.unknown), state.known)
        if state.tampered:
            version = int(state.tampered[0][:4])
            raise MigrationTampered(self.location, version, state.tampered[0][5:])
        if state.pending:
            raise LedgerOutdated(self.location, state.pending)

    def _refuse_newer(self) -> None:
        state = migrations.status(self._conn, self.location)
        if state.unknown:
            raise LedgerTooNew(self.location, max(state.unknown), state.known)

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[LedgerTxn]:
        """BEGIN IMMEDIATE ... COMMIT; nested calls use a SAVEPOINT that can roll back alone."""
        with self._lock:
            conn = self._conn
            if self._depth == 0:
                begin_immediate(conn, self.location)
                begin, commit, rollback = None, "COMMIT", "ROLLBACK"
            else:
                name = f"uet_sp_{self._depth}"
                begin = f"SAVEPOINT {name}"
                commit = f"RELEASE {name}"
                rollback = f"ROLLBACK TO {name}; RELEASE {name}"
                conn.execute(begin)
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                for statement in rollback.split("; "):
                    conn.execute(statement)
                raise
            self._depth -= 1
            conn.execute(commit)

    # -- writes (called inside transaction()) --------------------------------------------------

    def insert_run(self, run: RunRow, bundle_text: str) -> None:
        runs.insert(self._conn, run, bundle_text)

    def update_run(self, run_id: str, expected_state: str | None, **fields: Any) -> bool:
        return runs.TABLE.update(self._conn, (run_id,), expected_state, fields)

    def insert_tasks(self, rows: Sequence[TaskRow]) -> None:
        tasks.insert_many(self._conn, rows)

    def update_task(
        self, run_id: str, task_id: str, expected_state: str | None, **fields: Any
    ) -> bool:
        return tasks.TABLE.update(self._conn, (run_id, task_id), expected_state, fields)

    def insert_attempt(self, attempt: AttemptRow) -> None:
        attempts.insert(self._conn, attempt)

    def update_attempt(self, attempt_id: str, expected_state: str | None, **fields: Any) -> bool:
        return attempts.TABLE.update(self._conn, (attempt_id,), expected_state, fields)

    def append_events(self, rows: Sequence[EventRow]) -> None:
        events.append(self._conn, rows)

    def insert_patch(self, patch: PatchRow) -> None:
        patches.insert(self._conn, patch)

    def update_patch(
        self,
        patch_id: str,
        expected_state: str | None,
        history: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> bool:
        return patches.update(self._conn, patch_id, expected_state, history, fields)

    def insert_gate_results(self, results: Sequence[GateResultRow]) -> None:
        gates.insert_many(self._conn, results)

    def insert_costs(self, rows: Sequence[CostRow]) -> None:
        costs.insert_many(self._conn, rows)

    def insert_worker(self, worker: WorkerRow) -> None:
        workers.insert(self._conn, worker)

    def update_worker(self, worker_id: str, expected_state: str | None, **fields: Any) -> bool:
        return workers.TABLE.update(self._conn, (worker_id,), expected_state, fields)

    def claim_attempt(self, worker_id: str, run_id: str | None = None) -> AttemptRow | None:
        return workers.claim(self._conn, worker_id, run_id)

    def get_circuit(self, tool: str) -> CircuitRow | None:
        with self._lock:
            return costs.get_circuit(self._conn, tool)

    def put_circuit(self, circuit: CircuitRow) -> None:
        costs.put_circuit(self._conn, circuit)

    # -- reads ---------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRow | None:
        with self._lock:
            return runs.get(self._conn, run_id)

    def find_run_ids(self, prefix: str) -> list[str]:
        with self._lock:
            return runs.find_ids(self._conn, prefix)

    def latest_run_id(self) -> str | None:
        with self._lock:
            return runs.latest_id(self._conn)

    def list_runs(self, limit: int = 50) -> list[RunRow]:
        with self._lock:
            return runs.recent(self._conn, limit)

    def get_bundle_text(self, run_id: str) -> str | None:
        with self._lock:
            return runs.bundle_text(self._conn, run_id)

    def task_counts(self, run_id: str) -> TaskCounts:
        with self._lock:
            return runs.task_counts(self._conn, run_id)

    def list_tasks(self, run_id: str) -> list[TaskRow]:
        with self._lock:
            return tasks.for_run(self._conn, run_id)

    def list_attempts(
        self, run_id: str, task_id: str | None = None, state: str | None = None
    ) -> list[AttemptRow]:
        with self._lock:
            return attempts.select(self._conn, run_id, task_id, state)

    def get_task(self, run_id: str, task_id: str) -> TaskRow | None:
        with self._lock:
            return tasks.get(self._conn, run_id, task_id)

    def get_attempt(self, attempt_id: str) -> AttemptRow | None:
        with self._lock:
            return attempts.get(self._conn, attempt_id)

    def get_patch(self, patch_id: str) -> PatchRow | None:
        with self._lock:
            return patches.get(self._conn, patch_id)

    def list_patches(
        self, run_id: str | None = None, task_id: str | None = None, state: str | None = None
    ) -> list[PatchRow]:
        with self._lock:
            return patches.select(self._conn, run_id, task_id, state)

    def find_patch_ids(self, prefix: str) -> list[str]:
        with self._lock:
            return patches.find_ids(self._conn, prefix)

    def list_gate_results(
        self,
        run_id: str | None = None,
        *,
        patch_id: str | None = None,
        attempt_id: str | None = None,
        standalone: bool = False,
        limit: int | None = None,
    ) -> list[GateResultRow]:
        with self._lock:
            return gates.select(self._conn, run_id, patch_id, attempt_id, standalone, limit)

    def list_costs(self, run_id: str | None = None) -> list[CostRow]:
        with self._lock:
            return costs.select(self._conn, run_id)

    def list_workers(self, states: Sequence[str] = ()) -> list[WorkerRow]:
        with self._lock:
            return workers.select(self._conn, states)

    def recent_outcomes(self, per_tool: int = 50) -> dict[str, tuple[int, int]]:
        with self._lock:
            return costs.recent_outcomes(self._conn, per_tool)

    def worker_activity(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return workers.activity(self._conn)

    def list_circuits(self) -> list[CircuitRow]:
        with self._lock:
            return costs.circuits(self._conn)

    def tool_history(self, kind: str | None) -> dict[str, ToolHistory]:
        with self._lock:
            return costs.tool_history(self._conn, kind)

    def reported_attempts(self, run_id: str) -> list[AttemptRow]:
        with self._lock:
            return attempts.reported(self._conn, run_id)

    def orphaned_attempts(self, run_id: str) -> list[AttemptRow]:
        with self._lock:
            return workers.orphaned(self._conn, run_id)

    def find_results(self, spec_hashes: Sequence[str], exclude_run: str) -> dict[str, TaskRow]:
        with self._lock:
            return tasks.find_results(self._conn, spec_hashes, exclude_run)

    def list_events(
        self, run_id: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[EventRow]:
        with self._lock:
            return events.select(self._conn, run_id, after_seq, limit)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run read-only SQL (the documented views) for tools and tests."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()
