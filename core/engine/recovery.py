"""Picking a run up again after the process executing it stopped (crash, kill -9, power loss).

The ledger says what was committed; anything it shows ``running`` was in flight when the owner
died. Those attempts become ``interrupted`` and their tasks are requeued, in one transaction.
Tasks recorded ``succeeded`` are never touched, so they never run again.

Before that, two safety checks: the run's owner must really be gone (a live owner would run the
same tasks twice), and tool processes the dead owner left behind are killed, so an old attempt
cannot keep writing while its replacement runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections import Counter
from pathlib import Path

from core import clock
from core.engine.execution import reaping
from core.engine.recorder import Recorder
from core.state import Ledger, RunRow

JOURNAL_NAME = ".processes"

log = logging.getLogger(__name__)

STALE_HEARTBEAT_SECONDS = 30.0


def owner_alive(run: RunRow) -> bool:
    """Whether the process recorded as executing ``run`` still seems to be doing so."""
    pid, host, heartbeat = run["owner_pid"], run["owner_host"], run["heartbeat_at"]
    if pid is None:
        return False
    fresh = heartbeat is not None and clock.seconds_since(heartbeat) < STALE_HEARTBEAT_SECONDS
    if host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        return fresh  # a live pid with a stale heartbeat is a reused pid or a hung process
    return fresh


def process_journal(ledger: Ledger, run_id: str) -> Path:
    """Where a run's processes are noted as they are seen (see
    :mod:`core.engine.execution.reaping`)."""
    return ledger.artifacts_dir / "logs" / run_id / JOURNAL_NAME


def kill_orphans(
    run_id: str,
    proc: Path = Path("/proc"),
    *,
    attempt_id: str | None = None,
    journal: Path | None = None,
) -> list[int]:
    """Kill the process groups of tool processes started for ``run_id`` (or only for
    ``attempt_id``) by a dead owner or a lost worker, and every process its ``journal``
    noted that is still the one noted.

    Attempts carry ``UET_RUN_ID`` and ``UET_ATTEMPT_ID`` in their environment; on Linux /proc
    shows them. A process that dropped them is found through the journal, if it was seen
    while its attempt ran. Elsewhere this finds nothing, and the orphans end when their own
    work (or timeout) does.
    """
    if not proc.is_dir():
        return []
    if journal is not None:
        reaping.kill(reaping.journaled(journal))
    marker = (
        f"UET_ATTEMPT_ID={attempt_id}".encode() if attempt_id else f"UET_RUN_ID={run_id}".encode()
    )
    killed: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            pid = int(entry.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
                killed.append(pid)
    if killed:
        log.warning("killed %d leftover tool process(es) of run %s", len(killed), run_id)
    return killed


def recover(recorder: Recorder, run: RunRow) -> int:
    """Turn the in-flight attempts of a run whose owner died into ``interrupted``; requeue tasks.

    Returns how many attempts were interrupted.
    """
    run_id = run["run_id"]
    ledger = recorder.ledger
    with recorder.transaction() as ch:
        # Every attempt still marked running was in flight; so was every running task.
        attempts = ledger.list_attempts(run_id, state="running")
        interrupted = Counter(attempt["task_id"] for attempt in attempts)
        for attempt in attempts:
            ch.attempt(
                run_id,
                attempt["task_id"],
                attempt["attempt_id"],
                "running",
                "interrupt",
                error="interrupted: the process running it stopped",
                finished_at=ch.now,
            )
        # A running task whose patch is verified only waits for the integrator, which picks it
        # up again (landing it, or finding it already landed); it must not run a second time.
        landing = {patch["task_id"] for patch in ledger.list_patches(run_id, state="verified")}
        for task in ledger.list_tasks(run_id):
            if task["state"] == "running" and task["task_id"] not in landing:
                # An interrupted attempt was not the task's fault: it does not use one up.
                more = task["max_attempts"] + interrupted[task["task_id"]]
                ch.task(
                    run_id,
                    task["task_id"],
                    "running",
                    "requeue",
                    reason="attempt interrupted",
                    max_attempts=more,
                )
        if run["state"] == "running":
            ch.event(
                "run.running",
                run_id=run_id,
                payload={"from": "running", "reason": "resumed after its process stopped"},
            )
    return len(attempts)
