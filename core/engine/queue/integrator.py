"""The run's integrator: drives the merge queue from the orchestrator's thread.

It queues each verified patch, hands combination gate runs to the worker pool (recorded first,
like every dispatch), records their results, and lands the front patch once its exact tree has
passed. What landing or failing to land means for the patch's task (succeed, retry on the new
head, quarantine) stays with the orchestrator, through :class:`Consequences`.

Events: ``queue.entered`` (a patch joins, with its position), ``queue.gating`` (a combination
is gated: its tree and the patches under it), ``queue.gated`` (how that ended; ``stale`` when
its tree had left the chain meanwhile) and ``queue.ejected`` (a patch failed on the tree it
would land as, or does not apply on the head). Each combination's gate results are
gate_results rows with ``scope = 'combination'`` and the tree they judged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from core.engine import faults
from core.engine.gates import GateDefinition
from core.engine.patches.attempt import PatchOutcome
from core.engine.patches.flow import PatchFlow
from core.engine.patches.records import record_gates
from core.engine.patches.setup import steps_of
from core.engine.queue.merge import Item, MergeQueue, QueueJob, passed_trees
from core.engine.queue.window import Window
from core.engine.recorder import Changes, Recorder
from core.engine.workers import Job
from core.errors import IntegrationTampered
from core.state import PatchRow

log = logging.getLogger(__name__)


class Consequences(Protocol):
    """What the orchestrator does about a queued patch's fate."""

    def committed(self, ch: Changes, task_id: str, patch: PatchRow, commit: str) -> None: ...

    def not_integrated(
        self,
        ch: Changes,
        task_id: str,
        patch: PatchRow,
        trigger: str,
        reason: str,
        feedback: str | None,
    ) -> None:
        """``trigger``: ``fail_apply`` (does not apply on the head) or ``eject`` (a gate failed
        on its combination: ``feedback`` is what it said, for the task's next attempt)."""

    def tampered(self, task_ids: Sequence[str], patch: PatchRow, exc: IntegrationTampered) -> None:
        """The branch holds a commit UET did not make: the queued patches of ``task_ids``
        (``patch`` was about to land) never will."""

    def subject(self, task_id: str) -> str: ...


class Integrator:
    def __init__(
        self,
        recorder: Recorder,
        flow: PatchFlow,
        window: Window,
        consequences: Consequences,
        env_for: Callable[[Item, str], Mapping[str, str]],
    ) -> None:
        self.recorder = recorder
        self.flow = flow
        self.run_id = flow.run_id
        self.queue = MergeQueue(flow.branch, window)
        flow.queued = self.queue.__len__  # an attempt with patches ahead leaves gating to us
        self.consequences = consequences
        self.env_for = env_for
        self.gating: dict[str, QueueJob] = {}  # handed to workers, not yet back (canceled too)

    @property
    def idle(self) -> bool:
        return not self.queue and not self.gating

    @property
    def busy(self) -> int:
        """Worker slots the queue's gate runs take."""
        return len(self.gating)

    # -- joining the queue ---------------------------------------------------------------------

    def enqueue(
        self,
        ch: Changes,
        task_id: str,
        request: Mapping[str, Any],
        patch: PatchRow,
        results: Iterable[tuple[str | None, str, str]],
    ) -> None:
        """Queue a verified patch of the task with execution ``request``. ``results``:
        ``(tree, gate, state)`` of its gate runs so far (its attempt's; after a restart, every
        recorded one)."""
        gates = [self.flow.gates[name] for name in request.get("gates", ())]
        regated = tuple(gate for gate in gates if gate.regated)
        item = Item(
            patch,
            task_id,
            regated,
            blocking=tuple(gate.name for gate in gates if gate.blocking),
            passed=passed_trees(results, regated),
            setup=steps_of(request.get("setup")),
        )
        position = self.queue.add(item)
        ch.event(
            "queue.entered",
            run_id=self.run_id,
            task_id=task_id,
            attempt_id=patch["attempt_id"],
            subject_id=patch["patch_id"],
            payload={"position": position, "base": patch["base_commit"]},
        )

    # -- the worker side -----------------------------------------------------------------------

    def run(self, job: QueueJob) -> QueueJob:
        """Gate one combination (worker thread)."""
        return self.flow.gate_combination(job, self.env_for(job.item, job.id))

    def take(self, results: list[tuple[Job, Any]]) -> list[tuple[Job, Any]]:
        """Record the gate runs among ``results`` that are the queue's; return the others."""
        mine = [(job, result) for job, result in results if isinstance(job.payload, QueueJob)]
        if not mine:
            return results
        with self.recorder.transaction() as ch:
            for job, result in mine:
                self._gated(ch, job.payload, result)
        return [(job, result) for job, result in results if not isinstance(job.payload, QueueJob)]

    def _gated(self, ch: Changes, job: QueueJob, result: Any) -> None:
        self.gating.pop(job.id, None)
        item = job.item
        if isinstance(result, BaseException):
            log.error("gating patch %s on its combination failed: %s", item.patch_id, result)
            job.runs.clear()  # counts as not passed: an untested tree never lands
            item.failure = str(result)
        result_rows = PatchOutcome("verified", patch_id=item.patch_id, gate_runs=job.runs)
        record_gates(
            ch,
            result_rows,
            run_id=self.run_id,
            task_id=item.task_id,
            attempt_id=item.patch["attempt_id"],
        )
        stale = job.canceled or item not in self.queue.items
        passed = self.queue.gated(job)
        if not passed and not stale:
            said = [run.feedback for run in job.runs if run.feedback]
            item.feedback = "\n\n".join(said) or item.failure
            blocked = [run for run in job.runs if run.decision == "block"]
            item.verdict = "; ".join(f"gate {r.gate!r} {r.state}: {r.summary}" for r in blocked)
        ch.event(
            "queue.gated",
            run_id=self.run_id,
            task_id=item.task_id,
            attempt_id=item.patch["attempt_id"],
            subject_id=item.patch_id,
            payload={
                **job.document(),
                "passed": passed,
                "stale": stale,
                "window": self.queue.window.document(),
                **({"error": str(result)} if isinstance(result, BaseException) else {}),
            },
        )

    # -- moving the queue ----------------------------------------------------------------------

    def advance(self, submit: Callable[[Job], None]) -> bool:
        """Land what can land, eject what failed, start the gate runs the chain needs. True
        when a patch left the queue (its task's dependents may start)."""
        moved = False
        while self.queue:
            plan = self.queue.plan(self.flow.head)
            if plan.jobs:
                self._start(plan.jobs, submit)
            if plan.land is not None:
                assert plan.parent is not None  # noqa: S101 - a plan to land names the head
                if not self._land(plan.land, plan.parent):
                    return True  # the branch holds a foreign commit: nothing more lands
                moved = True
            elif plan.conflict is not None:
                item, conflict = plan.conflict
                reason = f"does not apply on {self.flow.branch.branch}: {conflict}"
                self._out(item, "fail_apply", reason)
                moved = True
            elif plan.eject is not None:
                item = plan.eject
                reason = (
                    f"{item.verdict or 'a blocking gate failed'}, on the tree it would land as "
                    f"(tree {(item.tree or '')[:12]}: {self.flow.branch.branch} at "
                    f"{self.flow.head[:12]} + the patch; it was verified on "
                    f"{item.patch['base_commit'][:12]})"
                )
                if item.failure:
                    reason = f"it could not be gated on the tree it would land as: {item.failure}"
                self._out(item, "eject", reason)
                moved = True
            else:
                break
        for job in self.queue.stale_jobs():
            self._stop(job)
        return moved

    def _start(self, jobs: Sequence[QueueJob], submit: Callable[[Job], None]) -> None:
        with self.recorder.transaction() as ch:
            for job in jobs:
                ch.event(
                    "queue.gating",
                    run_id=self.run_id,
                    task_id=job.item.task_id,
                    attempt_id=job.item.patch["attempt_id"],
                    subject_id=job.item.patch_id,
                    payload=job.document(),
                )
        for job in jobs:
            self.gating[job.id] = job
            submit(Job(job.id, job))

    def _land(self, item: Item, parent: str) -> bool:
        subject = self.consequences.subject(item.task_id)
        try:
            landing = self.flow.land_item(item, parent, subject)
        except IntegrationTampered as exc:
            dropped = self.drop_all()
            self.consequences.tampered([i.task_id for i in dropped], item.patch, exc)
            return False
        if landing.commit is None:
            return True  # the head moved under us (only UET moves it): plan again
        faults.point("after-land")
        self.queue.landed(item)
        with self.recorder.transaction() as ch:
            self.consequences.committed(ch, item.task_id, item.patch, landing.commit)
        return True

    def _out(self, item: Item, trigger: str, reason: str) -> None:
        self.queue.remove(item)
        with self.recorder.transaction() as ch:
            ch.event(
                "queue.ejected",
                run_id=self.run_id,
                task_id=item.task_id,
                attempt_id=item.patch["attempt_id"],
                subject_id=item.patch_id,
                payload={"reason": reason, "tree": item.tree, "trigger": trigger},
            )
            self.consequences.not_integrated(
                ch, item.task_id, item.patch, trigger, reason, item.feedback
            )

    def _stop(self, job: QueueJob) -> None:
        job.canceled = True
        for gate in job.item.gates:
            self.flow.processes.kill(f"{job.id}:gate:{gate.name}")

    # -- stopping ------------------------------------------------------------------------------

    def stop_all(self) -> None:
        """Stop every gate run in flight (their results are still taken in, as stale)."""
        for job in self.gating.values():
            self._stop(job)

    def drop_all(self) -> list[Item]:
        """Empty the queue (the run is canceled, or the branch was tampered with)."""
        self.stop_all()
        items = list(self.queue.items)
        for item in items:
            self.queue.remove(item)
        return items

    @property
    def gates(self) -> Mapping[str, GateDefinition]:
        return self.flow.gates


__all__ = ["Consequences", "Integrator"]
