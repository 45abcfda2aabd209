"""A standalone worker process (`uet worker`): takes attempts from the ledger and runs them.

A run's orchestrator decides what starts and records each attempt; when its own threads are
busy it leaves attempts unclaimed in the ledger (``worker_id`` NULL). A process worker claims
them one UPDATE at a time (two workers never get the same attempt), runs the command, tool or
call exactly as the run would, and writes the outcome onto the attempt; the run's
orchestrator records the rest (task transitions, costs, circuits). Tasks that change files
run in the run's own process, next to its integration branch.

Heartbeats go to the worker's row every ``heartbeat_seconds``; a worker that stops beating
is marked lost by the runs, which take its attempts back. It also notices when an attempt it
runs is no longer wanted (its run was canceled or paused, or it was declared lost) and kills
the tool. SIGINT/SIGTERM drain: no new claims, running attempts finish, the row says
``stopped``; a second signal kills them and reports them interrupted.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import clock
from core.engine.execution import sandbox
from core.engine.execution.command import ProcessTable
from core.engine.execution.outcome import Outcome
from core.engine.execution.runner import (
    AttemptRef,
    AttemptRunner,
    ToolCommand,
    outcome_document,
)
from core.engine.project import project_sandbox
from core.engine.recorder import Recorder
from core.engine.routing.config import RouterConfig, check_router
from core.engine.stopping import on_stop_signals
from core.engine.worker_records import move, register
from core.engine.workers import Job, WorkerPool
from core.errors import SandboxUnavailable
from core.secrets import Redactor
from core.state import AttemptRow, Ledger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    slots: int = 1  # attempts run at once
    run_id: str | None = None  # serve only this run
    heartbeat_seconds: float = 2.0
    poll_seconds: float = 0.02  # first wait between claims when idle (doubles up to 0.5 s)
    idle_exit_seconds: float | None = None  # stop after this long with nothing to do
    log_max_bytes: int = 8 * 1024 * 1024
    kill_grace_seconds: float = 3.0
    handle_signals: bool = True


@dataclass
class _Claimed:
    attempt: AttemptRow
    request: dict[str, Any]
    command: ToolCommand | None


class ProcessWorker:
    def __init__(self, ledger: Ledger, options: WorkerOptions, environ: dict[str, str]) -> None:
        self.ledger = ledger
        self.options = options
        self.environ = environ
        self.recorder = Recorder(ledger)
        self.processes = ProcessTable()
        self.worker_id = ""
        self.ran = 0
        self._running: dict[str, _Claimed] = {}
        self._runners: dict[str, AttemptRunner] = {}
        self._refused: dict[str, str] = {}  # run -> why this host cannot run its attempts
        self._routers: dict[str, RouterConfig | None] = {}
        self._signal: str | None = None
        self._killed = False  # a second signal stopped the running attempts
        self._lost = False  # a run declared this worker lost: it must stop
        self._lock = threading.Lock()

    def serve(self) -> int:
        """Work until drained by a signal (or idle for ``idle_exit_seconds``); return how many
        attempts were run."""
        opts = self.options
        self.worker_id = register(
            self.recorder, "process", opts.slots, opts.heartbeat_seconds, opts.run_id
        )
        log.info("worker %s serving %s", self.worker_id, opts.run_id or "every run")
        pool = WorkerPool(opts.slots, self._execute, name="uet-process-worker")
        state = "idle"
        try:
            with on_stop_signals(self._on_signal, self.options.handle_signals):
                state = self._loop(pool)
        finally:
            pool.close()
            self.processes.signal_all(signal.SIGKILL)
            if state != "lost":
                with self.recorder.transaction() as ch:
                    move(ch, self.worker_id, state, "stop", stopped_at=ch.now)
        return self.ran

    def _loop(self, pool: WorkerPool) -> str:
        opts = self.options
        wait = opts.poll_seconds
        idle_since = time.monotonic()
        next_beat = 0.0
        state = "idle"
        while True:
            if self._signal is not None and state == "idle":
                with self.recorder.transaction() as ch:
                    move(ch, self.worker_id, "idle", "drain", reason=f"{self._signal} received")
                state = "draining"
            claimed = 0
            while state == "idle" and len(self._running) < opts.slots:
                claim = self._claim()
                if claim is None:
                    break
                pool.submit(Job(claim.attempt["attempt_id"], claim))
                claimed += 1
            if claimed:
                wait = opts.poll_seconds
            results = pool.collect(0.0 if claimed else wait)
            for done, result in results:
                self._report(done, result)
            now = time.monotonic()
            if claimed or results or self._running:
                idle_since = now
            elif not results:
                wait = min(wait * 2, 0.5)
            if now >= next_beat:
                next_beat = now + opts.heartbeat_seconds
                self._beat()
            if self._lost:
                return "lost"
            if state == "draining" and not self._running:
                return state
            idle_for = now - idle_since
            if opts.idle_exit_seconds is not None and idle_for >= opts.idle_exit_seconds:
                return state

    # -- claiming and running ------------------------------------------------------------------

    def _claim(self) -> _Claimed | None:
        with self.ledger.transaction() as txn:
            attempt = txn.claim_attempt(self.worker_id, self.options.run_id)
            if attempt is None:
                return None
            task = txn.get_task(attempt["run_id"], attempt["task_id"])
        if task is None:  # cannot happen: attempts reference their task
            return None
        request = task["request"]
        command = None
        if attempt["tool"]:
            router = self._router(attempt["run_id"])
            if router is not None and attempt["tool"] in router.tools:
                command = router.tools[attempt["tool"]].command(attempt["argv"] or [], request)
        claimed = _Claimed(attempt, request, command)
        with self._lock:
            self._running[attempt["attempt_id"]] = claimed
        return claimed

    def _router(self, run_id: str) -> RouterConfig | None:
        if run_id not in self._routers:
            run = self.ledger.get_run(run_id)
            document = run["router"] if run else None
            self._routers[run_id] = check_router(document, run_id) if document else None
        return self._routers[run_id]

    def _runner(self, run_id: str) -> AttemptRunner:
        runner = self._runners.get(run_id)
        if runner is None:
            run = self.ledger.get_run(run_id)
            repo = run["repo"] if run else None
            mode, writable = sandbox.settings(
                run["router"] if run else None, project_sandbox(Path(repo)) if repo else None
            )
            runner = self._runners[run_id] = AttemptRunner(
                self.processes,
                self.ledger.artifacts_dir / "logs" / run_id,
                self.environ,
                self.options.log_max_bytes,
                self.options.kill_grace_seconds,
                isolation=sandbox.detect(mode),
                writable=writable,
            )
            if mode == "required" and not runner.isolation.sandboxed:
                self._refused[run_id] = str(SandboxUnavailable(runner.isolation.reason))
        return runner

    def _execute(self, job: Job) -> Outcome:  # a pool thread
        claimed: _Claimed = job.payload
        attempt = claimed.attempt
        ref = AttemptRef(
            attempt["run_id"], attempt["task_id"], attempt["attempt_id"], attempt["attempt_no"]
        )
        runner = self._runner(attempt["run_id"])
        refused = self._refused.get(attempt["run_id"])
        if refused is not None:  # this host cannot give the sandbox the run requires
            return Outcome("failed", 0.0, error=refused, retryable=False)
        return runner.run(ref, claimed.request, claimed.command)

    def _report(self, job: Job, result: Outcome | BaseException) -> None:
        claimed: _Claimed = job.payload
        attempt_id = claimed.attempt["attempt_id"]
        with self._lock:
            self._running.pop(attempt_id, None)
        if isinstance(result, BaseException):
            result = Outcome("failed", 0.0, error=f"internal error in worker: {result!r}")
        elif self._killed and not result.succeeded:
            result = Outcome("interrupted", result.duration_seconds, error="the worker was stopped")
        runner = self._runner(claimed.attempt["run_id"])
        document = redacted_document(outcome_document(result), runner.redact)
        with self.ledger.transaction() as txn:
            current = txn.get_attempt(attempt_id)
            if current is None or current["worker_id"] != self.worker_id:
                return
            # Written only while the attempt still runs: a run that gave up on it (canceled,
            # paused, declared this worker lost) has recorded its end already.
            txn.update_attempt(attempt_id, "running", result=document)
        self.ran += 1

    # -- liveness ------------------------------------------------------------------------------

    def _beat(self) -> None:
        """Heartbeat; kill the tools of attempts their run no longer waits for."""
        with self.ledger.transaction() as txn:
            beat = clock.now()
            alive = any(
                txn.update_worker(self.worker_id, state, heartbeat_at=beat)
                for state in ("idle", "draining")
            )
        if not alive:  # declared lost (it was stopped or cut off too long): its work is gone
            log.warning("worker %s was declared lost; stopping", self.worker_id)
            self._lost = True
            self.processes.signal_all(signal.SIGKILL)
            return
        with self._lock:
            running = list(self._running)
        for attempt_id in running:
            current = self.ledger.get_attempt(attempt_id)
            if current is not None and current["state"] != "running":
                log.warning(
                    "attempt %s ended elsewhere (%s): stopping it", attempt_id, current["state"]
                )
                self.processes.kill(attempt_id)

    def _on_signal(self, name: str) -> None:
        if self._signal is not None:
            log.warning("second signal: stopping running attempts")
            self._killed = True
            self.processes.signal_all(signal.SIGKILL)
            return
        self._signal = name
        log.warning("%s received: finishing running attempts, taking no more", name)


def redacted_document(document: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    """An outcome document with the secrets taken out of what a tool could have written: its
    error, output and reported usage error. Durations, exit codes and byte counts are UET's
    own numbers and stay numbers (:func:`outcome_from` reads them back as such), whatever
    secret they happen to spell."""
    if not redact:
        return document
    cleaned = {
        **document,
        "error": redact.value(document.get("error")),
        "output": redact.value(document.get("output")),
    }
    usage = document.get("usage")
    if usage and usage.get("error"):
        cleaned["usage"] = {**usage, "error": redact.text(usage["error"])}
    return cleaned
