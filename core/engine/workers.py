"""The in-process worker pool: threads that execute attempts and hand back outcomes.

Workers never touch the ledger: the orchestrator records each dispatch before handing the job
over and each outcome after getting it back, so a worker dying mid-attempt leaves a ``running``
attempt that resume turns into ``interrupted`` — never an unrecorded execution.

Threads suit both kinds of work: command tasks spend their time in a child process (the GIL is
released while waiting), and call tasks run in-process by definition. A call that overruns its
timeout cannot be killed (Python cannot stop a thread); the pool abandons it and starts a
replacement thread so the run keeps its parallelism.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.engine.execution.outcome import Outcome


@dataclass(frozen=True, slots=True)
class Job:
    attempt_id: str
    payload: Any


_STOP = object()


class WorkerPool:
    def __init__(
        self, size: int, execute: Callable[[Job], Outcome | Any], name: str = "uet-worker"
    ) -> None:
        self._execute = execute
        self._name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # A Queue, not a SimpleQueue, for results: the main thread waits on it with a timeout,
        # and CPython 3.11's SimpleQueue.get can wait forever once a signal handler has run
        # past the timeout during the wait.
        self._results: queue.Queue[tuple[Job, Outcome | BaseException]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-{len(self._threads) + 1}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            try:
                result: Outcome | BaseException = self._execute(job)
            except BaseException as exc:  # reported, never lost: the orchestrator records it
                result = exc
            self._results.put((job, result))

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def collect(self, timeout: float | None) -> list[tuple[Job, Outcome | BaseException]]:
        """Wait up to ``timeout`` for one result, then take every result already waiting."""
        try:
            first = (
                self._results.get(timeout=timeout) if timeout != 0 else self._results.get_nowait()
            )
        except queue.Empty:
            return []
        results = [first]
        while True:
            try:
                results.append(self._results.get_nowait())
            except queue.Empty:
                return results

    def replace_stuck_worker(self) -> None:
        """A worker is stuck in an abandoned call: add a thread to keep the pool's width."""
        self._spawn()

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(_STOP)
