"""Durability with real `uet` processes: kill -9 and resume, Ctrl-C, cancel.

Each test starts the real CLI as a subprocess on a SQLite ledger in tmp_path and watches the
ledger from this process, the way `uet status` does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gitrepos import checksum, git, make_repo, trailer_values

from core.engine import faults
from core.state import Ledger, open_ledger

pytestmark = pytest.mark.slow

Start = Callable[..., "subprocess.Popen[str]"]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def only_run(ledger_url: str) -> tuple[Ledger, str]:
    def exists() -> bool:
        try:
            probe = open_ledger(ledger_url, create=False)
        except Exception:
            return False
        found = probe.latest_run_id() is not None
        probe.close()
        return found

    wait_for(exists, what="the run to be recorded")
    ledger = open_ledger(ledger_url, create=False)
    run_id = ledger.latest_run_id()
    assert run_id is not None
    return ledger, run_id


def count(ledger: Ledger, run_id: str, state: str) -> int:
    return ledger.task_counts(run_id).by_state.get(state, 0)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_kill_9_midway_then_resume_finishes_without_rerunning_successes(
    uet_process: Start, write_bundle: Callable[..., Path], ledger_url: str, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    record = f'echo "$UET_ATTEMPT_ID" >> {markers}/"$UET_TASK_ID"; sleep 0.05'
    tasks = [
        {
            "task_id": f"t{i:02d}",
            "run": ["sh", "-c", record],
            **({"depends_on": [f"t{i - 4:02d}"]} if i >= 4 else {}),
        }
        for i in range(60)
    ]
    bundle = write_bundle(tasks)
    proc = uet_process("run", str(bundle), "--parallel", "4")
    ledger, run_id = only_run(ledger_url)
    wait_for(lambda: count(ledger, run_id, "succeeded") >= 15, what="15 tasks to succeed")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)

    succeeded_before = {
        t["task_id"] for t in ledger.list_tasks(run_id) if t["state"] == "succeeded"
    }
    running_before = ledger.list_attempts(run_id, state="running")
    assert 15 <= len(succeeded_before) < 60, "the kill must land mid-way"
    assert ledger.get_run(run_id)["state"] == "running"  # type: ignore[index]

    code, out, err = finish(uet_process("resume", run_id, "--parallel", "4"))
    assert code == 0, err
    assert "succeeded" in out

    assert count(ledger, run_id, "succeeded") == 60
    assert ledger.list_attempts(run_id, state="running") == []
    interrupted = {a["attempt_id"] for a in ledger.list_attempts(run_id, state="interrupted")}
    assert {a["attempt_id"] for a in running_before} == interrupted
    recorded = {a["attempt_id"]: a for a in ledger.list_attempts(run_id)}
    for task in tasks:
        executions = (markers / task["task_id"]).read_text().split()
        assert set(executions) <= set(recorded), "every execution was recorded as an attempt first"
        if task["task_id"] in succeeded_before:
            assert len(executions) == 1, (
                f"{task['task_id']} succeeded before the kill and ran again"
            )
        succeeded = [
            a
            for a in recorded.values()
            if a["task_id"] == task["task_id"] and a["state"] == "succeeded"
        ]
        assert len(succeeded) == 1
    kinds = [e["kind"] for e in ledger.list_events(run_id)]
    assert kinds[-1] == "run.succeeded"
    ledger.close()


def _wait_running(ledger: Ledger, run_id: str, n: int) -> None:
    wait_for(
        lambda: len(ledger.list_attempts(run_id, state="running")) >= n,
        what=f"{n} running attempts",
    )


def test_ctrl_c_pauses_cleanly_and_resume_completes(
    uet_process: Start, write_bundle: Callable[..., Path], ledger_url: str, tmp_path: Path
) -> None:
    slow = (
        'if [ -e "done-$UET_TASK_ID" ]; then exit 0; fi; touch "done-$UET_TASK_ID"; exec sleep 60'
    )
    bundle = write_bundle(
        [
            {"task_id": "slow1", "run": ["sh", "-c", slow]},
            {"task_id": "slow2", "run": ["sh", "-c", slow]},
            {"task_id": "after", "depends_on": ["slow1", "slow2"], "run": ["true"]},
        ]
    )
    proc = uet_process("run", str(bundle), "--parallel", "2")
    ledger, run_id = only_run(ledger_url)
    _wait_running(ledger, run_id, 2)
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc, timeout=30)
    assert code == 130, err
    run = ledger.get_run(run_id)
    assert run is not None
    assert run["state"] == "paused"
    assert "SIGINT" in (run["state_reason"] or "")
    assert [a["state"] for a in ledger.list_attempts(run_id)] == ["interrupted", "interrupted"]
    assert {t["task_id"]: t["state"] for t in ledger.list_tasks(run_id)} == {
        "slow1": "ready",
        "slow2": "ready",
        "after": "pending",
    }
    code, _, err = finish(uet_process("resume", run_id))
    assert code == 0, err
    assert count(ledger, run_id, "succeeded") == 3
    ledger.close()


def test_cancel_stops_a_live_run(
    uet_process: Start, write_bundle: Callable[..., Path], ledger_url: str
) -> None:
    bundle = write_bundle(
        [
            {"task_id": "long", "run": ["sleep", "60"]},
            {"task_id": "next", "depends_on": ["long"], "run": ["true"]},
        ]
    )
    proc = uet_process("run", str(bundle))
    ledger, run_id = only_run(ledger_url)
    _wait_running(ledger, run_id, 1)
    code, out, err = finish(uet_process("cancel", run_id[:12], "--reason", "wrong bundle"))
    assert code == 0, err
    assert "canceled" in out
    code, _, _ = finish(proc, timeout=30)
    assert code == 1
    run = ledger.get_run(run_id)
    assert run is not None
    assert (run["state"], run["state_reason"]) == ("canceled", "wrong bundle")
    assert [a["state"] for a in ledger.list_attempts(run_id)] == ["canceled"]
    assert {t["state"] for t in ledger.list_tasks(run_id)} == {"canceled"}
    ledger.close()


def test_resume_refuses_a_run_whose_process_is_alive(
    uet_process: Start, write_bundle: Callable[..., Path], ledger_url: str
) -> None:
    proc = uet_process("run", str(write_bundle([{"task_id": "long", "run": ["sleep", "60"]}])))
    ledger, run_id = only_run(ledger_url)
    _wait_running(ledger, run_id, 1)
    code, _, err = finish(uet_process("resume", run_id))
    assert code == 1
    assert f"pid {proc.pid}" in err
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 130
    ledger.close()


def test_kill_9_between_a_landing_and_its_record_lands_each_patch_exactly_once(
    uet_process: Start,
    write_bundle: Callable[..., Path],
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The integrator is killed (SIGKILL, through the ``after-land`` crash point) right after
    the third patch's commit moved the integration branch and before the ledger heard of it.
    Resume must find that commit by its trailer instead of landing the patch again."""
    repo = make_repo(tmp_path / "project", {"README.md": "hello\n"})
    before = checksum(repo)
    calls = tmp_path / "calls"
    calls.mkdir()
    tool = (
        "import os, pathlib; task = os.environ['UET_TASK_ID']; "
        f"log = open(pathlib.Path({str(calls)!r}) / task, 'a'); "
        "log.write(os.environ['UET_ATTEMPT_ID'] + '\\n'); "
        "pathlib.Path(task + '.txt').write_text(task + '\\n')"
    )
    tasks = [
        {"task_id": f"t{i}", "writes": True, "run": [sys.executable, "-c", tool]} for i in range(6)
    ]
    bundle = write_bundle(tasks)
    monkeypatch.setenv(faults.ENV_VAR, "after-land:3")
    proc = uet_process("run", str(bundle), "--repo", str(repo), "--parallel", "2")
    code, _, err = finish(proc)
    assert code == -signal.SIGKILL, err
    monkeypatch.delenv(faults.ENV_VAR)
    ledger, run_id = only_run(ledger_url)
    branch = f"uet/{run_id}"
    on_branch = trailer_values(repo, branch, "Uet-Patch")
    assert len(on_branch) == 3
    recorded = {p["patch_id"]: p["state"] for p in ledger.list_patches(run_id)}
    assert sorted(recorded[p] for p in on_branch) == ["committed", "committed", "verified"]
    landed_unrecorded = next(p for p in on_branch if recorded[p] == "verified")

    code, _out, err = finish(uet_process("resume", run_id))
    assert code == 0, err
    on_branch = trailer_values(repo, branch, "Uet-Patch")
    assert len(on_branch) == len(set(on_branch)) == 6, "every patch lands exactly once"
    committed = {p["patch_id"] for p in ledger.list_patches(run_id, state="committed")}
    assert committed == set(on_branch)
    repaired = ledger.get_patch(landed_unrecorded)
    assert repaired is not None
    assert repaired["history"][-1]["reason"] == "found on the branch after a restart"
    for task in ledger.list_tasks(run_id):
        assert task["state"] == "succeeded"
        assert git(repo, "show", f"{branch}:{task['task_id']}.txt") == task["task_id"]
    ran = {t["task_id"]: (calls / t["task_id"]).read_text().split() for t in tasks}
    assert ran[repaired["task_id"]] == [repaired["attempt_id"]], "its tool did not run again"
    assert checksum(repo) == before
    ledger.close()


@pytest.mark.parametrize("point", ["queue-gating:2", "after-land:3"])
def test_kill_9_in_the_merge_queue_then_resume_lands_each_patch_once_on_a_gated_tree(
    uet_process: Start,
    write_bundle: Callable[..., Path],
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    """Five patches verified on the same base, one of which ("two") fails in combination with
    any other: the run is killed (SIGKILL) while the queue gates combinations, or right after
    a landing, then resumed. Each patch lands at most once, "two" never, and `uet verify`
    finds a passing result on every landed commit's exact tree."""
    repo = make_repo(tmp_path / "project", {"README.md": "hello\n"})
    before = checksum(repo)
    tool = (
        "import os, pathlib, time; task = os.environ['UET_TASK_ID']; "
        "time.sleep(0 if task == 'one' else 1); pathlib.Path(task + '.txt').write_text(task)"
    )
    exclusive = (
        "import pathlib, sys; two = pathlib.Path('two.txt').exists(); "
        "others = [n for n in ('one', 'three', 'four', 'five') "
        "if pathlib.Path(n + '.txt').exists()]; "
        "sys.exit(1 if two and others else 0)"
    )
    names = ["one", "two", "three", "four", "five"]
    tasks = [
        {"task_id": name, "writes": True, "run": [sys.executable, "-c", tool], "gates": ["x"]}
        for name in names
    ]
    bundle = write_bundle(tasks, gates={"x": {"run": [sys.executable, "-c", exclusive]}})
    monkeypatch.setenv(faults.ENV_VAR, point)
    proc = uet_process("run", str(bundle), "--repo", str(repo), "--parallel", "5")
    code, _, err = finish(proc)
    assert code == -signal.SIGKILL, err
    monkeypatch.delenv(faults.ENV_VAR)
    ledger, run_id = only_run(ledger_url)
    code, _out, err = finish(uet_process("resume", run_id), timeout=120)
    assert code == 1, err  # "two" cannot land
    branch = f"uet/{run_id}"
    on_branch = trailer_values(repo, branch, "Uet-Patch")
    assert len(on_branch) == len(set(on_branch)) == 4, "each patch lands at most once"
    landed = {p["task_id"] for p in ledger.list_patches(run_id, state="committed")}
    assert landed == {"one", "three", "four", "five"}
    states = {t["task_id"]: t["state"] for t in ledger.list_tasks(run_id)}
    assert states["two"] == "failed"
    code, out, err = finish(uet_process("verify", run_id))
    assert code == 0, out + err
    assert checksum(repo) == before
    ledger.close()


def test_cli_entry_point_reports_version(uet_process: Start) -> None:
    code, out, err = finish(uet_process("--version"))
    assert code == 0, err
    assert out.startswith("uet, version")
