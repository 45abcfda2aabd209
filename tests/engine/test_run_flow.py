"""Running bundles end to end on a real SQLite ledger with real subprocesses.

Call tasks use small modules written into tmp_path; command tasks run the real interpreter.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.engine.bundle import load_bundle
from core.engine.events import EventBus
from core.engine.options import RunOptions, RunResult
from core.engine.runs import run_bundle
from core.state import EventRow, Ledger, open_ledger

PY = sys.executable


def run(ledger: Ledger, path: Path, bus: EventBus | None = None, **options: Any) -> RunResult:
    return run_bundle(ledger, load_bundle(path), RunOptions(**options), bus=bus)


def states(ledger: Ledger, run_id: str) -> dict[str, str]:
    return {task["task_id"]: task["state"] for task in ledger.list_tasks(run_id)}


def kinds(ledger: Ledger, run_id: str, prefix: str = "") -> list[tuple[str, str | None]]:
    return [
        (e["kind"], e["task_id"])
        for e in ledger.list_events(run_id)
        if e["kind"].startswith(prefix)
    ]


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    """A module of call targets, written next to the bundles."""
    (tmp_path / "probe_tasks.py").write_text(
        textwrap.dedent(
            """
            import threading, time
            lock = threading.Lock()
            active = 0
            peak = 0
            barrier = threading.Barrier(2, timeout=10)

            def busy(seconds=0.05):
                global active, peak
                with lock:
                    active += 1
                    peak = max(peak, active)
                time.sleep(seconds)
                with lock:
                    active -= 1
                return {"peak": peak}

            def meet():
                barrier.wait()
                return "met"

            def boom(message):
                raise ValueError(message)

            def unserialisable():
                return object()

            def forever():
                time.sleep(3)
                return "late"

            def echo(**params):
                return params
            """
        )
    )
    return tmp_path


def test_fan_out_fan_in_respects_dependencies(
    ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    tasks = [{"task_id": "root", "run": [PY, "-c", "print('root')"]}]
    tasks += [
        {"task_id": f"leaf{i}", "depends_on": ["root"], "run": [PY, "-c", "pass"]} for i in range(4)
    ]
    tasks += [
        {
            "task_id": "join",
            "depends_on": [f"leaf{i}" for i in range(4)],
            "call": "json:dumps",
            "params": {"obj": [1]},
        }
    ]
    result = run(ledger, write_bundle(tasks), parallel=3)
    assert result.ok
    assert set(states(ledger, result.run_id).values()) == {"succeeded"}
    finished: dict[str, int] = {}
    for event in ledger.list_events(result.run_id):
        if event["kind"] == "task.succeeded":
            finished[event["task_id"] or ""] = event["seq"] or 0
        if event["kind"] == "task.running":
            task = event["task_id"]
            deps = (
                ["root"]
                if task and task.startswith("leaf")
                else [f"leaf{i}" for i in range(4)]
                if task == "join"
                else []
            )
            assert all(finished.get(dep, 10**9) < (event["seq"] or 0) for dep in deps), task
    join = next(t for t in ledger.list_tasks(result.run_id) if t["task_id"] == "join")
    assert join["output"] == "[1]"


def test_tasks_run_in_parallel_up_to_the_worker_count(
    probe: Path, ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    # A two-party barrier only opens if both tasks are running at the same time.
    path = write_bundle(
        [{"task_id": "x", "call": "probe_tasks:meet"}, {"task_id": "y", "call": "probe_tasks:meet"}]
    )
    assert run(ledger, path, parallel=2).ok


def test_workstream_max_parallel_is_respected(
    probe: Path, ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    tasks = [
        {"task_id": f"t{i}", "call": "probe_tasks:busy", "params": {"seconds": 0.05}}
        for i in range(6)
    ]
    path = write_bundle(tasks, concurrency={"max_parallel": 1})
    result = run(ledger, path, parallel=4)
    assert result.ok
    peaks = [t["output"]["peak"] for t in ledger.list_tasks(result.run_id)]
    assert max(peaks) == 1


def test_priorities_order_ready_tasks(ledger: Ledger, write_bundle: Callable[..., Path]) -> None:
    tasks = [
        {"task_id": "low", "priority": 1, "run": [PY, "-c", "pass"]},
        {"task_id": "high", "priority": 9, "run": [PY, "-c", "pass"]},
        {"task_id": "mid", "priority": 5, "run": [PY, "-c", "pass"]},
    ]
    result = run(ledger, write_bundle(tasks), parallel=1)
    assert [task for kind, task in kinds(ledger, result.run_id, "task.running")] == [
        "high",
        "mid",
        "low",
    ]


def test_retry_until_success_with_backoff(
    ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    flaky = "import os, sys; sys.exit(0 if os.environ['UET_ATTEMPT'] == '3' else 'not yet')"
    path = write_bundle(
        [
            {
                "task_id": "flaky",
                "run": [PY, "-c", flaky],
                "max_attempts": 3,
                "retry": {"backoff_seconds": 0.01},
            }
        ]
    )
    result = run(ledger, path)
    assert result.ok
    attempts = ledger.list_attempts(result.run_id)
    assert [(a["attempt_no"], a["state"]) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    log = ledger.artifacts_dir / "logs" / result.run_id / "flaky.1.stderr.log"
    assert attempts[0]["error"] == f"exited with code 1: not yet (log: {log})"
    retries = [
        e["payload"] for e in ledger.list_events(result.run_id) if e["kind"] == "task.retrying"
    ]
    assert [p["next_attempt"] for p in retries] == [2, 3]
    # exponential: attempt 2 waits backoff*[0.5,1], attempt 3 backoff*2*[0.5,1]
    assert 0.005 <= retries[0]["delay_seconds"] <= 0.01
    assert 0.01 <= retries[1]["delay_seconds"] <= 0.02


def test_attempts_are_bounded(ledger: Ledger, write_bundle: Callable[..., Path]) -> None:
    path = write_bundle(
        [
            {
                "task_id": "bad",
                "run": [PY, "-c", "raise SystemExit(3)"],
                "max_attempts": 2,
                "retry": {"backoff_seconds": 0},
            }
        ]
    )
    result = run(ledger, path)
    assert result.state == "failed"
    assert result.reason == "1 task(s) failed: bad"
    assert [a["exit_code"] for a in ledger.list_attempts(result.run_id)] == [3, 3]


def test_missing_command_fails_the_task_not_the_run_process(
    ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    path = write_bundle(
        [
            {"task_id": "ghost", "run": ["definitely-not-a-command-uet"], "max_attempts": 5},
            {"task_id": "other", "run": [PY, "-c", "pass"]},
        ]
    )
    result = run(ledger, path)
    assert states(ledger, result.run_id) == {"ghost": "failed", "other": "succeeded"}
    (attempt,) = ledger.list_attempts(result.run_id, task_id="ghost")  # not retried: it cannot help
    assert attempt["error"] == "command not found: definitely-not-a-command-uet"
    assert attempt["retryable"] is False


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            "skip_dependents",
            {"bad": "failed", "child": "skipped", "grandchild": "skipped", "free": "succeeded"},
        ),
        (
            "continue",
            {"bad": "failed", "child": "succeeded", "grandchild": "succeeded", "free": "succeeded"},
        ),
        (
            "fail_fast",
            {"bad": "failed", "child": "canceled", "grandchild": "canceled", "free": "canceled"},
        ),
    ],
)
def test_failure_policies(
    policy: str, expected: dict[str, str], ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    tasks = [
        {"task_id": "bad", "priority": 10, "run": [PY, "-c", "raise SystemExit(1)"]},
        {"task_id": "child", "depends_on": ["bad"], "run": [PY, "-c", "pass"]},
        {"task_id": "grandchild", "depends_on": ["child"], "run": [PY, "-c", "pass"]},
        {"task_id": "free", "priority": -10, "run": [PY, "-c", "pass"]},
    ]
    result = run(
        ledger, write_bundle(tasks, error_handling={"on_task_failure": policy}), parallel=1
    )
    assert result.state == "failed"
    assert states(ledger, result.run_id) == expected


def test_timeout_kills_the_whole_process_group(
    ledger: Ledger, write_bundle: Callable[..., Path], tmp_path: Path
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, time; p = subprocess.Popen(['sleep', '60']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    path = write_bundle([{"task_id": "hang", "run": [PY, "-c", script], "timeout_seconds": 1}])
    result = run(ledger, path, kill_grace_seconds=1)
    (attempt,) = ledger.list_attempts(result.run_id)
    assert attempt["state"] == "timed_out"
    assert attempt["error"] == "timed out after 1s"
    grandchild = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        _signal_zero_unless_zombie(grandchild)


def _signal_zero_unless_zombie(pid: int) -> None:
    status = Path(f"/proc/{pid}/status")
    if status.exists() and "zombie" in status.read_text():
        raise ProcessLookupError(pid)
    os.kill(pid, 0)


def test_env_is_added_to_the_environment_and_cwd_is_used(
    ledger: Ledger,
    write_bundle: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # relative cwd values resolve against where `uet run` starts
    (tmp_path / "sub").mkdir()
    script = (
        "import json, os; print(json.dumps({'FOO': os.environ['FOO'], "
        "'PATH': bool(os.environ.get('PATH')), 'cwd': os.getcwd(), "
        "'task': os.environ['UET_TASK_ID']}))"
    )
    path = write_bundle(
        [{"task_id": "t", "run": [PY, "-c", script], "env": {"FOO": "bar baz"}, "cwd": "sub"}]
    )
    result = run_bundle(ledger, load_bundle(path), RunOptions(), bus=None)
    (attempt,) = ledger.list_attempts(result.run_id)
    printed = json.loads(Path(attempt["stdout_path"] or "").read_text())
    assert printed == {"FOO": "bar baz", "PATH": True, "cwd": str(Path.cwd() / "sub"), "task": "t"}


def test_output_is_captured_up_to_the_cap(
    ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    script = "import sys; sys.stdout.write('x' * 10000); sys.stderr.write('warn')"
    result = run(
        ledger, write_bundle([{"task_id": "loud", "run": [PY, "-c", script]}]), log_max_bytes=100
    )
    (attempt,) = ledger.list_attempts(result.run_id)
    assert attempt["stdout_bytes"] == 10000
    assert attempt["stdout_truncated"] is True
    kept = Path(attempt["stdout_path"] or "").read_text()
    assert kept.startswith("x" * 100)
    assert "truncated at 100 bytes" in kept
    assert Path(attempt["stderr_path"] or "").read_text() == "warn"
    assert (
        Path(attempt["stdout_path"] or "").parent == ledger.artifacts_dir / "logs" / result.run_id
    )


def test_quiet_tasks_create_no_log_files(ledger: Ledger, write_bundle: Callable[..., Path]) -> None:
    result = run(ledger, write_bundle([{"task_id": "quiet", "run": [PY, "-c", "pass"]}]))
    (attempt,) = ledger.list_attempts(result.run_id)
    assert attempt["stdout_path"] is None
    assert attempt["stderr_path"] is None


def test_call_tasks_output_and_errors(
    probe: Path, ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    path = write_bundle(
        [
            {"task_id": "ok", "call": "probe_tasks:echo", "params": {"n": 3, "s": "x"}},
            {"task_id": "raises", "call": "probe_tasks:boom", "params": {"message": "bad input"}},
            {"task_id": "object", "call": "probe_tasks:unserialisable"},
        ]
    )
    result = run(ledger, path, parallel=1)
    tasks = {t["task_id"]: t for t in ledger.list_tasks(result.run_id)}
    assert tasks["ok"]["output"] == {"n": 3, "s": "x"}
    attempts = {a["task_id"]: a for a in ledger.list_attempts(result.run_id)}
    assert attempts["raises"]["error"] == "ValueError: bad input"
    assert "Traceback" in Path(attempts["raises"]["stderr_path"] or "").read_text()
    assert "not JSON-serialisable" in (attempts["object"]["error"] or "")


def test_call_timeout_is_recorded_and_the_run_goes_on(
    probe: Path, ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    path = write_bundle(
        [
            {"task_id": "slow", "call": "probe_tasks:forever", "timeout_seconds": 0.2},
            {"task_id": "after", "call": "probe_tasks:echo", "params": {"done": True}},
        ]
    )
    result = run(ledger, path, parallel=1)
    assert states(ledger, result.run_id) == {"slow": "failed", "after": "succeeded"}
    (attempt,) = ledger.list_attempts(result.run_id, task_id="slow")
    assert attempt["state"] == "timed_out"


def test_subscribers_see_only_committed_events(
    ledger: Ledger, ledger_url: str, write_bundle: Callable[..., Path]
) -> None:
    other = open_ledger(ledger_url)  # a second connection sees only committed rows
    seen: list[bool] = []

    def check(event: EventRow) -> None:
        if event["run_id"] is None:
            return  # worker events: no run's
        committed = {e["event_id"] for e in other.list_events(event["run_id"])}
        seen.append(event["event_id"] in committed)

    bus = EventBus()
    bus.subscribe(check)
    result = run(ledger, write_bundle([{"task_id": "a", "run": [PY, "-c", "pass"]}]), bus=bus)
    other.close()
    assert result.ok
    assert seen
    assert all(seen)
    assert len(seen) == len(ledger.list_events(result.run_id))


def test_every_task_and_attempt_transition_has_its_event(
    ledger: Ledger, write_bundle: Callable[..., Path]
) -> None:
    flaky = "import os, sys; sys.exit(0 if os.environ['UET_ATTEMPT'] == '2' else 1)"
    path = write_bundle(
        [
            {
                "task_id": "f",
                "run": [PY, "-c", flaky],
                "max_attempts": 2,
                "retry": {"backoff_seconds": 0},
            }
        ]
    )
    result = run(ledger, path)
    assert kinds(ledger, result.run_id) == [
        ("run.pending", None),
        ("run.running", None),
        ("task.ready", "f"),
        ("task.running", "f"),
        ("attempt.running", "f"),
        ("attempt.failed", "f"),
        ("task.retrying", "f"),
        ("task.ready", "f"),
        ("task.running", "f"),
        ("attempt.running", "f"),
        ("attempt.succeeded", "f"),
        ("task.succeeded", "f"),
        ("run.succeeded", None),
    ]
