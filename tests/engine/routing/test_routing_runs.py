"""Routing strategies seen through real runs: fallback, round_robin, cost_optimized,
success_rate (from an earlier run's history on the same ledger), best_of_n (pick first and
pick cheapest), shadow, and circuit breakers. Real git repositories in tmp_path, a real SQLite
ledger, the tools real subprocesses; what each decision was is read back from the
``route.decided`` events.

The agent tools are the fake CLIs of tests/agents: they print exactly the real CLIs' output
formats, because the real CLIs and the LLMs behind them cannot be reached here. Each router
tool gives its fake what to do through its own ``env`` in the router config.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from agentruns import (
    PASSING_GATE,
    PY,
    attempts,
    claude,
    codex,
    content_gate,
    decisions,
    edits,
    events,
    patch_of,
    router,
    run,
    task_states,
)
from gitrepos import branch_log, git

from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses", "fake_agents")
NO_WAIT = {"backoff_seconds": 0}


def failing(message: str = "upstream overloaded", **entry: Any) -> dict[str, Any]:
    """A claude tool whose every run fails the way the real CLI reports it."""
    return claude(env={"FAKE_AGENT_FAIL": message}, **entry)


def priced(per_mtok_in: float, per_mtok_out: float, **entry: Any) -> dict[str, Any]:
    model = entry.pop("model", "m")
    return claude(
        default_model=model,
        pricing={model: {"input_per_mtok": per_mtok_in, "output_per_mtok": per_mtok_out}},
        **entry,
    )


def test_fallback_moves_to_the_next_tool_after_the_first_fails(
    ledger: Ledger, project: Path
) -> None:
    """The fake claude fails (FAKE_AGENT_FAIL in its tool env) or edits, printing exactly the
    real CLI's output format; the real CLI cannot be reached here."""
    config = router(
        {"broken": failing(), "codex": codex()},
        rules=[{"id": "fix", "strategy": "fallback", "candidates": ["broken", "codex"]}],
    )
    result = run(
        ledger,
        project,
        config,
        [
            {
                "task_id": "fix",
                "kind": "bugfix",
                "max_attempts": 2,
                "retry": NO_WAIT,
                "env": edits(**{"notes.txt": "fixed\n"}),
                "gates": ["ok"],
            }
        ],
        gates={"ok": content_gate("notes.txt", "fixed\n")},
    )
    assert result.state == "succeeded", result.reason
    first, second = attempts(ledger, result.run_id)
    assert (first["tool"], first["state"]) == ("broken", "failed")
    assert first["patch_id"] is None
    assert (second["tool"], second["state"]) == ("codex", "succeeded")
    assert patch_of(ledger, second)["state"] == "committed"
    assert git(project, "show", f"uet/{result.run_id}:notes.txt") == "fixed"
    one, two = decisions(ledger, result.run_id)
    assert (one["strategy"], one["rule"], one["chosen"]) == ("fallback", "fix", ["broken"])
    assert one["reason"] == "first candidate"
    assert two["chosen"] == ["codex"]
    assert two["reason"] == "next candidate after broken failed"
    decided = events(ledger, result.run_id, "route.decided")
    assert [e["attempt_id"] for e in decided] == [first["attempt_id"], second["attempt_id"]]
    assert [e["subject_id"] for e in decided] == ["broken", "codex"]


def test_round_robin_alternates_tools_across_tasks(ledger: Ledger, project: Path) -> None:
    """The fake claude and codex print exactly the real CLIs' output formats (the real CLIs
    cannot be reached here)."""
    config = router(
        {"claude": claude(), "codex": codex()},
        rules=[{"id": "rr", "strategy": "round_robin", "candidates": ["claude", "codex"]}],
    )
    tasks = [
        {"task_id": f"t{n}", "kind": "docs", "env": edits(**{f"doc{n}.txt": f"{n}\n"})}
        for n in range(4)
    ]
    result = run(ledger, project, config, tasks, parallel=1)
    assert result.state == "succeeded", result.reason
    tools = [attempts(ledger, result.run_id, f"t{n}")[0]["tool"] for n in range(4)]
    assert tools == ["claude", "codex", "claude", "codex"]
    assert [d["reason"] for d in decisions(ledger, result.run_id)] == [
        "turn 1: claude",
        "turn 2: codex",
        "turn 3: claude",
        "turn 4: codex",
    ]
    branch = f"uet/{result.run_id}"
    assert [git(project, "show", f"{branch}:doc{n}.txt") for n in range(4)] == list("0123")


def test_cost_optimized_picks_the_tool_cheaper_by_its_pricing(
    ledger: Ledger, project: Path
) -> None:
    """The fake claude prints exactly the real CLI's output format (the real CLI cannot be
    reached here)."""
    config = router(
        {"premium": priced(15.0, 75.0), "budget": priced(0.25, 1.25)},
        rules=[{"id": "c", "strategy": "cost_optimized", "candidates": ["premium", "budget"]}],
    )
    result = run(
        ledger, project, config, [{"task_id": "t", "kind": "chore", "env": edits(x="x\n")}]
    )
    assert result.state == "succeeded", result.reason
    (attempt,) = attempts(ledger, result.run_id)
    assert attempt["tool"] == "budget"
    (decision,) = decisions(ledger, result.run_id)
    scores = {c["tool"]: c["score"] for c in decision["candidates"]}
    assert scores == {"premium": pytest.approx(0.09), "budget": pytest.approx(0.0015)}
    assert decision["reason"].startswith("cheapest: budget")


def test_cost_optimized_trusts_what_a_tool_cost_before_over_its_list_price(
    ledger: Ledger, project: Path
) -> None:
    """An earlier run on the same ledger showed the tool that is cheap on paper costing $1 an
    attempt. The fake claude reports that cost exactly as the real CLI does (the real CLI
    cannot be reached here)."""
    tools = {
        "premium": priced(15.0, 75.0),
        "budget": priced(0.25, 1.25, env={"FAKE_AGENT_COST": "1.0"}),
    }
    earlier = run(
        ledger,
        project,
        router(tools),
        [{"task_id": "t", "tool": "budget", "kind": "chore", "env": edits(x="x\n")}],
    )
    assert earlier.state == "succeeded", earlier.reason
    config = router(
        tools,
        rules=[{"id": "c", "strategy": "cost_optimized", "candidates": ["premium", "budget"]}],
    )
    result = run(
        ledger, project, config, [{"task_id": "t", "kind": "chore", "env": edits(y="y\n")}]
    )
    assert result.state == "succeeded", result.reason
    assert attempts(ledger, result.run_id)[0]["tool"] == "premium"
    (decision,) = decisions(ledger, result.run_id)
    by_tool = {c["tool"]: c for c in decision["candidates"]}
    assert by_tool["budget"]["score"] == pytest.approx(1.0)
    assert "over 1 attempt" in by_tool["budget"]["reason"]
    # premium has no history: priced for the tokens the others used (1500) at its list price
    assert by_tool["premium"]["score"] == pytest.approx(1500 * 90 / 1_000_000)


def test_success_rate_prefers_the_tool_that_succeeded_in_an_earlier_run(
    ledger: Ledger, project: Path
) -> None:
    """An earlier run on the same ledger saw ``flaky`` fail and ``steady`` succeed at this kind
    of task. The fake claude prints exactly the real CLI's output format (the real CLI cannot
    be reached here)."""
    tools = {"flaky": failing(), "steady": claude()}
    earlier = run(
        ledger,
        project,
        router(tools),
        [
            {"task_id": "a", "tool": "flaky", "kind": "refactor"},
            {"task_id": "b", "tool": "steady", "kind": "refactor", "env": edits(b="b\n")},
        ],
        error_handling={"on_task_failure": "continue"},
    )
    assert task_states(ledger, earlier.run_id) == {"a": "failed", "b": "succeeded"}
    config = router(
        tools,
        rules=[{"id": "sr", "strategy": "success_rate", "candidates": ["flaky", "steady"]}],
    )
    result = run(
        ledger, project, config, [{"task_id": "t", "kind": "refactor", "env": edits(c="c\n")}]
    )
    assert result.state == "succeeded", result.reason
    assert attempts(ledger, result.run_id)[0]["tool"] == "steady"
    (decision,) = decisions(ledger, result.run_id)
    by_tool = {c["tool"]: c for c in decision["candidates"]}
    assert by_tool["flaky"]["score"] == pytest.approx(1 / 3, abs=1e-4)  # (0 + 1) / (1 + 2)
    assert by_tool["steady"]["score"] == pytest.approx(2 / 3, abs=1e-4)  # (1 + 1) / (1 + 2)
    assert by_tool["steady"]["reason"] == "1/1 succeeded"
    # Another kind of task has no history: both start even, and the first candidate goes.
    other = run(ledger, project, config, [{"task_id": "t", "kind": "docs", "env": edits(d="d\n")}])
    (fresh,) = decisions(ledger, other.run_id)
    assert fresh["chosen"] == ["flaky"]


GOOD_OR_BAD_GATE = {"check": content_gate("answer.txt", "good\n")}


def test_best_of_n_pick_first_lands_the_branch_that_passes_its_gate(
    ledger: Ledger, project: Path
) -> None:
    """Two fake agents race in their own worktrees; each prints exactly its real CLI's output
    format (the real CLIs cannot be reached here)."""
    config = router(
        {
            "sloppy": claude(env=edits(**{"answer.txt": "bad\n"})),
            "careful": codex(env=edits(**{"answer.txt": "good\n"})),
        },
        rules=[{"id": "race", "strategy": "best_of_n", "candidates": ["sloppy", "careful"]}],
    )
    result = run(
        ledger,
        project,
        config,
        [{"task_id": "answer", "kind": "fix", "gates": ["check"]}],
        gates=GOOD_OR_BAD_GATE,
    )
    assert result.state == "succeeded", result.reason
    by_tool = {a["tool"]: a for a in attempts(ledger, result.run_id)}
    assert set(by_tool) == {"sloppy", "careful"}
    assert {a["role"] for a in by_tool.values()} == {"branch"}
    assert patch_of(ledger, by_tool["careful"])["state"] == "committed"
    rejected = patch_of(ledger, by_tool["sloppy"])
    assert rejected["state"] == "rejected"
    assert rejected["state_reason"] == "gate 'check' failed"
    branch = f"uet/{result.run_id}"
    assert git(project, "show", f"{branch}:answer.txt") == "good"
    assert branch_log(project, branch) == ["uet: answer", "initial"]
    decided = decisions(ledger, result.run_id)  # one event per branch, the same decision
    assert [d["chosen"] for d in decided] == [["sloppy", "careful"]] * 2
    assert [d["role"] for d in decided] == ["branch", "branch"]
    gates = {g["patch_id"]: g["state"] for g in ledger.list_gate_results(result.run_id)}
    assert gates == {rejected["patch_id"]: "failed", by_tool["careful"]["patch_id"]: "passed"}


def test_best_of_n_pick_cheapest_lands_the_cheaper_of_two_passing_patches(
    ledger: Ledger, project: Path
) -> None:
    """Both fake agents pass the gate; they report different costs exactly as the real claude
    CLI does (the real CLI cannot be reached here)."""
    config = router(
        {
            "pricey": claude(env={**edits(**{"answer.txt": "good\n"}), "FAKE_AGENT_COST": "0.5"}),
            "thrifty": claude(
                env={
                    **edits(**{"answer.txt": "good\n", "why.txt": "thrifty\n"}),
                    "FAKE_AGENT_COST": "0.01",
                }
            ),
        },
        rules=[
            {
                "id": "race",
                "strategy": "best_of_n",
                "pick": "cheapest",
                "candidates": ["pricey", "thrifty"],
            }
        ],
    )
    result = run(
        ledger,
        project,
        config,
        [{"task_id": "answer", "kind": "fix", "gates": ["check"]}],
        gates=GOOD_OR_BAD_GATE,
    )
    assert result.state == "succeeded", result.reason
    by_tool = {a["tool"]: a for a in attempts(ledger, result.run_id)}
    assert {t: a["state"] for t, a in by_tool.items()} == {
        "pricey": "succeeded",
        "thrifty": "succeeded",
    }
    landed = patch_of(ledger, by_tool["thrifty"])
    dropped = patch_of(ledger, by_tool["pricey"])
    assert landed["state"] == "committed"
    assert dropped["state"] == "dropped"
    assert landed["patch_id"] in (dropped["state_reason"] or "")
    assert "cheapest" in (dropped["state_reason"] or "")
    branch = f"uet/{result.run_id}"
    assert git(project, "show", f"{branch}:why.txt") == "thrifty"
    assert branch_log(project, branch) == ["uet: answer", "initial"]
    costs = {c["tool"]: c["amount"] for c in ledger.list_costs(result.run_id) if c["tool"]}
    assert costs == {"pricey": 0.5, "thrifty": 0.01}, "the dropped branch's cost still counts"


def test_shadow_records_its_patch_and_gates_but_never_lands_it(
    ledger: Ledger, project: Path
) -> None:
    """The primary and the shadow are fake agents printing exactly their real CLIs' output
    formats (the real CLIs cannot be reached here)."""
    config = router(
        {
            "primary": claude(env=edits(**{"answer.txt": "primary\n"})),
            "candidate": codex(env=edits(**{"answer.txt": "shadow\n", "extra.txt": "x\n"})),
        },
        rules=[{"id": "try", "strategy": "shadow", "candidates": ["primary", "candidate"]}],
    )
    result = run(
        ledger,
        project,
        config,
        [{"task_id": "answer", "kind": "fix", "gates": ["ok"]}],
        gates={"ok": PASSING_GATE},
    )
    assert result.state == "succeeded", result.reason
    by_role = {a["role"]: a for a in attempts(ledger, result.run_id)}
    assert set(by_role) == {"primary", "shadow"}
    assert by_role["shadow"]["tool"] == "candidate"
    assert by_role["shadow"]["state"] == "succeeded"
    primary_patch = patch_of(ledger, by_role["primary"])
    shadow_patch = patch_of(ledger, by_role["shadow"])
    assert primary_patch["state"] == "committed"
    assert shadow_patch["state"] == "dropped"
    assert "shadow" in (shadow_patch["state_reason"] or "")
    assert shadow_patch["commit_sha"] is None
    assert "extra.txt" in Path(shadow_patch["diff_path"]).read_text()
    shadow_gates = ledger.list_gate_results(patch_id=shadow_patch["patch_id"])
    assert [(g["gate"], g["state"]) for g in shadow_gates] == [("ok", "passed")]
    branch = f"uet/{result.run_id}"
    assert git(project, "show", f"{branch}:answer.txt") == "primary"
    assert git(project, "ls-tree", "--name-only", branch, "extra.txt") == ""
    assert branch_log(project, branch) == ["uet: answer", "initial"]
    for commit in git(project, "rev-list", branch).splitlines():
        assert shadow_patch["patch_id"] not in git(project, "show", "-s", "--format=%B", commit)
    decided = decisions(ledger, result.run_id)  # one event per attempt, the same decision
    assert [d["chosen"] for d in decided] == [["primary", "candidate"]] * 2
    assert [d["role"] for d in decided] == ["primary", "shadow"]


def test_a_failing_shadow_does_not_fail_its_task(ledger: Ledger, project: Path) -> None:
    """The fake claude fails as the real CLI reports failures (it cannot be reached here)."""
    config = router(
        {"primary": codex(env=edits(a="a\n")), "candidate": failing()},
        rules=[{"id": "try", "strategy": "shadow", "candidates": ["primary", "candidate"]}],
    )
    result = run(ledger, project, config, [{"task_id": "t", "kind": "fix"}])
    assert result.state == "succeeded", result.reason
    by_role = {a["role"]: a for a in attempts(ledger, result.run_id)}
    assert by_role["shadow"]["state"] == "failed"
    assert patch_of(ledger, by_role["primary"])["state"] == "committed"


def test_an_open_circuit_sends_later_tasks_to_the_healthy_tool(
    ledger: Ledger, project: Path
) -> None:
    """``broken`` is a fake claude failing as the real CLI reports failures; the real CLI
    cannot be reached here."""
    config = router(
        {
            "broken": failing(circuit={"failure_threshold": 2, "recovery_seconds": 600}),
            "healthy": codex(),
        },
        rules=[{"id": "r", "strategy": "fallback", "candidates": ["broken", "healthy"]}],
    )
    tasks = [
        {"task_id": f"t{n}", "kind": "fix", "env": edits(**{f"f{n}.txt": "x\n"})}
        for n in range(1, 5)
    ]
    result = run(
        ledger,
        project,
        config,
        tasks,
        parallel=1,
        error_handling={"on_task_failure": "continue"},
    )
    assert task_states(ledger, result.run_id) == {
        "t1": "failed",
        "t2": "failed",
        "t3": "succeeded",
        "t4": "succeeded",
    }
    assert [attempts(ledger, result.run_id, f"t{n}")[0]["tool"] for n in range(1, 5)] == [
        "broken",
        "broken",
        "healthy",
        "healthy",
    ]
    (opened,) = events(ledger, result.run_id, "circuit.open")
    assert opened["subject_id"] == "broken"
    assert opened["payload"]["from"] == "closed"
    assert opened["payload"]["reason"].startswith("2 consecutive failures")
    log = [(e["kind"], e["task_id"]) for e in ledger.list_events(result.run_id)]
    assert log.index(("circuit.open", None)) < log.index(("route.decided", "t3"))
    decision = decisions(ledger, result.run_id, "t3")[0]
    broken = next(c for c in decision["candidates"] if c["tool"] == "broken")
    assert broken["eligible"] is False
    assert broken["reason"].startswith("circuit open")
    assert decision["chosen"] == ["healthy"]
    (circuit,) = [c for c in ledger.list_circuits() if c["tool"] == "broken"]
    assert circuit["state"] == "open"


def test_a_task_whose_only_tool_has_an_open_circuit_waits_for_the_probe(
    ledger: Ledger, project: Path
) -> None:
    """A tool failing its first task opens its circuit (threshold 1); the next task waits for
    the recovery time, goes as the probe, succeeds, and the circuit closes. The tool is a
    plain Python command: it fails for task ``first`` only."""
    code = (
        "import os, pathlib, sys; "
        "sys.exit('boom') if os.environ['UET_TASK_ID'] == 'first' else "
        "pathlib.Path('probe.txt').write_text('ok')"
    )
    config = router(
        {
            "tool": {
                "argv": [PY, "-c", code, "{prompt}"],
                "writes": True,
                "circuit": {"failure_threshold": 1, "recovery_seconds": 0.2},
            }
        }
    )
    result = run(
        ledger,
        project,
        config,
        [
            {"task_id": "first", "tool": "tool"},
            {"task_id": "second", "tool": "tool", "priority": -1},
        ],
        parallel=1,
        error_handling={"on_task_failure": "continue"},
    )
    assert task_states(ledger, result.run_id) == {"first": "failed", "second": "succeeded"}
    log = ledger.list_events(result.run_id)
    circuit_kinds = [e["kind"] for e in log if e["kind"].startswith("circuit.")]
    assert circuit_kinds == ["circuit.open", "circuit.half_open", "circuit.closed"]
    position = {e["kind"]: i for i, e in enumerate(log)}
    second_started = next(
        i for i, e in enumerate(log) if e["task_id"] == "second" and e["kind"] == "route.decided"
    )
    assert position["circuit.open"] < second_started, "the second task waited for the circuit"
    assert git(project, "show", f"uet/{result.run_id}:probe.txt") == "ok"
    (circuit,) = ledger.list_circuits()
    assert (circuit["state"], circuit["failures"]) == ("closed", 0)


def exclusive_tool(marker: Path) -> list[str]:
    """argv of a writing tool that fails if another run of it is going on: it holds
    ``marker`` (created exclusively) for a moment while it works."""
    code = (
        "import os, pathlib, sys, time; marker = sys.argv[1]\n"
        "try:\n"
        "    os.close(os.open(marker, os.O_CREAT | os.O_EXCL))\n"
        "except FileExistsError:\n"
        "    sys.exit('another run of this tool is going on')\n"
        "pathlib.Path(os.environ['UET_TASK_ID'] + '.txt').write_text('done')\n"
        "time.sleep(0.3)\n"
        "os.remove(marker)\n"
    )
    return [PY, "-c", code, str(marker), "{prompt}"]


def test_a_tools_max_parallel_holds_when_many_of_its_tasks_are_ready_together(
    ledger: Ledger, project: Path, tmp_path: Path
) -> None:
    """Three ready tasks of a max_parallel 1 tool, three free workers: they run one at a time
    (each attempt counts against the cap as it is picked, not only once started)."""
    tool = {
        "argv": exclusive_tool(tmp_path / "busy"),
        "writes": True,
        "limits": {"max_parallel": 1},
    }
    tasks = [{"task_id": f"t{n}", "tool": "solo"} for n in range(3)]
    result = run(ledger, project, router({"solo": tool}), tasks, parallel=3)
    errors = [a["error"] for a in ledger.list_attempts(result.run_id) if a["error"]]
    assert errors == []
    assert result.state == "succeeded"


def test_a_tools_max_parallel_holds_across_scheduling_turns(
    ledger: Ledger, project: Path, tmp_path: Path
) -> None:
    """Tasks becoming ready one after another (each released by a quick task of its own) are
    held back while the capped tool is busy."""
    tool = {
        "argv": exclusive_tool(tmp_path / "busy"),
        "writes": True,
        "limits": {"max_parallel": 1},
    }
    tasks: list[dict[str, Any]] = [{"task_id": "t0", "tool": "solo"}]
    for n in (1, 2):
        tasks.append({"task_id": f"go{n}", "run": [PY, "-c", "pass"]})
        tasks.append({"task_id": f"t{n}", "tool": "solo", "depends_on": [f"go{n}"]})
    result = run(ledger, project, router({"solo": tool}), tasks, parallel=3)
    errors = [a["error"] for a in ledger.list_attempts(result.run_id) if a["error"]]
    assert errors == []
    assert result.state == "succeeded", result.reason


def test_least_loaded_spreads_tasks_that_start_together(ledger: Ledger, project: Path) -> None:
    """Two tasks picked in the same scheduling turn go to different tools. The fake claude and
    codex print exactly the real CLIs' output formats (the real CLIs cannot be reached here)."""
    config = router(
        {"a": claude(), "b": codex()},
        rules=[{"id": "ll", "strategy": "least_loaded", "candidates": ["a", "b"]}],
    )
    tasks = [
        {"task_id": f"t{n}", "kind": "k", "env": edits(**{f"f{n}.txt": "x\n"})} for n in range(2)
    ]
    result = run(ledger, project, config, tasks, parallel=2)
    assert result.state == "succeeded", result.reason
    assert sorted(a["tool"] or "" for a in ledger.list_attempts(result.run_id)) == ["a", "b"]


def test_least_loaded_picks_the_idle_tool_while_the_other_is_busy(
    ledger: Ledger, project: Path
) -> None:
    """``slow`` is still running when the second task becomes ready (released by a quick
    task), so it goes to ``b``. The fake claude and codex print exactly the real CLIs' output
    formats (the real CLIs cannot be reached here)."""
    config = router(
        {"a": claude(), "b": codex()},
        rules=[{"id": "ll", "strategy": "least_loaded", "candidates": ["a", "b"]}],
    )
    slow_env = {**edits(**{"slow.txt": "x\n"}), "FAKE_AGENT_SLEEP": "1"}
    tasks = [
        {"task_id": "slow", "kind": "k", "env": slow_env},
        {"task_id": "go", "run": [PY, "-c", "pass"]},
        {"task_id": "next", "kind": "k", "depends_on": ["go"], "env": edits(n="n\n")},
    ]
    result = run(ledger, project, config, tasks, parallel=3)
    assert result.state == "succeeded", result.reason
    assert attempts(ledger, result.run_id, "slow")[0]["tool"] == "a"
    (decision,) = decisions(ledger, result.run_id, "next")
    assert decision["chosen"] == ["b"]
    scores = {c["tool"]: c["score"] for c in decision["candidates"]}
    assert scores == {"a": 1.0, "b": 0.0}


def test_a_tools_rate_limit_spaces_out_its_attempts(ledger: Ledger, project: Path) -> None:
    """60 requests a minute allows a burst of one: of two tasks ready together, the second
    starts only once the bucket refilled (a second later), never in the same turn. The fake
    claude prints exactly the real CLI's output format (the real CLI cannot be reached
    here)."""
    config = router({"claude": claude(limits={"requests_per_minute": 60})})
    tasks = [
        {"task_id": f"t{n}", "tool": "claude", "env": edits(**{f"f{n}.txt": "x\n"})}
        for n in range(2)
    ]
    result = run(ledger, project, config, tasks, parallel=2)
    assert result.state == "succeeded", result.reason
    first, second = sorted(
        datetime.fromisoformat(a["started_at"]) for a in ledger.list_attempts(result.run_id)
    )
    # A lower bound the limiter guarantees (never an upper bound: machines are slow at times).
    assert (second - first).total_seconds() >= 0.8
