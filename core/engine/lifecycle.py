"""The lifecycles of runs, tasks and attempts, declared once as data.

Each machine is one ``transitions.Machine`` built at import time with no model attached: records
stay plain ledger rows (building a machine per record costs milliseconds and memory per task),
and the machine answers one question, fast, from a table derived from it: from this state, where
does this trigger lead? An edge the machine lacks raises :class:`IllegalTransition` before
anything is written.

"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from core.errors import IllegalTransition

Edge = tuple[str, str | Sequence[str], str]  # (trigger, source state(s), destination state)


@dataclass(frozen=True)
class Lifecycle:
    """A state machine: its states, its edges, and the (state, trigger) -> state table."""

    name: str
    states: tuple[str, ...]
    initial: str
    machine: Any  # transitions.Machine (untyped library)
    table: dict[tuple[str, str], str]

    # Triggers that take a finished record back into play by hand (`uet task retry`); a state
    # whose only way out is one of them is still final for the engine.
    REOPENING = frozenset({"reopen"})

    @classmethod
    def declare(
        cls, name: str, states: Sequence[str], initial: str, edges: Sequence[Edge]
    ) -> Lifecycle:
        machine = Machine(
            model=None,
            states=list(states),
            initial=initial,
            transitions=[
                {"trigger": trigger, "source": source, "dest": dest}
                for trigger, source, dest in edges
            ],
            auto_transitions=False,
        )
        table: dict[tuple[str, str], str] = {}
        for trigger, event in machine.events.items():
            for source, candidates in event.transitions.items():
                table[(source, trigger)] = str(candidates[0].dest)
        return cls(name, tuple(states), initial, machine, table)

    def next(self, state: str, trigger: str, record_id: str = "?") -> str:
        """The state ``trigger`` leads to from ``state``; IllegalTransition if there is none."""
        try:
            return self.table[(state, trigger)]
        except KeyError:
            raise IllegalTransition(self.name, record_id, state, trigger) from None

    def can(self, state: str, trigger: str) -> bool:
        return (state, trigger) in self.table

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(self.machine.events)

    @property
    def final_states(self) -> frozenset[str]:
        sources = {source for source, trigger in self.table if trigger not in self.REOPENING}
        return frozenset(state for state in self.states if state not in sources)

    def illegal(self) -> Iterator[tuple[str, str]]:
        """Every (state, trigger) pair the machine refuses: what the tests walk through."""
        for state in self.states:
            for trigger in self.triggers:
                if (state, trigger) not in self.table:
                    yield state, trigger


RUN = Lifecycle.declare(
    "run",
    states=("pending", "running", "paused", "succeeded", "failed", "canceled"),
    initial="pending",
    edges=(
        ("start", "pending", "running"),
        ("pause", "running", "paused"),
        ("resume", "paused", "running"),
        ("succeed", "running", "succeeded"),
        ("fail", "running", "failed"),
        ("cancel", ("pending", "running", "paused"), "canceled"),
        ("reopen", "failed", "paused"),  # `uet task retry`: a failed task gets another go
    ),
)

TASK = Lifecycle.declare(
    "task",
    states=(
        "pending",
        "ready",
        "running",
        "retrying",
        "succeeded",
        "failed",
        "skipped",
        "canceled",
    ),
    initial="pending",
    edges=(
        ("release", ("pending", "retrying"), "ready"),  # dependencies met / backoff over
        ("start", "ready", "running"),
        ("succeed", "running", "succeeded"),
        ("fail", "running", "failed"),
        ("retry", "running", "retrying"),  # failed attempt, attempts left: wait, then release
        ("requeue", "running", "ready"),  # attempt interrupted (crash, Ctrl-C): run it again
        ("skip", ("pending", "ready"), "skipped"),  # an upstream task failed
        ("cancel", ("pending", "ready", "running", "retrying"), "canceled"),
        # before a start: its budget is used up, or no tool can take it
        ("exhaust", ("ready", "retrying"), "failed"),
        ("reuse", "pending", "succeeded"),  # --reuse-results: the same spec succeeded before
        ("reopen", ("failed", "skipped"), "pending"),  # `uet task retry`, and its dependents
    ),
)

ATTEMPT = Lifecycle.declare(
    "attempt",
    states=("running", "succeeded", "failed", "timed_out", "interrupted", "canceled"),
    initial="running",
    edges=(
        ("succeed", "running", "succeeded"),
        ("fail", "running", "failed"),
        ("time_out", "running", "timed_out"),
        ("interrupt", "running", "interrupted"),
        ("cancel", "running", "canceled"),
    ),
)

# A patch: "applied" means present in a private copy (the attempt's own, or a fresh one when a
# patch is requeued by hand); "committed" means landed on the integration branch.
PATCH = Lifecycle.declare(
    "patch",
    states=(
        "created",
        "validated",
        "rejected",
        "applied",
        "apply_failed",
        "requeued",
        "verified",
        "committed",
        "quarantined",
        "rolled_back",
        "dropped",
    ),
    initial="created",
    edges=(
        ("validate", "created", "validated"),  # policy and scope checks passed
        ("reject", ("created", "applied"), "rejected"),  # policy, or a blocking gate failed
        ("apply", ("validated", "requeued"), "applied"),
        ("verify", "applied", "verified"),  # every blocking gate passed
        ("commit", "verified", "committed"),  # landed on the integration branch
        ("fail_apply", ("verified", "requeued"), "apply_failed"),  # head moved: no 3-way apply
        # The merge queue: a blocking gate failed on the tree the patch would land as (and its
        # task runs again; with no attempts left the patch is quarantined instead).
        ("eject", "verified", "rejected"),
        ("quarantine", ("applied", "verified", "apply_failed"), "quarantined"),
        ("requeue", ("apply_failed", "quarantined"), "requeued"),
        ("drop", ("verified", "apply_failed", "quarantined"), "dropped"),
        ("roll_back", "committed", "rolled_back"),  # reverted on the integration branch
    ),
)

GATE = Lifecycle.declare(
    "gate",
    states=("pending", "running", "passed", "failed", "error", "skipped"),
    initial="pending",
    edges=(
        ("start", "pending", "running"),
        ("skip", "pending", "skipped"),  # nothing to check (no change) or a tool is missing
        ("pass", "running", "passed"),
        ("fail", "running", "failed"),
        ("error", "running", "error"),  # could not run: timeout, crash, not found
    ),
)

WORKER = Lifecycle.declare(
    "worker",
    states=("starting", "idle", "busy", "draining", "stopped", "lost"),
    initial="starting",
    edges=(
        ("ready", "starting", "idle"),
        ("take", "idle", "busy"),
        ("free", "busy", "idle"),
        ("drain", ("starting", "idle", "busy"), "draining"),  # SIGINT/SIGTERM
        ("stop", ("starting", "idle", "busy", "draining"), "stopped"),
        ("lose", ("starting", "idle", "busy", "draining"), "lost"),  # heartbeats stopped
    ),
)

# A tool's circuit breaker: open after repeated failures, half open (a few probe attempts)
# once the recovery time has passed, closed again when the probes succeed.
CIRCUIT = Lifecycle.declare(
    "circuit",
    states=("closed", "open", "half_open"),
    initial="closed",
    edges=(
        ("trip", ("closed", "half_open"), "open"),
        ("probe", "open", "half_open"),
        ("recover", "half_open", "closed"),
    ),
)

LIFECYCLES = {
    machine.name: machine for machine in (RUN, TASK, ATTEMPT, PATCH, GATE, WORKER, CIRCUIT)
}
