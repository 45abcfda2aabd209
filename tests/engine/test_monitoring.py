"""Progress with ETA, and following events while a run is written by another process."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.engine.monitoring import follow_events, measure
from core.errors import LedgerNotFound
from core.state import RunRow, TaskCounts, open_ledger


def run_row(**fields: Any) -> RunRow:
    base: dict[str, Any] = dict.fromkeys(RunRow.__annotations__)
    base.update(state="running", workstreams=[], started_at="2026-01-01T00:00:00.000000Z")
    base.update(fields)
    return base  # type: ignore[return-value]


def test_eta_extrapolates_the_runs_pace() -> None:
    now = datetime(2026, 1, 1, 0, 0, 40, tzinfo=UTC)  # 40 s after start
    counts = TaskCounts(
        total=10, by_state={"succeeded": 3, "failed": 1, "running": 2, "pending": 4}
    )
    progress = measure(run_row(), counts, now=now)
    assert (progress.done, progress.running, progress.total) == (4, 2, 10)
    assert progress.elapsed_seconds == 40
    assert progress.eta_seconds == 60  # 4 done in 40 s: 6 more take 60 s
    assert progress.as_dict()["percent"] == 40.0


def test_no_eta_before_anything_finished_or_after_the_end() -> None:
    now = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert measure(run_row(), TaskCounts(2, {"running": 2}), now=now).eta_seconds is None
    finished = run_row(state="succeeded", finished_at="2026-01-01T00:00:05.000000Z")
    done = measure(finished, TaskCounts(2, {"succeeded": 2}), now=now + timedelta(hours=1))
    assert done.eta_seconds is None
    assert done.elapsed_seconds == 5


def test_follow_yields_events_as_another_process_writes_them(
    uet_process: Callable[..., subprocess.Popen[str]],
    write_bundle: Callable[..., Path],
    ledger_url: str,
    tmp_path: Path,
) -> None:
    gate = tmp_path / "go"
    wait_for_gate = f"while [ ! -e {gate} ]; do sleep 0.02; done"
    bundle = write_bundle(
        [
            {"task_id": "first", "run": ["sh", "-c", wait_for_gate]},
            {"task_id": "second", "depends_on": ["first"], "run": ["true"]},
        ]
    )
    proc = uet_process("run", str(bundle))
    kinds: list[str] = []
    reader = None
    while reader is None:  # the run row appears once the child has recorded it
        try:
            reader = open_ledger(ledger_url, create=False)
            if reader.latest_run_id() is None:
                reader.close()
                reader = None
        except LedgerNotFound:
            reader = None
        if reader is None:
            time.sleep(0.02)
    run_id = reader.latest_run_id()
    assert run_id is not None
    for event in follow_events(reader, run_id, poll_seconds=0.02):
        kinds.append(event["kind"])
        if event["kind"] == "attempt.running" and not gate.exists():
            gate.touch()  # the run only goes on once we have seen it in flight
    assert proc.wait(timeout=30) == 0
    assert kinds[0] == "run.pending"
    assert kinds[-1] == "run.succeeded"
    assert kinds.count("task.succeeded") == 2
    seqs = [e["seq"] for e in reader.list_events(run_id)]
    assert len(seqs) == len(kinds)
    reader.close()
