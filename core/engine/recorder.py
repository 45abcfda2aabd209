"""Writing lifecycle transitions: the state change and its event, in one transaction.

Every change of state in UET goes through :class:`Changes`: it asks the lifecycle where the
trigger leads (refusing illegal edges before anything is written), updates the record only if it
is still in the state the caller saw (else :class:`ConcurrentUpdate` rolls the whole transaction
back), and queues the ``<machine>.<new state>`` event, appended in the same transaction.
The bus hears about the events once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core import clock
from core.engine.costs import gate_cost
from core.engine.events import EventBus, make_event
from core.engine.lifecycle import ATTEMPT, GATE, PATCH, RUN, TASK
from core.errors import ConcurrentUpdate
from core.state import (
    AttemptRow,
    CostRow,
    EventRow,
    GateResultRow,
    Ledger,
    LedgerTxn,
    PatchRow,
    RunRow,
    TaskRow,
)


class Changes:
    """The writes of one transaction, with their events."""

    def __init__(self, txn: LedgerTxn) -> None:
        self.txn = txn
        self.now = clock.now()
        self.events: list[EventRow] = []
        self.costs: list[CostRow] = []  # recorded in this transaction, in order

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append(make_event(kind, ts=self.now, **fields))

    # -- creation ------------------------------------------------------------------------------

    def new_run(self, run: RunRow, bundle_text: str, tasks: Sequence[TaskRow]) -> None:
        self.txn.insert_run(run, bundle_text)
        self.txn.insert_tasks(tasks)
        self.event(
            "run.pending",
            run_id=run["run_id"],
            payload={"tasks": len(tasks), "bundle": run["bundle_path"]},
        )

    def new_attempt(self, attempt: AttemptRow) -> None:
        self.txn.insert_attempt(attempt)
        self.event(
            "attempt.running",
            run_id=attempt["run_id"],
            task_id=attempt["task_id"],
            attempt_id=attempt["attempt_id"],
            payload={"attempt_no": attempt["attempt_no"]},
        )

    def new_patch(self, patch: PatchRow) -> None:
        """Record a captured patch; its history starts with every state it already passed."""
        self.txn.insert_patch(patch)
        previous = None
        for entry in patch["history"]:
            self.event(
                f"patch.{entry['state']}",
                run_id=patch["run_id"],
                task_id=patch["task_id"],
                attempt_id=patch["attempt_id"],
                subject_id=patch["patch_id"],
                payload=_payload(previous, entry.get("reason"), None),
            )
            previous = entry["state"]

    def record_costs(self, rows: list[CostRow]) -> None:
        """Record costs; those with money or tokens get a ``cost.recorded`` event."""
        self.txn.insert_costs(rows)
        self.costs.extend(rows)
        for row in rows:
            if row["amount"] or row["tokens_in"] or row["tokens_out"]:
                self.event(
                    "cost.recorded",
                    run_id=row["run_id"],
                    task_id=row["task_id"],
                    attempt_id=row["subject_id"] if row["subject_kind"] == "attempt" else None,
                    subject_id=row["cost_id"],
                    payload={
                        "tool": row["tool"],
                        "model": row["model"],
                        "amount": row["amount"],
                        "currency": row["currency"],
                        "tokens": row["tokens_in"] + row["tokens_out"],
                        "estimated": row["estimated"],
                    },
                )

    def gate_results(self, results: list[GateResultRow]) -> None:
        """Record finished gate runs, each with its ``gate.<state>`` event and its cost."""
        for result in results:
            if result["state"] not in GATE.states:
                raise ValueError(f"unknown gate state {result['state']!r}")
        self.txn.insert_gate_results(results)
        self.record_costs([gate_cost(r, workstream_id=None, now=self.now) for r in results])
        for result in results:
            payload: dict[str, Any] = {"gate": result["gate"], "decision": result["decision"]}
            if result["exit_code"] is not None:
                payload["exit_code"] = result["exit_code"]
            if result["totals"]:
                payload["totals"] = result["totals"]
            self.event(
                f"gate.{result['state']}",
                run_id=result["run_id"],
                task_id=result["task_id"],
                attempt_id=result["attempt_id"],
                subject_id=result["gate_result_id"],
                payload=payload,
            )

    # -- transitions ---------------------------------------------------------------------------

    def run(
        self,
        run_id: str,
        state: str,
        trigger: str,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        dest = RUN.next(state, trigger, run_id)
        if not self.txn.update_run(
            run_id, state, state=dest, state_reason=reason, updated_at=self.now, **fields
        ):
            raise ConcurrentUpdate("run", run_id, state)
        self.event(f"run.{dest}", run_id=run_id, payload=_payload(state, reason, payload))
        return dest

    def task(
        self,
        run_id: str,
        task_id: str,
        state: str,
        trigger: str,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        dest = TASK.next(state, trigger, task_id)
        if not self.txn.update_task(
            run_id, task_id, state, state=dest, state_reason=reason, updated_at=self.now, **fields
        ):
            raise ConcurrentUpdate("task", f"{run_id}/{task_id}", state)
        self.event(
            f"task.{dest}",
            run_id=run_id,
            task_id=task_id,
            payload=_payload(state, reason, payload),
        )
        return dest

    def attempt(
        self,
        run_id: str,
        task_id: str,
        attempt_id: str,
        state: str,
        trigger: str,
        *,
        payload: dict[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        dest = ATTEMPT.next(state, trigger, attempt_id)
        if not self.txn.update_attempt(attempt_id, state, state=dest, **fields):
            raise ConcurrentUpdate("attempt", attempt_id, state)
        self.event(
            f"attempt.{dest}",
            run_id=run_id,
            task_id=task_id,
            attempt_id=attempt_id,
            payload=_payload(state, fields.get("error"), payload),
        )
        return dest

    def patch(
        self,
        patch: PatchRow,
        trigger: str,
        *,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        **fields: Any,
    ) -> str:
        """Move ``patch`` (as last read) along ``trigger``; its history grows by one entry."""
        state, patch_id = patch["state"], patch["patch_id"]
        dest = PATCH.next(state, trigger, patch_id)
        entry = {"state": dest, "at": self.now, "reason": reason}
        if not self.txn.update_patch(
            patch_id,
            state,
            entry,
            state=dest,
            state_reason=reason,
            updated_at=self.now,
            **fields,
        ):
            raise ConcurrentUpdate("patch", patch_id, state)
        self.event(
            f"patch.{dest}",
            run_id=patch["run_id"],
            task_id=patch["task_id"],
            attempt_id=patch["attempt_id"],
            subject_id=patch_id,
            payload=_payload(state, reason, payload),
        )
        patch["state"] = dest
        patch["state_reason"] = reason
        patch["history"].append(entry)
        return dest


def _payload(
    previous: str | None, reason: str | None, extra: dict[str, Any] | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"from": previous} if previous else {}
    if reason:
        payload["reason"] = reason
    if extra:
        payload.update(extra)
    return payload


class Recorder:
    """Opens transactions on a ledger and publishes their events once committed."""

    def __init__(self, ledger: Ledger, bus: EventBus | None = None) -> None:
        self.ledger = ledger
        self.bus = bus or EventBus()

    @contextmanager
    def transaction(self) -> Iterator[Changes]:
        with self.ledger.transaction() as txn:
            changes = Changes(txn)
            yield changes
            if changes.events:
                txn.append_events(changes.events)
        self.bus.publish(changes.events)
