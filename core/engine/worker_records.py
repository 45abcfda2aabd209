"""Worker rows (worker_record.v1): registering, heartbeats, stopping, and noticing lost ones.

A worker writes its heartbeat every ``heartbeat_interval_seconds``; one silent for
:data:`LOST_AFTER` intervals is marked ``lost`` by whichever run notices first, and each run
then interrupts and requeues its attempts that worker held.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

from core import clock
from core.engine.lifecycle import WORKER
from core.engine.recorder import Changes, Recorder
from core.ids import new_id
from core.state import WorkerRow

LOST_AFTER = 3  # missed heartbeats
LIVE_STATES = ("starting", "idle", "busy", "draining")


def register(
    recorder: Recorder, kind: str, slots: int, interval: float, run_id: str | None = None
) -> str:
    """Record a new worker, ready to take work; return its id."""
    worker_id = new_id()
    now = clock.now()
    row: WorkerRow = {
        "worker_id": worker_id,
        "kind": kind,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "state": WORKER.initial,
        "state_reason": None,
        "run_id": run_id,
        "slots": slots,
        "heartbeat_at": now,
        "heartbeat_interval_seconds": interval,
        "started_at": now,
        "stopped_at": None,
        "updated_at": now,
    }
    with recorder.transaction() as ch:
        ch.txn.insert_worker(row)
        ch.event("worker.starting", subject_id=worker_id, payload={"kind": kind, "run_id": run_id})
        move(ch, worker_id, "starting", "ready")
    return worker_id


def move(
    ch: Changes,
    worker_id: str,
    state: str,
    trigger: str,
    *,
    reason: str | None = None,
    **fields: Any,
) -> bool:
    """Move a worker along ``trigger``; False (nothing written) if it is no longer in ``state``.
    Worker events belong to no run: a process worker serves many."""
    dest = WORKER.next(state, trigger, worker_id)
    if not ch.txn.update_worker(
        worker_id, state, state=dest, state_reason=reason, updated_at=ch.now, **fields
    ):
        return False
    payload = {"from": state, **({"reason": reason} if reason else {})}
    ch.event(f"worker.{dest}", subject_id=worker_id, payload=payload)
    return True


def stale(row: WorkerRow) -> bool:
    beat = row["heartbeat_at"] or row["started_at"]
    return clock.seconds_since(beat) > LOST_AFTER * row["heartbeat_interval_seconds"]


def mark_lost(recorder: Recorder, live: Sequence[WorkerRow]) -> list[str]:
    """Mark the workers of ``live`` (rows in LIVE_STATES) whose heartbeats stopped ``lost``;
    return their ids."""
    lost: list[str] = []
    candidates = [row for row in live if stale(row)]
    if not candidates:
        return lost
    with recorder.transaction() as ch:
        for row in candidates:
            silent = clock.seconds_since(row["heartbeat_at"] or row["started_at"])
            reason = f"no heartbeat for {silent:.0f}s"
            if move(ch, row["worker_id"], row["state"], "lose", reason=reason):
                lost.append(row["worker_id"])
    return lost


def worker_document(row: WorkerRow, activity: dict[str, Any] | None) -> dict[str, Any]:
    """The row as a worker_record.v1 document (current attempt and stats from attempts)."""
    activity = activity or {}
    running = activity.get("running", [])
    state = row["state"]
    if state == "idle" and running:
        state = "busy"
    return {
        "schema_version": "worker_record.v1",
        "worker_id": row["worker_id"],
        "kind": row["kind"],
        "host": row["host"],
        "pid": row["pid"],
        "state": state,
        "run_id": row["run_id"],
        "current_attempt_id": running[0] if running else None,
        "heartbeat_at": row["heartbeat_at"],
        "heartbeat_interval_seconds": row["heartbeat_interval_seconds"],
        "stats": {
            key: activity.get(key, 0) for key in ("attempts", "succeeded", "failed", "busy_seconds")
        },
        "started_at": row["started_at"],
        "stopped_at": row["stopped_at"],
    }
