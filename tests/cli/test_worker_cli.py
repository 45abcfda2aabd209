"""The commands about workers, failed tasks, reuse and money, through the real `uet` CLI:
`uet worker`, `uet workers`, `uet task failed|retry`, `uet run --reuse-results`, `uet costs`,
`uet show` and `uet tools`.

Tool tasks use the fake agent CLIs of tests/agents: they print exactly the real CLIs' output
formats, because the real CLIs and the LLMs behind them cannot be reached here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from gitrepos import make_repo

from core import clock
from core.contracts import issues
from core.engine.recorder import Recorder
from core.engine.worker_records import register
from core.state import Ledger, open_ledger

Invoke = Callable[..., Result]
WriteBundle = Callable[..., Path]
AGENTS = Path(__file__).resolve().parents[1] / "agents"
CLAUDE = {
    "argv": ["claude", "-p", "{prompt}", "--output-format", "json"],
    "adapter": "claude_code",
    "writes": False,
}
CODEX = {
    "argv": ["codex", "exec", "--json", "{prompt}"],
    "adapter": "codex",
    "writes": False,
    "default_model": "gpt-5-codex",
    "pricing": {"gpt-5-codex": {"input_per_mtok": 1.25, "output_per_mtok": 10.0}},
}


@pytest.fixture
def db(ledger_url: str) -> Iterator[Callable[[], Ledger]]:
    """Open the test ledger (after the CLI has created it) to look at it directly."""
    opened: list[Ledger] = []

    def get() -> Ledger:
        if not opened:
            opened.append(open_ledger(ledger_url, create=False))
        return opened[0]

    yield get
    for ledger in opened:
        ledger.close()


def router_file(tmp_path: Path, tools: dict[str, Any], **top: Any) -> Path:
    path = tmp_path / "router.json"
    document = {"schema_version": "router_config.v1", "tools": tools, **top}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def run_id_of(result: Result) -> str:
    run_id: str = json.loads(result.stdout)["run_id"]
    return run_id


def states(ledger: Ledger, run_id: str) -> dict[str, str]:
    return {task["task_id"]: task["state"] for task in ledger.list_tasks(run_id)}


# -- uet worker, uet workers ---------------------------------------------------------------------


def test_workers_json_validates_and_a_silent_live_worker_is_shown_lost(
    invoke: Invoke, write_bundle: WriteBundle, db: Callable[[], Ledger]
) -> None:
    assert invoke("run", str(write_bundle([{"task_id": "a", "run": ["true"]}]))).exit_code == 0
    shown = invoke("workers")
    assert shown.exit_code == 0
    assert shown.output.strip() == "no live workers (--all shows stopped ones)"
    (thread,) = json.loads(invoke("workers", "--all", "--json").stdout)
    assert issues(thread, "worker_record.v1") == []
    assert (thread["kind"], thread["state"]) == ("thread", "stopped")
    assert thread["stats"]["attempts"] == thread["stats"]["succeeded"] == 1

    ledger = db()
    recorder = Recorder(ledger)
    fresh = register(recorder, "process", 2, 1.0)
    silent = register(recorder, "process", 4, 1.0)
    with ledger.transaction() as txn:
        txn.update_worker(silent, None, heartbeat_at=clock.after(-30))
    documents = json.loads(invoke("workers", "--json").stdout)
    assert [issues(doc, "worker_record.v1") for doc in documents] == [[], []]
    assert {doc["worker_id"]: doc["state"] for doc in documents} == {
        fresh: "idle",
        silent: "lost",
    }
    assert {w["worker_id"]: w["state"] for w in ledger.list_workers()}[silent] == "idle", (
        "listing workers writes nothing; runs mark them lost"
    )
    assert len(json.loads(invoke("workers", "--all", "--json").stdout)) == 3

    text = invoke("workers").output
    assert "HEARTBEAT" in text
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert "lost" in lines[silent]
    assert "process x4" in lines[silent]
    assert "idle" in lines[fresh]
    assert f":{os.getpid()}" in lines[fresh]
    assert "0 (0 ok, 0 failed)" in lines[fresh]


def test_worker_serving_one_run_records_it_and_stops_when_idle(
    invoke: Invoke, write_bundle: WriteBundle, ledger_url: str, db: Callable[[], Ledger]
) -> None:
    run_id = run_id_of(
        invoke("run", "--json", str(write_bundle([{"task_id": "a", "run": ["true"]}])))
    )
    served = invoke("worker", "--ledger", ledger_url, "--run", run_id[:10], "--idle-exit", "0")
    assert served.exit_code == 0, served.output
    assert f"worker serving {run_id} on" in served.stderr
    assert "stopped after 0 attempt(s)" in served.stderr
    (row,) = [w for w in db().list_workers() if w["kind"] == "process"]
    assert (row["run_id"], row["state"], row["slots"]) == (run_id, "stopped", 1)


def test_worker_for_an_unknown_run_exits_1(invoke: Invoke, ledger_url: str) -> None:
    result = invoke("worker", "--ledger", ledger_url, "--run", "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert result.exit_code == 1
    assert "no run '01ZZZZZZZZZZZZZZZZZZZZZZZZ'" in result.output
    assert "Traceback" not in result.output


# -- uet task failed / retry ---------------------------------------------------------------------


@pytest.fixture
def failed_run(invoke: Invoke, write_bundle: WriteBundle, tmp_path: Path) -> str:
    """A run where ``flaky`` failed twice (until the file ``fixed`` exists) and ``after``,
    which depends on it, was skipped."""
    flaky = 'echo x >> flaky.ran; [ -e fixed ] || { echo "disk full" >&2; exit 3; }'
    bundle = write_bundle(
        [
            {
                "task_id": "flaky",
                "run": ["sh", "-c", flaky],
                "max_attempts": 2,
                "retry": {"backoff_seconds": 0},
            },
            {"task_id": "after", "depends_on": ["flaky"], "run": ["true"]},
            {"task_id": "other", "run": ["true"]},
        ]
    )
    result = invoke("run", "--json", str(bundle))
    assert result.exit_code == 1, result.output
    return run_id_of(result)


def test_task_failed_lists_the_task_with_its_reason(invoke: Invoke, failed_run: str) -> None:
    text = invoke("task", "failed", failed_run)
    assert text.exit_code == 0
    (header, row, hint) = text.output.splitlines()
    assert header.split() == ["TASK", "ATTEMPTS", "REASON"]
    assert row.split()[:2] == ["flaky", "2/2"]
    assert "exited with code 3: disk full (log: " in row
    assert hint == f"retry one: uet task retry TASK --run {failed_run}"
    listed = json.loads(invoke("task", "failed", failed_run[:12], "--json").stdout)
    assert listed == [
        {
            "run_id": failed_run,
            "task_id": "flaky",
            "attempts": 2,
            "max_attempts": 2,
            "reason": listed[0]["reason"],
        }
    ]
    assert listed[0]["reason"].startswith("exited with code 3: disk full (log: ")
    assert listed[0]["reason"].endswith("flaky.2.stderr.log)")


def test_task_retry_reruns_the_task_and_its_skipped_dependents(
    invoke: Invoke, failed_run: str, tmp_path: Path, db: Callable[[], Ledger]
) -> None:
    (tmp_path / "fixed").touch()
    retried = invoke("task", "retry", "flaky", "--run", failed_run, "--json")
    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.stdout) == {
        "run_id": failed_run,
        "state": "succeeded",
        "reason": None,
        "tasks": {"succeeded": 3},
    }
    ledger = db()
    assert states(ledger, failed_run) == {
        "flaky": "succeeded",
        "after": "succeeded",
        "other": "succeeded",
    }
    flaky = ledger.get_task(failed_run, "flaky")
    assert flaky is not None
    assert (flaky["attempts"], flaky["max_attempts"]) == (3, 4), "as many attempts again"
    assert [a["state"] for a in ledger.list_attempts(failed_run, "flaky")] == [
        "failed",
        "failed",
        "succeeded",
    ]
    assert len(ledger.list_attempts(failed_run, "other")) == 1, "succeeded tasks do not rerun"
    assert (tmp_path / "flaky.ran").read_text().split() == ["x", "x", "x"]
    reasons = {"task flaky retried", "retried by hand", "flaky is retried"}
    reopened = [
        (e["kind"], e["task_id"], e["payload"]["reason"])
        for e in ledger.list_events(failed_run)
        if e["payload"].get("reason") in reasons
    ]
    assert reopened == [
        ("run.paused", None, "task flaky retried"),
        ("task.pending", "flaky", "retried by hand"),
        ("task.pending", "after", "flaky is retried"),
    ]
    assert invoke("task", "failed", failed_run).output.strip() == (
        f"run {failed_run}: no failed task"
    )


def test_task_retry_no_resume_reopens_the_run_for_a_later_resume(
    invoke: Invoke, failed_run: str, tmp_path: Path
) -> None:
    reopened = invoke("task", "retry", "flaky", "--run", failed_run, "--no-resume", "--json")
    assert reopened.exit_code == 0, reopened.output
    assert json.loads(reopened.stdout) == {
        "run_id": failed_run,
        "task_id": "flaky",
        "state": "paused",
    }
    text = invoke("task", "retry", "flaky", "--run", failed_run, "--no-resume")
    assert text.exit_code == 1, "already reopened: it is no longer failed"
    assert f"task flaky of run {failed_run} is pending; only failed tasks are retried" in (
        text.output
    )
    (tmp_path / "fixed").touch()
    resumed = invoke("resume", failed_run, "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["tasks"] == {"succeeded": 3}


def test_task_retry_refuses_tasks_that_did_not_fail(invoke: Invoke, failed_run: str) -> None:
    succeeded = invoke("task", "retry", "other", "--run", failed_run)
    assert succeeded.exit_code == 1
    assert (
        f"error: task other of run {failed_run} is succeeded; only failed tasks are retried"
        in succeeded.output
    )
    unknown = invoke("task", "retry", "nope", "--run", failed_run)
    assert unknown.exit_code == 1
    assert f"run {failed_run} has no task 'nope' (tasks: after, flaky, other)" in unknown.output
    assert "Traceback" not in succeeded.output + unknown.output


def test_task_retry_of_a_task_in_a_succeeded_run_says_the_task_did_not_fail(
    invoke: Invoke, write_bundle: WriteBundle
) -> None:
    run_id = run_id_of(
        invoke("run", "--json", str(write_bundle([{"task_id": "a", "run": ["true"]}])))
    )
    result = invoke("task", "retry", "a", "--run", run_id)
    assert result.exit_code == 1
    assert "task a" in result.output
    assert "only failed tasks are retried" in result.output


# -- uet run --reuse-results ---------------------------------------------------------------------


def reuse_bundle(write_bundle: WriteBundle, log: Path, b_says: str = "b") -> Path:
    def record(text: str) -> list[str]:
        return ["sh", "-c", f"echo {text} >> {log}"]

    return write_bundle(
        [
            {"task_id": "a", "run": record("a")},
            {"task_id": "b", "run": record(b_says)},
            {"task_id": "c", "depends_on": ["a"], "call": "json:dumps", "params": {"obj": [1]}},
        ]
    )


def test_reuse_results_skips_tasks_that_succeeded_with_the_same_spec(
    invoke: Invoke,
    write_bundle: WriteBundle,
    tmp_path: Path,
    db: Callable[[], Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "ran.log"
    first = invoke("run", "--json", str(reuse_bundle(write_bundle, log)))
    assert first.exit_code == 0, first.output
    earlier = run_id_of(first)
    assert sorted(log.read_text().split()) == ["a", "b"]

    second = invoke("run", "--reuse-results", "--json", str(reuse_bundle(write_bundle, log)))
    assert second.exit_code == 0, second.output
    reused = run_id_of(second)
    assert json.loads(second.stdout)["tasks"] == {"succeeded": 3}
    assert sorted(log.read_text().split()) == ["a", "b"], "no command ran again"
    ledger = db()
    assert ledger.list_attempts(reused) == []
    for task in ledger.list_tasks(reused):
        assert task["state"] == "succeeded"
        assert task["state_reason"] == f"same spec succeeded in run {earlier}"
    c = ledger.get_task(reused, "c")
    assert c is not None
    assert c["output"] == "[1]", "the earlier output comes with it"
    payloads = [e["payload"] for e in ledger.list_events(reused) if e["kind"] == "task.succeeded"]
    assert [p["reused_from"] for p in payloads] == [earlier] * 3

    changed = invoke(
        "run", "--reuse-results", "--json", str(reuse_bundle(write_bundle, log, b_says="b2"))
    )
    assert changed.exit_code == 0, changed.output
    assert log.read_text().split()[2:] == ["b2"], "only the changed task ran"
    assert [a["task_id"] for a in ledger.list_attempts(run_id_of(changed))] == ["b"]

    again = invoke("run", "--json", str(reuse_bundle(write_bundle, log)))
    assert again.exit_code == 0, again.output
    assert sorted(log.read_text().split()[3:]) == ["a", "b"], "without the flag all run"
    assert len(ledger.list_attempts(run_id_of(again))) == 3

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    moved = invoke("run", "--reuse-results", "--json", str(reuse_bundle(write_bundle, log)))
    assert moved.exit_code == 0, moved.output
    assert sorted(log.read_text().split()[5:]) == ["a", "b"], "another workdir is another base"


def test_reuse_results_never_skips_a_writing_task(
    invoke: Invoke, write_bundle: WriteBundle, tmp_path: Path, db: Callable[[], Ledger]
) -> None:
    """On a repository the base is its HEAD commit: a reading task is reused, a writing task
    runs again (its change must be on the new run's branch)."""
    repo = make_repo(tmp_path / "project", {"README.md": "hello\n"})
    log = tmp_path / "ran.log"
    bundle = write_bundle(
        [
            {"task_id": "read", "run": ["sh", "-c", f"echo read >> {log}"]},
            {
                "task_id": "write",
                "writes": True,
                "run": ["sh", "-c", f"echo write >> {log}; echo new > new.txt"],
            },
        ]
    )
    first = invoke("run", "--repo", str(repo), "--json", str(bundle))
    assert first.exit_code == 0, first.output
    second = invoke("run", "--repo", str(repo), "--reuse-results", "--json", str(bundle))
    assert second.exit_code == 0, second.output
    assert sorted(log.read_text().split()) == ["read", "write", "write"]
    ledger = db()
    run_id = run_id_of(second)
    assert [a["task_id"] for a in ledger.list_attempts(run_id)] == ["write"]
    read = ledger.get_task(run_id, "read")
    assert read is not None
    assert read["state_reason"] == f"same spec succeeded in run {run_id_of(first)}"
    assert json.loads(second.stdout)["patches"] == {"committed": 1}


# -- uet costs, uet show, uet tools ----------------------------------------------------------------


@pytest.fixture
def routed_run(
    invoke: Invoke, write_bundle: WriteBundle, tmp_path: Path, fake_agents: None
) -> tuple[str, Path]:
    """A run with a fixed claude task (reports $0.05), a `review` task routed by a rule to
    codex (reports tokens, no money: priced by the router) and a command."""
    router = router_file(
        tmp_path,
        {"claude": CLAUDE, "codex": CODEX},
        rules=[
            {
                "id": "reviews",
                "match": {"kind": ["review"]},
                "strategy": "fallback",
                "candidates": ["codex", "claude"],
            }
        ],
    )
    bundle = write_bundle(
        [
            {
                "task_id": "direct",
                "tool": "claude",
                "prompt": "look around",
                "env": {
                    "FAKE_AGENT_COST": "0.05",
                    "FAKE_AGENT_TOKENS_IN": "1000",
                    "FAKE_AGENT_TOKENS_OUT": "200",
                },
            },
            {
                "task_id": "review",
                "kind": "review",
                "prompt": "review it",
                "env": {"FAKE_AGENT_TOKENS_IN": "2000", "FAKE_AGENT_TOKENS_OUT": "100"},
            },
            {"task_id": "build", "run": ["true"]},
        ]
    )
    result = invoke("run", "--router", str(router), "--json", str(bundle))
    assert result.exit_code == 0, result.output
    return run_id_of(result), router


def test_costs_json_groups_totals_and_records(invoke: Invoke, routed_run: tuple[str, Path]) -> None:
    """The fake claude and codex print exactly the real CLIs' output formats (the real CLIs
    cannot be reached here): claude reports its cost, codex only tokens."""
    run_id, _ = routed_run
    report = json.loads(invoke("costs", run_id, "--json").stdout)
    assert (report["run_id"], report["by"]) == (run_id, "tool")
    groups = {g["tool"]: g for g in report["groups"]}
    assert list(groups) == ["(commands)", "claude", "codex"]
    picked = ("records", "tokens_in", "tokens_out", "amount", "estimated")
    assert {name: tuple(g[k] for k in picked) for name, g in groups.items()} == {
        "(commands)": (1, 0, 0, 0.0, 0),
        "claude": (1, 1000, 200, 0.05, 0),
        "codex": (1, 2000, 100, 0.0035, 1),  # 2000 x $1.25/M + 100 x $10/M
    }
    total = report["total"]
    assert tuple(total[k] for k in picked) == (3, 3000, 300, 0.0535, 1)
    assert total["currency"] == "USD"
    assert len(report["records"]) == 3
    assert [issues(record, "cost_record.v1") for record in report["records"]] == [[], [], []]
    by_task = {r["subject"]["task_id"]: r for r in report["records"]}
    assert by_task["direct"]["model"] == "claude-sonnet-4-5-20250929"
    assert by_task["review"]["model"] == "gpt-5-codex"
    assert by_task["build"]["resource_type"] == "compute"

    def grouped(by: str) -> dict[str, tuple[int, float]]:
        shown = json.loads(invoke("costs", run_id, "--by", by, "--json").stdout)
        assert shown["total"]["amount"] == 0.0535
        return {g[by]: (g["records"], g["amount"]) for g in shown["groups"]}

    assert grouped("task") == {"build": (1, 0.0), "direct": (1, 0.05), "review": (1, 0.0035)}
    assert grouped("model") == {
        "-": (1, 0.0),
        "claude-sonnet-4-5-20250929": (1, 0.05),
        "gpt-5-codex": (1, 0.0035),
    }
    assert grouped("workstream") == {"ws": (3, 0.0535)}


def test_costs_text_marks_estimates_and_covers_every_run(
    invoke: Invoke, routed_run: tuple[str, Path]
) -> None:
    """As above: the fake agent CLIs print exactly the real CLIs' output formats."""
    run_id, _ = routed_run
    text = invoke("costs").output  # the latest run
    lines = text.splitlines()
    assert lines[0] == f"costs of run {run_id}, by tool:"
    rows = {line.split()[0]: line.split() for line in lines[2:6]}
    assert rows["claude"][1:5] == ["1", "1000", "200", "0.0500"]
    assert rows["codex"][1:5] == ["1", "2000", "100", "~0.0035"]
    assert rows["total"][1:5] == ["3", "3000", "300", "~0.0535"]
    assert (
        lines[-1] == "~ estimated from the router's pricing (the tool reported tokens, not money)"
    )
    everything = invoke("costs", "--all-runs", "--json")
    assert json.loads(everything.stdout)["run_id"] is None
    assert invoke("costs", "--all-runs").output.startswith("costs of every run, by tool:")


def test_show_a_routed_task_text_and_json(invoke: Invoke, routed_run: tuple[str, Path]) -> None:
    """The fake codex prints exactly the real CLI's output format (the real CLI cannot be
    reached here)."""
    run_id, _ = routed_run
    text = invoke("show", "review", "--run", run_id)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == f"task review of run {run_id}: succeeded"
    assert lines[1] == "  kind review"
    assert lines[2].startswith("  #1 codex succeeded ")
    assert lines[2].endswith("2000+100 tokens ~$0.0035")
    assert "routed: rule reviews, fallback -> codex (first candidate)" in text.output

    shown = json.loads(invoke("show", "review", "--run", run_id, "--json").stdout)
    assert (shown["run_id"], shown["task_id"], shown["state"]) == (run_id, "review", "succeeded")
    assert shown["planned_routing"]["chosen"] == ["codex"]
    (decision,) = shown["decisions"]
    assert (decision["rule"], decision["strategy"], decision["chosen"]) == (
        "reviews",
        "fallback",
        ["codex"],
    )
    assert [c["tool"] for c in decision["candidates"]] == ["codex", "claude"]
    (attempt,) = shown["attempts"]
    assert decision["attempt_id"] == attempt["attempt_id"]
    assert (attempt["tool"], attempt["role"], attempt["state"]) == ("codex", "primary", "succeeded")
    document = {k: v for k, v in attempt.items() if k not in ("role", "cost")}
    assert issues(document, "step_attempt.v1") == []
    assert issues(attempt["cost"], "cost_record.v1") == []
    assert attempt["cost"]["amount"] == 0.0035
    assert attempt["cost"]["estimated"] is True


def test_show_lists_each_attempt_with_its_error(invoke: Invoke, failed_run: str) -> None:
    text = invoke("show", "flaky", "--run", failed_run).output.splitlines()
    assert text[0] == f"task flaky of run {failed_run}: failed"
    assert text[1].startswith("  exited with code 3: disk full (log: ")
    assert text[2].startswith("  command ['sh', '-c', ")
    assert [line.split()[:2] for line in text[3:7:2]] == [["#1", "failed"], ["#2", "failed"]]
    assert text[4].strip().startswith("exited with code 3: disk full (log: ")
    assert text[6].strip().startswith("exited with code 3: disk full (log: ")
    shown = json.loads(invoke("show", "flaky", "--run", failed_run, "--json").stdout)
    assert shown["decisions"] == []
    assert [(a["attempt_no"], a["exit_code"]) for a in shown["attempts"]] == [(1, 3), (2, 3)]
    assert all(a["cost"]["resource_type"] == "compute" for a in shown["attempts"])
    missing = invoke("show", "nope", "--run", failed_run)
    assert missing.exit_code == 1
    assert f"run {failed_run} has no task 'nope' (tasks: flaky, after, other)" in missing.output


def test_tools_reports_path_version_and_circuit_of_each_tool(
    invoke: Invoke,
    routed_run: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fake claude and codex print exactly the real CLIs' output formats, `--version`
    included (the real CLIs cannot be reached here); `mytool` is a script of this test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mytool = bin_dir / "mytool"
    mytool.write_text("#!/bin/sh\necho 'mytool 1.2.3'\necho 'build 99'\n", encoding="utf-8")
    mytool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    router = router_file(
        tmp_path,
        {
            "claude": CLAUDE,
            "codex": CODEX,
            "mytool": {"argv": ["mytool", "{prompt}"], "writes": False},
            "ghost": {"argv": ["uet-test-no-such-cli", "{prompt}"], "writes": False},
        },
    )
    report = json.loads(invoke("tools", "--router", str(router), "--json").stdout)
    assert report["router"] == str(router)
    tools = {t["tool"]: t for t in report["tools"]}
    assert list(tools) == ["claude", "codex", "mytool", "ghost"]
    assert tools["claude"]["path"] == str(AGENTS / "claude")
    assert tools["claude"]["version"] == "2.0.14 (Claude Code)"
    assert tools["claude"]["adapter"] == "claude_code"
    assert (tools["claude"]["recent_attempts"], tools["claude"]["recent_success_rate"]) == (1, 1.0)
    assert tools["mytool"]["path"] == str(mytool)
    assert tools["mytool"]["version"] == "mytool 1.2.3", "the first line of --version"
    assert (tools["mytool"]["adapter"], tools["mytool"]["recent_success_rate"]) == ("command", None)
    assert (tools["ghost"]["path"], tools["ghost"]["version"]) == (None, None)
    assert {t["circuit"] for t in tools.values()} == {"closed"}
    assert {t["writes"] for t in tools.values()} == {False}
    # Agent adapters reach the network from the sandbox unless they say otherwise.
    assert {name: t["network"] for name, t in tools.items()} == {
        "claude": True,
        "codex": True,
        "mytool": False,
        "ghost": False,
    }
    assert report["isolation"] == "processes"  # the tests' default level

    text = invoke("tools", "--router", str(router)).output
    assert text.splitlines()[-1].startswith("isolation: processes (the sandbox is turned off")
    rows = {line.split()[0]: line for line in text.splitlines()[1:-1]}
    assert "not found" in rows["ghost"]
    assert "mytool 1.2.3" in rows["mytool"]
    assert "100% of 1" in rows["claude"]
    assert "closed" in rows["codex"]


def test_tools_without_a_router_config_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("tools")
    assert result.exit_code == 2
    assert "no router config: pass --router FILE or create .uet/router_config.json" in (
        result.output
    )
