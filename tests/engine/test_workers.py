"""Process workers (`uet worker`) beside a run on one SQLite ledger.

- a run and four worker processes share a 500-task bundle, each task run exactly once;
- a worker SIGKILLed mid-attempt is declared lost, its attempt interrupted and run again;
- a worker drained by SIGTERM finishes (and reports) its attempt, takes no other, and stops;
- worker rows: registering, heartbeats going stale, lost workers, worker_record.v1 documents.

The workers are real `uet worker` processes. A run is a real `uet run` process, or the library's
``execute_run`` in a thread of the test when it needs heartbeat and poll settings the CLI does
not expose. Tools are `sh` and `true`, never Python: only UET's own processes pay for coverage.
To send an attempt to a worker process, the run gets one thread (``-p 1``) and a
higher-priority task that keeps that thread busy: the orchestrator leaves the next attempt in
the ledger for a process worker only while its own threads are all busy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core import clock
from core.contracts import issues
from core.engine.bundle import load_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.recorder import Recorder
from core.engine.recovery import kill_orphans
from core.engine.runs import create_run, execute_run
from core.engine.worker_records import (
    LIVE_STATES,
    LOST_AFTER,
    mark_lost,
    move,
    register,
    stale,
    worker_document,
)
from core.state import Ledger, WorkerRow, open_ledger

REPO = Path(__file__).resolve().parents[2]
WriteBundle = Callable[..., Path]


# -- helpers -------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy (returned), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def wait_file(name: str, limit_seconds: int = 30) -> str:
    """A shell command that waits for ``name`` to exist (exit 0), or gives up (exit 9) so that
    nothing a failing test started runs forever."""
    return (
        f"for i in $(seq {limit_seconds * 20}); do [ -e {name} ] && exit 0; sleep 0.05; done; "
        "exit 9"
    )


@dataclass
class Uet:
    """A `uet` subprocess, its stdout and stderr going to files."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def uet(tmp_path: Path) -> Iterator[Callable[..., Uet]]:
    """Start the real `uet` entry point as a subprocess (measured by coverage like the
    durability tests'); output goes to files, so nothing blocks on a full pipe."""
    started: list[Uet] = []

    def start(name: str, *args: str) -> Uet:
        out, err = tmp_path / f"{name}.stdout", tmp_path / f"{name}.stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from core.cli import main; main()", *args],
                cwd=tmp_path,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        started.append(Uet(proc, out, err))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
        process.proc.wait()


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A migrated ledger: workers starting together never race to create it."""
    location = f"sqlite:///{tmp_path / 'ledger.db'}"
    open_ledger(location).close()
    return location


@pytest.fixture
def db(url: str) -> Iterator[Ledger]:
    """The test's own view of the ledger the processes share."""
    opened = open_ledger(url, create=False)
    yield opened
    opened.close()


def process_row(ledger: Ledger, pid: int) -> WorkerRow | None:
    rows = [w for w in ledger.list_workers() if w["kind"] == "process" and w["pid"] == pid]
    return rows[0] if rows else None


def start_worker(
    uet: Callable[..., Uet], ledger: Ledger, url: str, name: str, *options: str
) -> tuple[Uet, str]:
    """A `uet worker` process, once its row says it is ready (idle); and its worker id."""
    worker = uet(name, "worker", "--ledger", url, *options)

    def ready() -> WorkerRow | None:
        assert worker.proc.poll() is None, worker.stderr()
        row = process_row(ledger, worker.proc.pid)
        return row if row is not None and row["state"] == "idle" else None

    row = wait_for(ready, what=f"worker {name} to be idle")
    return worker, row["worker_id"]


@dataclass
class RunThread:
    """``execute_run`` on its own ledger connection in a thread of the test."""

    url: str
    run_id: str
    options: RunOptions
    result: RunResult | None = None
    error: BaseException | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name="test-run", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        ledger = open_ledger(self.url, create=False)
        try:
            self.result = execute_run(ledger, self.run_id, self.options)
        except BaseException as exc:  # re-raised by join() in the test's thread
            self.error = exc
        finally:
            ledger.close()

    def join(self, timeout: float = 60.0) -> RunResult:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"run {self.run_id} did not end in {timeout}s"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def next_heartbeats(ledger: Ledger, pids: list[int]) -> None:
    """Wait for each worker process of ``pids`` to write its next heartbeat."""

    def beats() -> list[str | None]:
        rows = [process_row(ledger, pid) for pid in pids]
        return [row["heartbeat_at"] if row else None for row in rows]

    before = beats()
    wait_for(
        lambda: all(now != then for now, then in zip(beats(), before, strict=True)),
        what=f"a heartbeat of each worker process {pids}",
    )


def new_run(ledger: Ledger, path: Path, workdir: Path) -> str:
    return create_run(ledger, load_bundle(path), RunOptions(parallel=1), workdir=workdir)


def attempt_of(ledger: Ledger, run_id: str, task_id: str, attempt_no: int = 1) -> Any:
    found = [a for a in ledger.list_attempts(run_id, task_id) if a["attempt_no"] == attempt_no]
    return found[0] if found else None


def thread_worker_of(ledger: Ledger, run_id: str) -> str:
    (row,) = [w for w in ledger.list_workers() if w["kind"] == "thread" and w["run_id"] == run_id]
    return row["worker_id"]


def worker_events(ledger: Ledger, worker_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e["kind"], e["payload"]) for e in ledger.list_events() if e["subject_id"] == worker_id]


# -- 500 tasks, a run and four worker processes ----------------------------------------------------


@pytest.mark.slow
def test_a_run_and_four_worker_processes_run_500_tasks_each_exactly_once(
    uet: Callable[..., Uet], write_bundle: WriteBundle, url: str, db: Ledger
) -> None:
    """The acceptance test of worker processes: `uet run -p 2` and four `uet worker
    --parallel 2` on one SQLite ledger. Every task succeeds on its first and only attempt,
    the workers take a share of them, nobody sees a traceback or "database is locked", and
    SIGTERM stops each worker cleanly."""
    bundle = write_bundle([{"task_id": f"t{i:03d}", "run": ["true"]} for i in range(500)])
    workers = [
        start_worker(uet, db, url, f"worker{n}", "--parallel", "2", "--heartbeat", "0.5")
        for n in range(4)
    ]
    process_ids = {worker_id for _, worker_id in workers}

    began = time.monotonic()
    run = uet("run", "--ledger", url, "run", "-p", "2", str(bundle))
    assert run.proc.wait(timeout=120) == 0, run.stderr()
    took = time.monotonic() - began

    run_id = db.latest_run_id()
    assert run_id is not None
    assert f"run {run_id} succeeded: 500 succeeded" in run.stdout()
    tasks = db.list_tasks(run_id)
    assert len(tasks) == 500
    assert {t["state"] for t in tasks} == {"succeeded"}
    assert {t["attempts"] for t in tasks} == {1}
    attempts = db.list_attempts(run_id)
    assert len(attempts) == 500
    assert len({a["attempt_id"] for a in attempts}) == 500
    assert Counter(a["task_id"] for a in attempts) == Counter({t["task_id"]: 1 for t in tasks})
    assert {a["attempt_no"] for a in attempts} == {1}
    assert {a["state"] for a in attempts} == {"succeeded"}
    ran_by = Counter(a["worker_id"] for a in attempts)
    own = thread_worker_of(db, run_id)
    assert set(ran_by) <= process_ids | {own}, "every attempt was run by a known worker"
    shared = sum(ran_by[w] for w in process_ids)
    assert shared > 0, f"worker processes ran no attempt ({ran_by}) in {took:.1f}s"

    for process in [run, *(worker for worker, _ in workers)]:
        text = process.stderr()
        assert "Traceback" not in text, text
        assert "database is locked" not in text, text

    # Signalled once idle (two heartbeats in): the drain itself; a signal landing in the
    # middle of a result wait has its own test at the end.
    for _ in range(2):
        next_heartbeats(db, [worker.proc.pid for worker, _ in workers])
    for worker, _ in workers:
        worker.proc.send_signal(signal.SIGTERM)
    for worker, worker_id in workers:
        assert worker.proc.wait(timeout=30) == 0, worker.stderr()
        row = process_row(db, worker.proc.pid)
        assert row is not None
        assert (row["worker_id"], row["state"]) == (worker_id, "stopped")
        assert row["stopped_at"] is not None
        assert f"worker {worker_id} stopped after {ran_by[worker_id]} attempt(s)" in (
            worker.stderr()
        )
    assert sum(w["state"] == "stopped" for w in db.list_workers()) == 5  # and the run's


# -- a worker that dies mid-attempt --------------------------------------------------------------


def test_a_killed_worker_is_declared_lost_and_its_attempt_runs_again(
    uet: Callable[..., Uet], write_bundle: WriteBundle, url: str, db: Ledger, tmp_path: Path
) -> None:
    """SIGKILL a worker holding an attempt: after 3 missed heartbeats the run marks it lost,
    records the attempt interrupted, requeues the task, and its second attempt succeeds."""
    long_task = (
        'echo "$UET_ATTEMPT" >> long.ran; '
        'if [ "$UET_ATTEMPT" = 1 ]; then echo $$ > long.pid; exec sleep 30; fi'
    )
    bundle = write_bundle(
        [
            # keeps the run's only thread busy until the worker has started the long task
            {"task_id": "hold", "priority": 9, "run": ["sh", "-c", wait_file("long.pid")]},
            {"task_id": "long", "priority": 5, "run": ["sh", "-c", long_task]},
        ]
    )
    worker, worker_id = start_worker(uet, db, url, "worker", "--heartbeat", "0.3")
    run_id = new_run(db, bundle, tmp_path)
    options = RunOptions(parallel=1, heartbeat_seconds=0.3, poll_seconds=0.1, handle_signals=False)
    try:
        run = RunThread(url, run_id, options)
        first = wait_for(
            lambda: (tmp_path / "long.pid").exists() and attempt_of(db, run_id, "long"),
            what="the long task to start",
        )
        assert first["worker_id"] == worker_id, "the first attempt ran on the worker process"
        row = process_row(db, worker.proc.pid)
        assert row is not None
        busy = worker_document(row, db.worker_activity().get(worker_id))
        assert (busy["state"], busy["current_attempt_id"]) == ("busy", first["attempt_id"])
        assert issues(busy, "worker_record.v1") == []

        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(timeout=10)
        result = run.join()
    finally:
        # The run kills the lost worker's tool; anything left now is a leak (killed here).
        leftovers = kill_orphans(run_id)
    assert result.ok, result.reason
    assert result.counts == {"succeeded": 2}

    row = process_row(db, worker.proc.pid)
    assert row is not None
    assert row["state"] == "lost"
    assert (row["state_reason"] or "").startswith("no heartbeat for ")
    lost = ("worker.lost", {"from": "idle", "reason": row["state_reason"]})
    assert worker_events(db, worker_id)[-1] == lost
    long_attempts = db.list_attempts(run_id, "long")
    assert [(a["attempt_no"], a["state"]) for a in long_attempts] == [
        (1, "interrupted"),
        (2, "succeeded"),
    ]
    assert long_attempts[0]["worker_id"] == worker_id
    assert long_attempts[0]["error"] == f"interrupted: worker {worker_id} was lost"
    assert long_attempts[1]["worker_id"] == thread_worker_of(db, run_id)
    assert (tmp_path / "long.ran").read_text().split() == ["1", "2"]
    task_kinds = [e["kind"] for e in db.list_events(run_id) if e["task_id"] == "long"]
    interrupted = task_kinds.index("attempt.interrupted")
    assert task_kinds[interrupted + 1 :].count("task.running") == 1, "requeued, then run again"
    assert task_kinds[-1] == "task.succeeded"
    assert leftovers == []  # the run killed the lost worker's tool when it took the attempt back
    orphan = int((tmp_path / "long.pid").read_text())
    assert (
        not Path(f"/proc/{orphan}").exists()
        or "Z" in Path(f"/proc/{orphan}/stat").read_text().split()[2]
    )


# -- draining a worker with SIGTERM --------------------------------------------------------------


def test_sigterm_drains_a_worker_it_finishes_and_reports_its_attempt_and_takes_no_other(
    uet: Callable[..., Uet], write_bundle: WriteBundle, url: str, db: Ledger, tmp_path: Path
) -> None:
    """A worker with a running attempt gets SIGTERM: its row says draining; it takes no new
    attempt, even one left for it in the ledger; it finishes the running one, reports it (the
    run records it succeeded) and stops with exit 0. The attempt it would not take runs in
    the run itself once the unclaimed grace period is over and a thread is free.

    The run looks at the workers' slots only at its start here (``poll_seconds=60``), so it
    still counts the draining worker's free slot and leaves ``follower`` for it."""
    bundle = write_bundle(
        [
            {"task_id": "first", "priority": 9, "run": ["sh", "-c", wait_file("go-first")]},
            {
                "task_id": "drained",
                "priority": 5,
                "run": ["sh", "-c", "touch drained.started; " + wait_file("go-drained")],
            },
            {
                "task_id": "second",
                "priority": 8,
                "depends_on": ["first"],
                "run": ["sh", "-c", wait_file("go-second")],
            },
            {"task_id": "follower", "priority": 1, "depends_on": ["first"], "run": ["true"]},
        ]
    )
    worker, worker_id = start_worker(
        uet, db, url, "worker", "--parallel", "2", "--heartbeat", "0.3"
    )
    run_id = new_run(db, bundle, tmp_path)
    options = RunOptions(parallel=1, heartbeat_seconds=0.3, poll_seconds=60, handle_signals=False)
    run = RunThread(url, run_id, options)
    drained = wait_for(
        lambda: (tmp_path / "drained.started").exists() and attempt_of(db, run_id, "drained"),
        what="the worker to start `drained`",
    )
    assert drained["worker_id"] == worker_id

    worker.proc.send_signal(signal.SIGTERM)
    wait_for(
        lambda: process_row(db, worker.proc.pid)["state"] == "draining",  # type: ignore[index]
        what="the worker to drain",
    )
    row = process_row(db, worker.proc.pid)
    assert row is not None
    assert row["state_reason"] == "SIGTERM received"
    document = worker_document(row, db.worker_activity().get(worker_id))
    assert (document["state"], document["current_attempt_id"]) == (
        "draining",
        drained["attempt_id"],
    )

    (tmp_path / "go-first").touch()  # `second` takes the run's thread; `follower` is left over
    follower = wait_for(lambda: attempt_of(db, run_id, "follower"), what="follower's attempt")
    assert follower["worker_id"] is None, "left in the ledger for a process worker"
    for _ in range(2):  # two heartbeats: the worker went round its loop with follower there
        next_heartbeats(db, [worker.proc.pid])
    assert attempt_of(db, run_id, "follower")["worker_id"] is None, "a draining worker took it"
    assert worker.proc.poll() is None, "the worker waits for its running attempt"

    (tmp_path / "go-drained").touch()
    assert worker.proc.wait(timeout=30) == 0, worker.stderr()
    assert f"worker {worker_id} stopped after 1 attempt(s)" in worker.stderr()
    row = process_row(db, worker.proc.pid)
    assert row is not None
    assert row["state"] == "stopped"
    assert row["stopped_at"] is not None
    kinds = [kind for kind, _ in worker_events(db, worker_id)]
    assert kinds == ["worker.starting", "worker.idle", "worker.draining", "worker.stopped"]

    (tmp_path / "go-second").touch()
    result = run.join()
    assert result.ok, result.reason
    attempts = {a["task_id"]: a for a in db.list_attempts(run_id)}
    assert len(db.list_attempts(run_id)) == 4, "each task ran once"
    assert attempts["drained"]["state"] == "succeeded"
    assert attempts["drained"]["worker_id"] == worker_id
    assert attempts["follower"]["state"] == "succeeded"
    assert attempts["follower"]["worker_id"] == thread_worker_of(db, run_id)
    assert db.worker_activity()[worker_id]["attempts"] == 1


def test_an_idle_worker_exits_after_idle_exit_seconds(
    uet: Callable[..., Uet], url: str, db: Ledger
) -> None:
    worker = uet("worker", "worker", "--ledger", url, "--idle-exit", "0.2", "--heartbeat", "0.5")
    assert worker.proc.wait(timeout=30) == 0, worker.stderr()
    row = process_row(db, worker.proc.pid)
    assert row is not None
    assert row["state"] == "stopped"
    assert f"worker serving every run on {Path(url.removeprefix('sqlite:///'))}" in (
        worker.stderr()
    )
    assert f"worker {row['worker_id']} stopped after 0 attempt(s)" in worker.stderr()


# -- worker rows ---------------------------------------------------------------------------------


def test_register_records_a_ready_worker_with_its_events(ledger: Ledger) -> None:
    recorder = Recorder(ledger)
    worker_id = register(recorder, "process", 3, 0.5)
    (row,) = ledger.list_workers()
    assert row["worker_id"] == worker_id
    assert (row["kind"], row["state"], row["slots"], row["pid"]) == (
        "process",
        "idle",
        3,
        os.getpid(),
    )
    assert row["heartbeat_interval_seconds"] == 0.5
    assert row["run_id"] is None
    assert row["heartbeat_at"] == row["started_at"]
    assert [kind for kind, _ in worker_events(ledger, worker_id)] == [
        "worker.starting",
        "worker.idle",
    ]
    assert ledger.list_workers(("stopped",)) == []


def test_move_follows_the_worker_lifecycle_and_refuses_a_stale_state(ledger: Ledger) -> None:
    recorder = Recorder(ledger)
    worker_id = register(recorder, "process", 1, 1.0)
    with recorder.transaction() as ch:
        assert move(ch, worker_id, "idle", "drain", reason="SIGINT received")
    with recorder.transaction() as ch:
        assert not move(ch, worker_id, "idle", "stop"), "it is no longer idle"
    with recorder.transaction() as ch:
        assert move(ch, worker_id, "draining", "stop", stopped_at=ch.now)
    (row,) = ledger.list_workers()
    assert row["state"] == "stopped"
    assert row["stopped_at"] is not None
    events = worker_events(ledger, worker_id)
    assert events[-2:] == [
        ("worker.draining", {"from": "idle", "reason": "SIGINT received"}),
        ("worker.stopped", {"from": "draining"}),
    ]


def silence(ledger: Ledger, worker_id: str, seconds: float) -> None:
    """Make the worker's last heartbeat ``seconds`` old."""
    with ledger.transaction() as txn:
        txn.update_worker(worker_id, None, heartbeat_at=clock.after(-seconds))


def test_a_worker_is_stale_after_three_missed_heartbeats_and_mark_lost_marks_it_once(
    ledger: Ledger,
) -> None:
    recorder = Recorder(ledger)
    quiet = register(recorder, "process", 1, 2.0)
    fresh = register(recorder, "process", 1, 2.0)
    gone = register(recorder, "process", 1, 2.0)
    with recorder.transaction() as ch:
        move(ch, gone, "idle", "stop", stopped_at=ch.now)
    silence(ledger, quiet, LOST_AFTER * 2.0 + 5)
    silence(ledger, gone, 600)
    rows = {row["worker_id"]: row for row in ledger.list_workers()}
    assert stale(rows[quiet])
    assert not stale(rows[fresh])
    silence(ledger, fresh, LOST_AFTER * 2.0 - 2)
    assert not stale(_row(ledger, fresh))

    assert mark_lost(recorder, ledger.list_workers(LIVE_STATES)) == [quiet]
    assert mark_lost(recorder, ledger.list_workers(LIVE_STATES)) == [], (
        "a lost worker is marked once"
    )
    rows = {row["worker_id"]: row for row in ledger.list_workers()}
    assert rows[quiet]["state"] == "lost"
    reason = rows[quiet]["state_reason"] or ""
    assert re.fullmatch(r"no heartbeat for 1[12]s", reason), reason  # 11 s, rounded
    assert rows[fresh]["state"] == "idle"
    assert rows[gone]["state"] == "stopped", "stopped workers are never lost"
    assert worker_events(ledger, quiet)[-1] == ("worker.lost", {"from": "idle", "reason": reason})


def _row(ledger: Ledger, worker_id: str) -> WorkerRow:
    (row,) = [w for w in ledger.list_workers() if w["worker_id"] == worker_id]
    return row


def test_worker_documents_match_the_schema_and_show_busy_from_running_attempts(
    ledger: Ledger,
) -> None:
    recorder = Recorder(ledger)
    worker_id = register(recorder, "thread", 4, 2.0, "01JD3QZZZZZZZZZZZZZZZZZZZZ")
    row = _row(ledger, worker_id)
    idle = worker_document(row, None)
    assert issues(idle, "worker_record.v1") == []
    assert idle["state"] == "idle"
    assert idle["current_attempt_id"] is None
    assert idle["stats"] == {"attempts": 0, "succeeded": 0, "failed": 0, "busy_seconds": 0}
    activity = {
        "attempts": 5,
        "succeeded": 3,
        "failed": 1,
        "busy_seconds": 2.5,
        "running": ["01JD3QAAAAAAAAAAAAAAAAAAAA"],
    }
    busy = worker_document(row, activity)
    assert issues(busy, "worker_record.v1") == []
    assert busy["state"] == "busy"
    assert busy["current_attempt_id"] == "01JD3QAAAAAAAAAAAAAAAAAAAA"
    assert busy["stats"] == {"attempts": 5, "succeeded": 3, "failed": 1, "busy_seconds": 2.5}
    assert busy["run_id"] == "01JD3QZZZZZZZZZZZZZZZZZZZZ"


def main_thread_wchan(pid: int) -> str:
    """What the process's main thread is blocked on in the kernel (Linux)."""
    return Path(f"/proc/{pid}/task/{pid}/wchan").read_text(encoding="ascii", errors="replace")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_an_idle_worker_whose_sigterm_handler_is_slow_still_stops(
    url: str, db: Ledger, tmp_path: Path
) -> None:
    read_end, write_end = os.pipe()
    worker = subprocess.Popen(
        [sys.executable, "-c", "from core.cli import main; main()", "worker", "--ledger", url],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=write_end,
    )
    try:
        wait_for(
            lambda: (row := process_row(db, worker.pid)) is not None and row["state"] == "idle",
            what="the worker to be idle",
        )
        os.set_blocking(read_end, False)
        with contextlib.suppress(BlockingIOError):
            os.read(read_end, 1 << 20)  # its start-up line: the pipe is now empty
        os.write(write_end, b"x" * fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ))  # and now full
        wait_for(lambda: "futex" in main_thread_wchan(worker.pid), what="the worker to wait")
        worker.send_signal(signal.SIGTERM)
        wait_for(
            lambda: "pipe" in main_thread_wchan(worker.pid),
            what="its SIGTERM handler to block writing its log line",
        )
        time.sleep(0.6)  # the handler outlasts the worker's wait for results (at most 0.5 s)
        with contextlib.suppress(BlockingIOError):
            while os.read(read_end, 1 << 20):
                pass
        assert worker.wait(timeout=3) == 0, "the worker exits once its handler has returned"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        os.close(read_end)
        os.close(write_end)
