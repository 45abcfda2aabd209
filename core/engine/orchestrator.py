"""The orchestrator: drives one run's tasks to the end on a pool of workers.

One thread (the caller's) owns the run: it decides what starts, records every change in the
ledger, and hands jobs to worker threads only after the dispatch is committed. Per task that is
two transactions (start; outcome and its consequences), batched when many tasks start or end
together. The in-memory picture (ready heap, retry timers, dependency counters) is rebuilt from
the ledger on start, which is all resume needs.

Stopping:
- SIGINT/SIGTERM (Ctrl-C): no new attempts; running ones are stopped (their process groups get
  SIGTERM, then SIGKILL after a grace period), recorded ``interrupted``, their tasks requeued,
  and the run ``paused``, ready for ``uet resume``. A second signal stops waiting at once.
- ``uet cancel`` from another process marks the run ``canceled`` in the ledger; the
  orchestrator notices within ``poll_seconds`` and cancels what is left.
"""

from __future__ import annotations

import heapq
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core import clock
from core.engine.attempts import as_outcome, new_attempt, outcome_fields
from core.engine.costs import Budgets, Crossing, attempt_cost
from core.engine.execution import reaping, sandbox
from core.engine.execution.command import ProcessTable
from core.engine.execution.outcome import Outcome
from core.engine.execution.runner import AttemptRef, AttemptRunner, ToolCommand
from core.engine.execution.sandbox import require_isolation
from core.engine.lifecycle import TASK
from core.engine.options import RunOptions, RunResult
from core.engine.patches.attempt import WriteSpec
from core.engine.patches.flow import PatchFlow
from core.engine.patches.provenance import tampered_event
from core.engine.planning import PlanNode, plan
from core.engine.project import project_sandbox
from core.engine.queue import Item, QueueJob, Window
from core.engine.queue.integrator import Integrator
from core.engine.recorder import Changes, Recorder
from core.engine.recovery import kill_orphans, process_journal
from core.engine.remote import RemoteAttempts
from core.engine.retry import backoff_delay
from core.engine.routing.config import check_router
from core.engine.routing.dispatcher import ToolDispatcher
from core.engine.routing.strategies import Decision
from core.engine.stopping import on_stop_signals
from core.engine.worker_records import move, register
from core.engine.workers import Job, WorkerPool
from core.errors import ConcurrentUpdate, IntegrationTampered, RunNotFound
from core.ids import new_id
from core.state import Ledger, PatchRow, RunRow

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class _Task:
    id: str
    workstream: str
    seq: int
    state: str
    priority: int
    request: dict[str, Any]
    attempts: int
    max_attempts: int
    depends_on: tuple[str, ...]
    dependents: list[_Task] = field(default_factory=list)
    waiting: int = 0  # dependencies not yet satisfied
    rank: float = 0.0  # heaviest path to a sink: long chains start first
    failed_tools: list[str] = field(default_factory=list)  # tools of failed attempts (fallback)
    feedback: str | None = None  # why the last attempt failed, for the next agent prompt
    group: _Branches | None = None  # best_of_n / shadow: the round in flight

    def heap_key(self) -> tuple[int, float, int]:
        return (-self.priority, -self.rank, self.seq)


@dataclass(eq=False, slots=True)
class _Branches:
    """One round of a multi-branch task: its attempts, and the patches that passed."""

    decision: Decision
    pick: str  # best_of_n: "first" or "cheapest"
    pending: int  # branch attempts still running
    # (cost, attempt no, patch, its gate runs' (tree, gate, state))
    passed: list[tuple[float, int, PatchRow, list[tuple[str | None, str, str]]]] = field(
        default_factory=list
    )
    chosen: str | None = None  # the patch picked to land
    errors: list[str] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Active:
    task: _Task
    attempt_id: str
    attempt_no: int
    deadline: float | None  # call tasks: the orchestrator enforces their timeout
    write: WriteSpec | None = None  # writing tasks: copy, base, policy, gates
    command: ToolCommand | None = None  # tool tasks: the routed tool's command
    role: str = "primary"  # or "branch" (best_of_n), "shadow"
    remote: bool = False  # left in the ledger for a process worker to claim


_ATTEMPT_TRIGGER = {"succeeded": "succeed", "failed": "fail", "timed_out": "time_out"}


class Orchestrator:
    def __init__(
        self, ledger: Ledger, run_id: str, options: RunOptions, recorder: Recorder
    ) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.options = options
        self.recorder = recorder
        self.width = options.workers
        self.host = socket.gethostname()
        self.worker_id = ""  # registered when the run starts executing
        self.logs_dir = ledger.artifacts_dir / "logs" / run_id
        self.processes = ProcessTable(journal=reaping.Journal(process_journal(ledger, run_id)))
        self.runner = AttemptRunner(
            self.processes,
            self.logs_dir,
            dict(os.environ),
            options.log_max_bytes,
            options.kill_grace_seconds,
        )
        self._redact = self.runner.redact
        self._router: ToolDispatcher | None = None  # runs with tool tasks
        self._budgets: Budgets | None = None
        self._budget_pause: str | None = None  # a run/workstream budget is used up
        self._wake_at: float | None = None  # a rate limit refills, a circuit may be probed
        # Attempts left in the ledger for `uet worker` processes, and the slots they offer.
        self._remote = RemoteAttempts[_Active](recorder, run_id)
        self._tasks: dict[str, _Task] = {}
        self._policy: dict[str, str] = {}
        self._limit: dict[str, int | None] = {}
        self._running_in: Counter[str] = Counter()
        self._ready: list[tuple[tuple[int, float, int], _Task]] = []
        self._timers: list[tuple[float, int, _Task]] = []
        self._active: dict[str, _Active] = {}
        self._halt_reason: str | None = None  # fail_fast: start nothing more
        self._tampered: str | None = None  # the integration branch holds a foreign commit
        self._signal: str | None = None
        self._canceled = False
        self._next_poll = 0.0
        self._next_heartbeat = 0.0
        self._startable = True  # something may be ready to start: look before waiting
        self._flow: PatchFlow | None = None  # runs with writing tasks
        self._integrator: Integrator | None = None  # their merge queue

    # -- public ----------------------------------------------------------------------------------

    def execute(self) -> RunResult:
        """Run the run to its end (or until stopped) and report how it ended."""
        run = self._load()
        self.worker_id = register(
            self.recorder, "thread", self.width, self.options.heartbeat_seconds, self.run_id
        )
        self._poll_workers()
        pool = WorkerPool(self.width, self._run_job)
        try:
            with on_stop_signals(self._on_signal, self.options.handle_signals):
                with self.recorder.transaction() as ch:
                    self._claim(ch, run["state"])
                    if self._unsandboxed is not None:
                        # Said once per run (start or resume): its tools are not sandboxed.
                        log.warning("tools run without an OS sandbox: %s", self._unsandboxed)
                        ch.event(
                            "sandbox.unavailable",
                            run_id=self.run_id,
                            payload={"level": sandbox.PROCESSES, "reason": self._unsandboxed},
                        )
                    self._reconcile_landings(ch)
                    self._settle_pending(ch)
                return self._loop(pool)
        finally:
            pool.close()
            if self._flow is not None:
                self._flow.close()
            # Leaving with attempts still running means an error or a forced stop (second
            # Ctrl-C): their tools must not outlive us. The ledger still shows them running,
            # which is what `uet resume` expects after a crash.
            self.processes.signal_all(signal.SIGKILL)
            self.processes.sweep()  # every orphan left, whatever its pid
            self.processes.close()
            with self.recorder.transaction() as ch:
                move(ch, self.worker_id, "idle", "stop", stopped_at=ch.now)

    # -- loading -------------------------------------------------------------------------------

    def _load(self) -> RunRow:
        run = self.ledger.get_run(self.run_id)
        if run is None:
            raise RunNotFound(self.run_id)
        # The project profile is read again on resume: a sandbox it now requires holds.
        profile_mode = project_sandbox(Path(run["repo"])) if run["repo"] else None
        isolation = require_isolation(run["router"], profile_mode)
        mode, writable = sandbox.settings(run["router"], profile_mode)
        self.runner.isolation, self.runner.writable = isolation, writable
        # Without the sandbox that auto asked for, the run says so (turned off: as asked).
        self._unsandboxed: str | None = (
            isolation.reason if mode == "auto" and not isolation.sandboxed else None
        )
        if run["integration_branch"] is not None:
            self._flow = PatchFlow(
                self.ledger,
                run,
                processes=self.processes,
                logs_dir=self.logs_dir,
                keep_worktrees=self.options.keep_worktrees,
                log_max_bytes=self.options.log_max_bytes,
                kill_grace=self.options.kill_grace_seconds,
                isolation=isolation,
                writable=writable,
            )
            queue_config = next((ws["queue"] for ws in run["workstreams"] if ws.get("queue")), None)
            self._integrator = Integrator(
                self.recorder, self._flow, Window.from_config(queue_config), self, self._queue_env
            )
        for ws in run["workstreams"]:
            self._policy[ws["workstream_id"]] = ws.get("on_task_failure") or "skip_dependents"
            self._limit[ws["workstream_id"]] = ws.get("max_parallel")
        for row in self.ledger.list_tasks(self.run_id):
            request = row["request"]
            self._tasks[row["task_id"]] = _Task(
                id=row["task_id"],
                workstream=row["workstream_id"],
                seq=row["seq"],
                state=row["state"],
                priority=row["priority"],
                request=request,
                attempts=row["attempts"],
                max_attempts=row["max_attempts"],
                depends_on=tuple(request["depends_on"]),
            )
            if row["state"] == "retrying":
                self._schedule_retry(self._tasks[row["task_id"]], row["not_before"])
        for task in self._tasks.values():
            for dep in task.depends_on:
                self._tasks[dep].dependents.append(task)
        nodes = [
            PlanNode(t.id, t.depends_on, float(t.request.get("estimate_seconds", 1.0)), t.priority)
            for t in self._tasks.values()
        ]
        for task_id, rank in plan(nodes).rank.items():
            self._tasks[task_id].rank = rank
        for task in self._tasks.values():
            if task.state == "ready":
                self._push_ready(task)
        if run["router"] is not None:
            self._router = ToolDispatcher(
                self.ledger, check_router(run["router"], f"the router config of run {self.run_id}")
            )
        self._budgets = Budgets(
            self.run_id,
            run["budget"],
            {ws["workstream_id"]: ws.get("budget") for ws in run["workstreams"]},
            {t.id: t.request.get("budget") for t in self._tasks.values()},
            {t.id: t.workstream for t in self._tasks.values()},
        )
        self._budgets.load(self.ledger.list_costs(self.run_id))
        if any(t.attempts for t in self._tasks.values()):
            for attempt in self.ledger.list_attempts(self.run_id):
                if attempt["state"] in ("failed", "timed_out"):
                    task = self._tasks[attempt["task_id"]]
                    if attempt["tool"]:
                        task.failed_tools.append(attempt["tool"])
                    task.feedback = attempt["feedback"] or attempt["error"]
        return run

    def _claim(self, ch: Changes, state: str) -> None:
        owner: dict[str, Any] = {
            "owner_host": self.host,
            "owner_pid": os.getpid(),
            "heartbeat_at": ch.now,
        }
        if state == "pending":
            ch.run(self.run_id, state, "start", started_at=ch.now, **owner)
        elif state == "paused":
            ch.run(self.run_id, state, "resume", reason="resumed", **owner)
        elif not ch.txn.update_run(self.run_id, state, **owner):
            raise ConcurrentUpdate("run", self.run_id, state)

    def _reconcile_landings(self, ch: Changes) -> None:
        """Verified patches of a resumed run: mark those the branch already has (a crash came
        between the commit and its ledger write) committed; queue the others again, with
        every tree their gates passed on so far."""
        if self._flow is None or self._integrator is None:
            return
        waiting = self.ledger.list_patches(self.run_id, state="verified")
        if not waiting:
            return
        landed = self._flow.landed()
        for patch in waiting:
            task = self._tasks[patch["task_id"]]
            if task.state != "running":
                continue  # canceled or failed meanwhile: the patch stays verified, unlanded
            commit = landed.get(patch["patch_id"])
            if commit is not None:
                self._committed(ch, task, patch, commit, "found on the branch after a restart")
            else:
                rows = self.ledger.list_gate_results(patch_id=patch["patch_id"])
                results = [(row["tree_sha"], row["gate"], row["state"]) for row in rows]
                self._integrator.enqueue(ch, task.id, task.request, patch, results)

    def _settle_pending(self, ch: Changes) -> None:
        """Release pending tasks whose dependencies are met; skip those that can never run."""
        for task in sorted(self._tasks.values(), key=lambda t: t.seq):
            if task.state != "pending":
                continue
            waiting = 0
            for dep in task.depends_on:
                state = self._tasks[dep].state
                if state == "succeeded" or (state == "failed" and self._continues(dep)):
                    continue
                if state in ("failed", "skipped", "canceled"):
                    self._skip_downstream(ch, self._tasks[dep], f"upstream task {dep!r} {state}")
                    break
                waiting += 1
            else:
                task.waiting = waiting
                if waiting == 0:
                    self._release(ch, task)

    def _continues(self, task_id: str) -> bool:
        return self._policy[self._tasks[task_id].workstream] == "continue"

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self, pool: WorkerPool) -> RunResult:
        while True:
            if self._signal is not None:
                return self._halt(pool, "interrupt")
            if self._canceled:
                return self._halt(pool, "cancel")
            results = pool.collect(0 if self._startable else self._wait_time())
            if self._integrator is not None:
                results = self._integrator.take(results)  # the merge queue's gate runs
            if self._remote:
                results.extend(self._remote_results(pool))
            expired = self._expired_calls()
            due = self._due_retries()
            if results or expired or due or self._startable:
                # One transaction per turn: record what ended, then start what can start.
                # Jobs are handed to workers only once their start is committed.
                for active in self._step(results, expired, due):
                    if not active.remote:
                        pool.submit(Job(active.attempt_id, active))
                for _ in expired:
                    pool.replace_stuck_worker()
            queue = self._integrator
            if queue is not None and queue.queue and self._signal is None and not self._canceled:
                moved = queue.advance(pool.submit)
                self._startable = self._startable or moved  # dependents released, retries
            integrating = queue is not None and not queue.idle
            if self._budget_pause is not None and not self._active and not integrating:
                return self._pause(self._budget_pause)
            if not self._active and not self._ready and not self._timers and not integrating:
                return self._finish(pool)
            self._tick()

    def _step(
        self,
        results: list[tuple[Job, Outcome | BaseException]],
        expired: list[_Active],
        due: list[_Task],
    ) -> list[_Active]:
        with self.recorder.transaction() as ch:
            for job, result in results:
                active = self._active.pop(job.attempt_id, None)
                if active is None:  # an abandoned call finishing late
                    continue
                outcome = as_outcome(result)
                if outcome.state == "interrupted":  # its process worker was stopped
                    self._stopped(ch, active, outcome, "interrupt", outcome.error or "interrupted")
                else:
                    self._apply(ch, active, outcome)
            for active in expired:
                timeout = float(active.task.request["timeout_seconds"])
                error = (
                    f"timed out after {timeout:g}s (a call cannot be killed: it runs on until it "
                    "returns, and its result is discarded)"
                )
                del self._active[active.attempt_id]
                self._apply(ch, active, Outcome("timed_out", timeout, error=error))
            for task in due:
                if task.state == "retrying":
                    self._release(ch, task, not_before=None)
            started: list[_Active] = []
            for task, decision in self._pick(ch):
                started.extend(self._start(ch, task, decision))
        self._startable = False  # until something ends or a retry comes due
        return started

    def _pick(self, ch: Changes) -> list[tuple[_Task, Decision | None]]:
        """Ready tasks to start now: by priority, within free slots, workstream limits and
        budgets; tool tasks routed, within their tools' circuits, caps and rate limits."""
        picked: list[tuple[_Task, Decision | None]] = []
        deferred: list[tuple[tuple[int, float, int], _Task]] = []
        local = self.width - (len(self._active) - len(self._remote))
        if self._integrator is not None:
            local -= self._integrator.busy  # the merge queue's gate runs take slots too
        slots = local + self._remote.free
        if self._router is not None:
            self._router.new_turn()
        while slots > 0 and self._ready and self._budget_pause is None:
            entry = heapq.heappop(self._ready)
            task = entry[1]
            if task.state != "ready":
                continue  # skipped or canceled while queued
            limit = self._limit.get(task.workstream)
            if limit is not None and self._running_in[task.workstream] >= limit:
                deferred.append(entry)
                continue
            if not self._within_budget(ch, task):
                if task.state == "ready":  # the run pauses; a task out of budget has failed
                    deferred.append(entry)
                continue
            decision = None
            if self._router is not None and task.request.get("route"):
                decision = self._route(task)
                if decision is None:
                    deferred.append(entry)
                    continue
                if not decision.chosen:  # nothing will ever take it
                    reason = f"no tool can take it: {decision.reason}"
                    self._transition(ch, task, "exhaust", reason=reason, finished_at=ch.now)
                    self._after_failure(ch, task)
                    continue
            width = len(decision.chosen) if decision else 1
            room = local if task.request.get("writes") else slots  # writing tasks run here
            if width > room and self._active:
                deferred.append(entry)  # the branches start together, when there is room
                continue
            if decision is not None and self._router is not None:
                self._router.take(ch, decision.chosen, self.run_id)  # counts for the next pick
            picked.append((task, decision))
            self._running_in[task.workstream] += width
            local -= min(width, max(local, 0))
            slots -= width
        for entry in deferred:
            heapq.heappush(self._ready, entry)
        return picked

    def _route(self, task: _Task) -> Decision | None:
        """The tools for the task's next attempt(s), or None (after arranging to look again)
        when none may start now: circuits open, caps full, rate limits spent."""
        router = self._router
        assert router is not None  # noqa: S101 - only tool tasks are routed
        decision = router.decide(task.request, task.failed_tools)
        if decision.chosen:
            wait = router.blocked(decision.chosen)
        elif router.held_back(decision):  # circuits: wait for a probe, or for it to report
            wait = router.wake_in() or self.options.poll_seconds  # (a probe of another run)
        else:
            return decision  # no candidate can ever take it
        if wait is None:
            return decision
        if wait:  # 0 or None: woken by an attempt ending
            wake = time.monotonic() + wait
            self._wake_at = wake if self._wake_at is None else min(self._wake_at, wake)
        return None

    def _within_budget(self, ch: Changes, task: _Task) -> bool:
        """Before a dispatch: a used-up run or workstream budget pauses the run; a used-up
        task budget fails the task."""
        assert self._budgets is not None  # noqa: S101 - set by _load
        shared, own = self._budgets.exhausted(task.id, task.workstream)
        if shared is not None:
            self._pause_for_budget(shared)
            return False
        if own is not None:
            self._transition(ch, task, "exhaust", reason=own.describe(), finished_at=ch.now)
            self._after_failure(ch, task)
            return False
        return True

    def _pause_for_budget(self, crossing: Crossing) -> None:
        if self._budget_pause is None:
            self._budget_pause = (
                f"budget exceeded: {crossing.describe()}; continue with "
                f"`uet resume {self.run_id} --budget-usd X` (or --budget-tokens, "
                "--budget-wall-seconds)"
            )

    def _due_retries(self) -> list[_Task]:
        now = time.monotonic()
        due: list[_Task] = []
        while self._timers and self._timers[0][0] <= now and self._halt_reason is None:
            due.append(heapq.heappop(self._timers)[2])
        return due

    def _expired_calls(self) -> list[_Active]:
        now = time.monotonic()
        return [a for a in self._active.values() if a.deadline is not None and now >= a.deadline]

    def _wait_time(self) -> float:
        now = time.monotonic()
        wait = min(self._next_poll, self._next_heartbeat) - now
        if self._wake_at is not None:
            wait = min(wait, self._wake_at - now)
        if self._timers:
            wait = min(wait, self._timers[0][0] - now)
        for active in self._active.values():
            if active.deadline is not None:
                wait = min(wait, active.deadline - now)
        if self._remote:
            wait = min(wait, self._remote.poll_in(now))
        return max(0.0, min(wait, self.options.poll_seconds))

    def _start(self, ch: Changes, task: _Task, decision: Decision | None) -> list[_Active]:
        """Start the task's next attempt: one, or one per branch of a multi-branch route."""
        tools: list[str | None] = list(decision.chosen) if decision else [None]
        first = {"started_at": ch.now} if task.attempts == 0 else {}
        self._transition(ch, task, "start", attempts=task.attempts + len(tools), **first)
        request = task.request
        if decision is not None and len(tools) > 1:
            pick = request["route"]["pick"] if decision.strategy == "best_of_n" else "first"
            task.group = _Branches(decision, pick, pending=len(tools))
        started = []
        for index, tool in enumerate(tools):
            task.attempts += 1
            attempt_id = new_id()
            local_busy = len(self._active) - len(self._remote)
            remote = (
                not request.get("writes") and local_busy >= self.width and self._remote.free > 0
            )
            row = new_attempt(
                self.run_id,
                task.id,
                attempt_id,
                task.attempts,
                request,
                None if remote else self.worker_id,
                ch.now,
            )
            active = _Active(task, attempt_id, task.attempts, None)
            if remote:
                active.remote = True
                self._remote.add(attempt_id, active)
            if request.get("writes") and self._flow is not None:
                active.write = self._flow.prepare(task.id, task.attempts, request)
                row["worktree"] = str(active.write.worktree)
            if decision is not None and tool is not None:
                assert self._router is not None  # noqa: S101
                active.role = decision.role(index)
                stem = self.logs_dir / f"{task.id}.{task.attempts}"
                active.command = self._router.command(
                    tool,
                    request,
                    worktree=active.write.worktree if active.write else Path(request["cwd"]),
                    feedback=task.feedback,
                    prompt_path=Path(f"{stem}.prompt.md"),
                )
                row["tool"], row["argv"], row["role"] = tool, active.command.argv, active.role
            row["kind"] = request.get("kind")
            ch.new_attempt(row)
            if decision is not None:
                ch.event(
                    "route.decided",
                    run_id=self.run_id,
                    task_id=task.id,
                    attempt_id=attempt_id,
                    subject_id=tool,
                    payload={**decision.document(), "role": active.role},
                )
            timeout = request.get("timeout_seconds")
            if request["action"] == "call" and timeout:
                active.deadline = time.monotonic() + float(timeout)
            self._active[attempt_id] = active
            started.append(active)
        return started

    # -- executing (worker threads) ------------------------------------------------------------

    def _run_job(self, job: Job) -> Outcome | QueueJob:
        if isinstance(job.payload, QueueJob):
            assert self._integrator is not None  # noqa: S101 - only the queue makes these
            return self._integrator.run(job.payload)
        active: _Active = job.payload
        request = active.task.request
        ref = AttemptRef(self.run_id, active.task.id, active.attempt_id, active.attempt_no)
        if active.write is None or self._flow is None:
            return self.runner.run(ref, request, active.command)
        env = self.runner.env(ref, request, active.command)
        env["UET_WORKTREE"] = str(active.write.worktree)
        return self._flow.execute(
            active.write,
            lambda cwd, confinement: self.runner.command(
                ref, request, active.command, cwd, env, confinement
            ),
            env,
            f"{active.task.id}.{active.attempt_no}",
            active.attempt_id,
            network=active.command.network if active.command else False,
            user_home=active.command.user_home if active.command else False,
        )

    # -- recording outcomes --------------------------------------------------------------------

    def _apply(self, ch: Changes, active: _Active, outcome: Outcome) -> None:
        task = active.task
        self._running_in[task.workstream] -= 1
        outcome = self._redacted(outcome)
        patch_fields: dict[str, Any] = {}
        if outcome.patch is not None:
            patch_fields = {"patch_id": outcome.patch.patch_id, "feedback": outcome.patch.feedback}
        if outcome.usage is not None:
            patch_fields["usage"] = outcome.usage.document()
        ch.attempt(
            self.run_id,
            task.id,
            active.attempt_id,
            "running",
            _ATTEMPT_TRIGGER[outcome.state],
            payload={
                "attempt_no": active.attempt_no,
                "exit_code": outcome.exit_code,
                "duration_seconds": round(outcome.duration_seconds, 6),
            },
            **outcome_fields(outcome, ch.now),
            **patch_fields,
        )
        recorded = len(ch.costs)
        verified = None
        if outcome.patch is not None and self._flow is not None:
            verified = self._flow.record(
                ch,
                task_id=task.id,
                attempt_id=active.attempt_id,
                attempt_no=active.attempt_no,
                request=task.request,
                result=outcome.patch,
                tool=active.command.tool if active.command else task.request.get("tool"),
            )
        gate_seconds = sum(row["wall_seconds"] or 0.0 for row in ch.costs[recorded:])
        tool = active.command.tool if active.command else None
        cost = attempt_cost(
            outcome,
            attempt_id=active.attempt_id,
            run_id=self.run_id,
            task_id=task.id,
            workstream_id=task.workstream,
            tool=self._router.tool(tool) if self._router and tool else None,
            now=ch.now,
            gate_seconds=gate_seconds,
        )
        ch.record_costs([cost])
        self._count_costs(ch, ch.costs[recorded:])
        if tool is not None and self._router is not None:
            self._router.finished(ch, tool, not outcome.tool_failed, self.run_id, outcome.error)
        if not outcome.succeeded:
            if tool is not None:
                task.failed_tools.append(tool)
            task.feedback = (outcome.patch.feedback if outcome.patch else None) or outcome.error
        if active.role == "shadow":
            if verified is not None:
                reason = "shadow attempt: recorded for comparison, never integrated"
                ch.patch(verified, "drop", reason=reason)
            return
        if active.role == "branch" and task.group is not None:
            self._branch_ended(ch, active, outcome, verified, cost["amount"])
            return
        if verified is not None:  # the task succeeds once its patch lands
            self._enqueue(ch, task, verified, outcome)
            return
        if outcome.succeeded:
            self._transition(ch, task, "succeed", output=outcome.output, finished_at=ch.now)
            self._unblock(ch, task)
            return
        retryable = outcome.retryable
        if not retryable and tool is not None and outcome.tool_failed:
            # A tool that cannot start (missing, not executable): another candidate may.
            retryable = len(set(task.request["route"]["candidates"]) - set(task.failed_tools)) > 0
        self._attempt_failed(ch, task, retryable, outcome.error)

    def _attempt_failed(self, ch: Changes, task: _Task, retryable: bool, error: str | None) -> None:
        """Retry the task after a backoff while it has attempts (and budget) left; else fail."""
        assert self._budgets is not None  # noqa: S101
        _, used_up = self._budgets.exhausted(task.id, task.workstream)
        if used_up is not None:
            error = f"{error}; no retry: {used_up.describe()}" if error else used_up.describe()
        elif retryable and task.attempts < task.max_attempts and self._halt_reason is None:
            delay = backoff_delay(task.attempts, task.request["retry"])
            not_before = clock.after(delay)
            self._transition(
                ch,
                task,
                "retry",
                reason=error,
                payload={"delay_seconds": round(delay, 3), "next_attempt": task.attempts + 1},
                not_before=not_before,
            )
            heapq.heappush(self._timers, (time.monotonic() + delay, task.seq, task))
            return
        self._transition(ch, task, "fail", reason=error, finished_at=ch.now)
        self._after_failure(ch, task)

    def _branch_ended(
        self,
        ch: Changes,
        active: _Active,
        outcome: Outcome,
        verified: PatchRow | None,
        amount: float,
    ) -> None:
        """A best_of_n branch ended. ``first``: the first patch to pass lands; ``cheapest``:
        once every branch is done, the cheapest passing patch lands. The others are dropped."""
        task = active.task
        group = task.group
        assert group is not None  # noqa: S101 - only branches of a multi-branch round get here
        group.pending -= 1
        if verified is None:
            tool = active.command.tool if active.command else "?"
            group.errors.append(f"{tool}: {outcome.error or 'no patch'}")
        elif group.chosen is not None:
            ch.patch(verified, "drop", reason=f"best_of_n: patch {group.chosen} lands instead")
        elif group.pick == "first":
            group.chosen = verified["patch_id"]
            self._enqueue(ch, task, verified, outcome)
        else:
            runs = _gate_results(outcome)
            group.passed.append((amount, active.attempt_no, verified, runs))
        if group.pending:
            return
        task.group = None
        if group.chosen is None and group.passed:
            group.passed.sort(key=lambda entry: entry[:2])
            cost, _, best, results = group.passed[0]
            group.chosen = best["patch_id"]
            assert self._integrator is not None  # noqa: S101 - writing tasks have a queue
            self._integrator.enqueue(ch, task.id, task.request, best, results)
            for _, _, other, _ in group.passed[1:]:
                reason = f"best_of_n: the cheapest passing patch {group.chosen} (${cost:.4f}) lands"
                ch.patch(other, "drop", reason=reason)
        if group.chosen is None and task.state == "running":
            self._attempt_failed(ch, task, True, "no branch passed: " + "; ".join(group.errors))

    def _count_costs(self, ch: Changes, rows: list[Any]) -> None:
        """Count new costs against the budgets; announce the lines they cross."""
        assert self._budgets is not None  # noqa: S101
        for row in rows:
            for crossing in self._budgets.add(row):
                kind = "budget.exceeded" if crossing.exceeded else "budget.warning"
                ch.event(
                    kind,
                    run_id=self.run_id,
                    task_id=crossing.subject if crossing.scope == "task" else None,
                    payload={**crossing.payload(), "reason": crossing.describe()},
                )
                if crossing.exceeded and crossing.scope != "task":
                    self._pause_for_budget(crossing)

    def _redacted(self, outcome: Outcome) -> Outcome:
        """The outcome with the environment's secrets taken out of what gets stored."""
        if not self._redact:
            return outcome
        # Logs are redacted where they are written (tool and gate logs); here the texts.
        return replace(
            outcome,
            error=self._redact.value(outcome.error),
            output=self._redact.value(outcome.output),
        )

    # -- the merge queue (its consequences for tasks) ------------------------------------------

    def _enqueue(self, ch: Changes, task: _Task, patch: PatchRow, outcome: Outcome) -> None:
        assert self._integrator is not None  # noqa: S101 - writing tasks have a queue
        self._integrator.enqueue(ch, task.id, task.request, patch, _gate_results(outcome))

    def _queue_env(self, item: Item, job_id: str) -> dict[str, str]:
        """The environment of a merge queue gate run: its task's, under the job's own id."""
        task = self._tasks[item.task_id]
        ref = AttemptRef(self.run_id, task.id, job_id, item.patch["attempt_no"] or 0)
        return self.runner.env(ref, task.request, None)

    def subject(self, task_id: str) -> str:
        """The subject line of the commit a task's patch lands as."""
        tool = self._tasks[task_id].request.get("tool")
        return f"uet: {task_id}" + (f" ({tool})" if tool else "")

    def committed(self, ch: Changes, task_id: str, patch: PatchRow, commit: str) -> None:
        self._committed(ch, self._tasks[task_id], patch, commit, None)

    def tampered(self, task_ids: Sequence[str], patch: PatchRow, exc: IntegrationTampered) -> None:
        """The branch holds a commit UET did not make: the run fails with that reason. Nothing
        more starts or lands; the patches stay verified (their tasks are not to blame)."""
        self._tampered = str(exc)
        with self.recorder.transaction() as ch:
            tampered_event(ch, exc, task_id=patch["task_id"], patch_id=patch["patch_id"])
            for other in self._tasks.values():
                if other.state in ("pending", "ready", "retrying"):
                    self._transition(ch, other, "cancel", reason=self._tampered)
            for task_id in task_ids:
                reason = f"its patch did not land: {self._tampered}"
                self._transition(ch, self._tasks[task_id], "fail", reason=reason)
        self._halt_reason = self._tampered
        self._ready.clear()
        self._timers.clear()

    def _committed(
        self, ch: Changes, task: _Task, patch: PatchRow, commit: str, note: str | None
    ) -> None:
        assert self._flow is not None  # noqa: S101
        ch.patch(
            patch,
            "commit",
            reason=note or f"landed on {self._flow.branch.branch} as {commit[:12]}",
            payload={"commit": commit},
            integration_branch=self._flow.branch.branch,
            commit_sha=commit,
            applied_at=ch.now,
        )
        self._transition(ch, task, "succeed", finished_at=ch.now)
        self._unblock(ch, task)

    def not_integrated(
        self,
        ch: Changes,
        task_id: str,
        patch: PatchRow,
        trigger: str,
        reason: str,
        feedback: str | None = None,
    ) -> None:
        """The patch will not land: it does not apply on the head (``fail_apply``) or a gate
        failed on its combination (``eject``). Retry the task on the new head, or quarantine
        the patch when the task has no attempts left."""
        assert self._flow is not None  # noqa: S101
        task = self._tasks[task_id]
        task.feedback = feedback or reason  # what the next attempt (an agent's prompt) is told
        retry = task.attempts < task.max_attempts and self._halt_reason is None
        if retry or trigger != "eject":  # an ejected patch with no retry left: quarantined
            ch.patch(patch, trigger, reason=reason)
        self._flow.remember_failure(patch)
        if retry:
            self._transition(
                ch,
                task,
                "retry",
                reason=f"patch {patch['patch_id']} {reason}; retrying on the new head",
                payload={"delay_seconds": 0, "next_attempt": task.attempts + 1},
                not_before=ch.now,
            )
            heapq.heappush(self._timers, (time.monotonic(), task.seq, task))
            return
        copy = self._flow.quarantine_copy(patch)
        why = (
            "the task has no attempts left" if trigger != "eject" else f"{reason}; no attempt left"
        )
        ch.patch(patch, "quarantine", reason=why, quarantine_path=copy)
        self._transition(ch, task, "fail", reason=f"patch {reason}", finished_at=ch.now)
        self._after_failure(ch, task)

    def _after_failure(self, ch: Changes, task: _Task) -> None:
        policy = self._policy[task.workstream]
        if policy == "continue":
            self._unblock(ch, task)
        elif policy == "fail_fast":
            self._halt_reason = f"task {task.id!r} failed and its workstream fails fast"
            for other in self._tasks.values():
                if other.state in ("pending", "ready", "retrying"):
                    self._transition(ch, other, "cancel", reason=self._halt_reason)
            self._ready.clear()
            self._timers.clear()
        else:
            self._skip_downstream(ch, task, f"upstream task {task.id!r} failed")

    def _unblock(self, ch: Changes, task: _Task) -> None:
        for dependent in task.dependents:
            dependent.waiting -= 1
            if dependent.waiting == 0 and dependent.state == "pending":
                self._release(ch, dependent)

    def _skip_downstream(self, ch: Changes, root: _Task, reason: str) -> None:
        stack = list(root.dependents)
        while stack:
            task = stack.pop()
            if TASK.can(task.state, "skip"):
                self._transition(ch, task, "skip", reason=reason)
                stack.extend(task.dependents)

    def _release(self, ch: Changes, task: _Task, **fields: Any) -> None:
        self._transition(ch, task, "release", **fields)
        self._push_ready(task)

    def _transition(self, ch: Changes, task: _Task, trigger: str, **fields: Any) -> None:
        task.state = ch.task(self.run_id, task.id, task.state, trigger, **fields)

    def _push_ready(self, task: _Task) -> None:
        heapq.heappush(self._ready, (task.heap_key(), task))

    def _schedule_retry(self, task: _Task, not_before: str | None) -> None:
        delay = max(0.0, clock.seconds_until(not_before)) if not_before else 0.0
        heapq.heappush(self._timers, (time.monotonic() + delay, task.seq, task))

    def _tick(self) -> None:
        now = time.monotonic()
        if self._wake_at is not None and now >= self._wake_at:
            self._wake_at = None
            self._startable = True  # a rate limit refilled, or a circuit may be probed
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.options.heartbeat_seconds
            with self.ledger.transaction() as txn:
                beat = clock.now()
                alive = txn.update_run(self.run_id, "running", heartbeat_at=beat)
                txn.update_worker(self.worker_id, None, heartbeat_at=beat)
            if not alive:
                self._next_poll = now  # someone changed the run: look now
        if now >= self._next_poll:
            self._next_poll = now + self.options.poll_seconds
            run = self.ledger.get_run(self.run_id)
            if run is not None and run["state"] == "canceled":
                self._canceled = True
            self._poll_workers()

    # -- process workers ---------------------------------------------------------------------

    def _poll_workers(self) -> None:
        """Count the slots `uet worker` processes offer this run; take back the attempts a
        lost worker held (interrupted, their tasks requeued, their tools killed)."""
        orphans = self._remote.refresh()
        if not orphans:
            return
        with self.recorder.transaction() as ch:
            for attempt, active in orphans:
                del self._active[active.attempt_id]
                why = f"interrupted: worker {attempt['worker_id']} was lost"
                self._stopped(ch, active, None, "interrupt", why)
        for attempt, _ in orphans:  # its tool must not run on beside the attempt replacing it
            kill_orphans(self.run_id, attempt_id=attempt["attempt_id"])
        self._startable = True

    def _remote_results(self, pool: WorkerPool) -> list[tuple[Job, Outcome | BaseException]]:
        """Outcomes process workers reported; an attempt no worker claimed in time runs here."""
        results: list[tuple[Job, Outcome | BaseException]] = [
            (Job(active.attempt_id, active), outcome) for active, outcome in self._remote.reported()
        ]
        if len(self._active) - len(self._remote) - len(results) < self.width:
            active = self._remote.take_back(self.worker_id)
            if active is not None:
                active.remote = False
                pool.submit(Job(active.attempt_id, active))
        return results

    # -- ending --------------------------------------------------------------------------------

    def _finish(self, pool: WorkerPool) -> RunResult:
        failed = [t.id for t in self._tasks.values() if t.state == "failed"]
        try:
            with self.recorder.transaction() as ch:
                for task in self._tasks.values():
                    if task.state not in TASK.final_states:  # defensive: nothing should be left
                        self._transition(ch, task, "cancel", reason="never became ready")
                end: dict[str, Any] = {"finished_at": ch.now, "owner_pid": None, "owner_host": None}
                if failed:
                    shown = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
                    reason = self._tampered or f"{len(failed)} task(s) failed: {shown}"
                    ch.run(self.run_id, "running", "fail", reason=reason, **end)
                    return self._result("failed", reason)
                ch.run(self.run_id, "running", "succeed", **end)
                return self._result("succeeded", None)
        except ConcurrentUpdate:
            self._canceled = True  # canceled from outside in the meantime
            return self._halt(pool, "cancel")

    def _halt(self, pool: WorkerPool, mode: str) -> RunResult:
        """Stop running attempts; record them interrupted (mode interrupt) or canceled."""
        grace = self.options.kill_grace_seconds
        # Attempts of process workers: recorded stopped here; each worker sees that and kills
        # its tool.
        leftovers: list[tuple[_Active, Outcome | None]] = [
            (self._active.pop(attempt_id), None) for attempt_id in self._remote
        ]
        self._remote.clear()
        if self._integrator is not None:
            self._integrator.stop_all()  # the queue's gate runs: their results are not needed
        if self._active:
            self.processes.signal_all(signal.SIGTERM)
        returned: list[tuple[_Active, Outcome]] = []
        kill_at = time.monotonic() + grace
        give_up = kill_at + grace
        while self._active and time.monotonic() < give_up:
            if time.monotonic() >= kill_at:
                self.processes.signal_all(signal.SIGKILL)
                kill_at = give_up
            for job, result in pool.collect(0.1):
                active = self._active.pop(job.attempt_id, None)
                if active is not None:
                    returned.append((active, as_outcome(result)))
        leftovers += [(a, None) for a in self._active.values()]  # calls that would not stop
        self._active.clear()
        trigger = "interrupt" if mode == "interrupt" else "cancel"
        why = f"interrupted by {self._signal}" if mode == "interrupt" else "run canceled"
        with self.recorder.transaction() as ch:
            for active, outcome in [*returned, *leftovers]:
                if outcome is not None and outcome.succeeded:
                    self._apply(ch, active, outcome)  # it finished: keep the work
                    continue
                self._stopped(ch, active, outcome, trigger, why)
            end: dict[str, Any] = {"owner_pid": None, "owner_host": None}
            if mode == "interrupt":
                reason = f"{why}; continue with `uet resume {self.run_id}`"
                ch.run(self.run_id, "running", "pause", reason=reason, **end)
                return self._result("paused", reason)
            for task in self._tasks.values():
                if TASK.can(task.state, "cancel"):
                    self._transition(ch, task, "cancel", reason=why)
            if self._integrator is not None:
                for item in self._integrator.drop_all():
                    ch.patch(item.patch, "drop", reason=f"never landed: {why}")
            ch.txn.update_run(self.run_id, "canceled", finished_at=ch.now, **end)
            run = self.ledger.get_run(self.run_id)
            return self._result("canceled", run["state_reason"] if run else why)

    def _stopped(
        self, ch: Changes, active: _Active, outcome: Outcome | None, trigger: str, why: str
    ) -> None:
        """Record an attempt stopped from outside (``interrupt``: its task runs again;
        ``cancel``: its task is canceled)."""
        fields = outcome_fields(outcome, ch.now) if outcome else {"finished_at": ch.now}
        fields["error"] = why
        ch.attempt(self.run_id, active.task.id, active.attempt_id, "running", trigger, **fields)
        if trigger == "interrupt":  # not the task's fault: it does not use up an attempt
            active.task.max_attempts += 1
            ch.txn.update_task(
                self.run_id, active.task.id, None, max_attempts=active.task.max_attempts
            )
        self._running_in[active.task.workstream] -= 1
        if active.command is not None and self._router is not None:
            self._router.running[active.command.tool] -= 1
        if active.task.state == "running":  # once per task, however many branches
            requeue = trigger == "interrupt"
            self._transition(ch, active.task, "requeue" if requeue else "cancel", reason=why)
            if requeue and self._signal is None and not self._canceled:
                self._push_ready(active.task)

    def _pause(self, reason: str) -> RunResult:
        """Nothing running, nothing to land: pause the run (a budget is used up)."""
        with self.recorder.transaction() as ch:
            ch.run(self.run_id, "running", "pause", reason=reason, owner_pid=None, owner_host=None)
        return self._result("paused", reason)

    def _result(self, state: str, reason: str | None) -> RunResult:
        counts = Counter(task.state for task in self._tasks.values())
        return RunResult(self.run_id, state, reason, dict(counts))

    def _on_signal(self, name: str) -> None:
        if self._signal is not None:
            raise KeyboardInterrupt  # second signal: stop waiting for attempts to end
        self._signal = name
        log.warning("%s received: stopping run %s", name, self.run_id)


def _gate_results(outcome: Outcome) -> list[tuple[str | None, str, str]]:
    """``(tree, gate, state)`` of the gate runs of a writing attempt's outcome."""
    runs = outcome.patch.gate_runs if outcome.patch is not None else []
    return [(run.tree, run.gate, run.state) for run in runs]
