"""A run's attempts left in the ledger for `uet worker` processes, and what became of them.

The orchestrator hands an attempt to process workers by recording it with no worker
(``worker_id`` NULL) when its own threads are busy and live workers offer slots. From then on
this object answers, from the ledger: how many slots the workers offer the run, which of its
attempts they reported on (the outcome rides on the attempt row), which were held by a worker
now lost, and which no worker claimed in time (the run then runs it itself).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.engine.execution.outcome import Outcome
from core.engine.execution.runner import outcome_from
from core.engine.recorder import Recorder
from core.engine.worker_records import LIVE_STATES, mark_lost, stale
from core.state import AttemptRow

T = TypeVar("T")  # what the orchestrator keeps per attempt

POLL_SECONDS = 0.02  # how often outcomes of process workers are looked for
UNCLAIMED_GRACE_SECONDS = 1.0  # an attempt no process worker claimed by then runs in the run


@dataclass
class RemoteAttempts(Generic[T]):
    recorder: Recorder
    run_id: str
    slots: int = 0  # offered to this run by live process workers
    _held: dict[str, tuple[float, T]] = field(default_factory=dict)  # id -> (queued at, item)
    _next_poll: float = 0.0

    def __len__(self) -> int:
        return len(self._held)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._held))

    @property
    def free(self) -> int:
        return max(0, self.slots - len(self._held))

    def add(self, attempt_id: str, item: T) -> None:
        self._held[attempt_id] = (time.monotonic(), item)

    def clear(self) -> None:
        self._held.clear()

    def poll_in(self, now: float) -> float:
        return self._next_poll - now

    def refresh(self) -> list[tuple[AttemptRow, T]]:
        """Count the workers' slots; mark silent workers lost; return (and forget) this run's
        attempts a lost worker held."""
        ledger = self.recorder.ledger
        live = ledger.list_workers(LIVE_STATES)
        mark_lost(self.recorder, live)
        self.slots = sum(
            row["slots"]
            for row in live
            if row["kind"] == "process"
            and row["state"] in ("idle", "busy")
            and row["run_id"] in (None, self.run_id)
            and not stale(row)
        )
        if not self._held:
            return []
        return [
            (attempt, self._held.pop(attempt["attempt_id"])[1])
            for attempt in ledger.orphaned_attempts(self.run_id)
            if attempt["attempt_id"] in self._held
        ]

    def reported(self) -> list[tuple[T, Outcome]]:
        """The outcomes workers reported since the last look (at most every POLL_SECONDS)."""
        now = time.monotonic()
        if now < self._next_poll:
            return []
        self._next_poll = now + POLL_SECONDS
        done = []
        for row in self.recorder.ledger.reported_attempts(self.run_id):
            if row["attempt_id"] in self._held and row["result"] is not None:
                done.append((self._held.pop(row["attempt_id"])[1], outcome_from(row["result"])))
        return done

    def take_back(self, worker_id: str) -> T | None:
        """The oldest attempt no worker claimed within the grace period, claimed for
        ``worker_id`` (the run's own threads), or None."""
        oldest = min((queued for queued, _ in self._held.values()), default=None)
        if oldest is None or time.monotonic() - oldest <= UNCLAIMED_GRACE_SECONDS:
            return None
        with self.recorder.ledger.transaction() as txn:
            claimed = txn.claim_attempt(worker_id, self.run_id)
        if claimed is None or claimed["attempt_id"] not in self._held:
            return None
        return self._held.pop(claimed["attempt_id"])[1]
