"""Budgets through real runs: a used-up run or workstream budget pauses the run after the
attempt that used it up; more budget resumes it to the end; the warning line at 80%; a used-up
task budget fails its task with no further attempts. Real git repositories in tmp_path, a real
SQLite ledger, real subprocesses.

The agent tool is the fake claude of tests/agents, printing exactly the real CLI's output
format (with the cost it was told to report), because the real CLI and the LLM behind it
cannot be reached here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agentruns import attempts, claude, edits, events, options, router, run, task_states
from gitrepos import branch_log

from core.engine.runs import raise_budget, resume_run
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses", "fake_agents")
CONFIG = router({"claude": claude()})


def costing(usd: float, **files: str) -> dict[str, str]:
    """Task env: the fake claude edits ``files`` and reports ``usd`` as its cost."""
    return {**edits(**files), "FAKE_AGENT_COST": str(usd)}


def chain(count: int, usd: float) -> list[dict[str, object]]:
    """``count`` claude tasks, each after the one before, each costing ``usd``."""
    return [
        {
            "task_id": f"t{n}",
            "tool": "claude",
            "env": costing(usd, **{f"f{n}.txt": f"{n}\n"}),
            **({"depends_on": [f"t{n - 1}"]} if n > 1 else {}),
        }
        for n in range(1, count + 1)
    ]


def test_a_run_budget_smaller_than_one_attempt_pauses_the_run_and_more_budget_finishes_it(
    ledger: Ledger, project: Path
) -> None:
    result = run(ledger, project, CONFIG, chain(3, 0.05), run_budget={"max_usd": 0.01})
    assert result.state == "paused"
    assert "budget" in (result.reason or "")
    assert f"uet resume {result.run_id} --budget-usd" in (result.reason or "")
    run_row = ledger.get_run(result.run_id)
    assert run_row is not None
    assert run_row["state"] == "paused"
    assert "budget" in (run_row["state_reason"] or "")
    # The attempt that used the budget up finished and its patch landed; nothing else started.
    assert task_states(ledger, result.run_id) == {"t1": "succeeded", "t2": "ready", "t3": "pending"}
    assert len(attempts(ledger, result.run_id)) == 1
    branch = f"uet/{result.run_id}"
    assert branch_log(project, branch) == ["uet: t1 (claude)", "initial"]
    (exceeded,) = events(ledger, result.run_id, "budget.exceeded")
    assert exceeded["payload"]["scope"] == "run"
    assert exceeded["payload"]["limit"] == "max_usd"
    assert exceeded["payload"]["spent"] == pytest.approx(0.05)
    assert exceeded["payload"]["allowed"] == 0.01
    assert "used up" in exceeded["payload"]["reason"]

    raise_budget(ledger, result.run_id, {"max_usd": 1.0})
    resumed = resume_run(ledger, result.run_id, options(None))
    assert resumed.state == "succeeded", resumed.reason
    assert task_states(ledger, result.run_id) == dict.fromkeys(("t1", "t2", "t3"), "succeeded")
    assert [a["task_id"] for a in attempts(ledger, result.run_id)].count("t1") == 1
    assert len(ledger.list_attempts(result.run_id)) == 3, "t1 never ran again"
    assert branch_log(project, branch)[:3] == [
        "uet: t3 (claude)",
        "uet: t2 (claude)",
        "uet: t1 (claude)",
    ]
    run_row = ledger.get_run(result.run_id)
    assert run_row is not None
    assert run_row["budget"] == {"max_usd": 1.0}
    total = sum(c["amount"] for c in ledger.list_costs(result.run_id))
    assert total == pytest.approx(0.15)


def test_a_run_budget_crossing_80_percent_warns_once_and_the_run_goes_on(
    ledger: Ledger, project: Path
) -> None:
    result = run(ledger, project, CONFIG, chain(2, 0.045), run_budget={"max_usd": 0.1})
    assert result.state == "succeeded", result.reason
    assert events(ledger, result.run_id, "budget.exceeded") == []
    (warning,) = events(ledger, result.run_id, "budget.warning")
    assert warning["payload"]["scope"] == "run"
    assert warning["payload"]["spent"] == pytest.approx(0.09)
    assert warning["payload"]["allowed"] == 0.1
    assert "90% used" in warning["payload"]["reason"]


def test_a_run_budget_below_80_percent_says_nothing(ledger: Ledger, project: Path) -> None:
    result = run(ledger, project, CONFIG, chain(1, 0.05), run_budget={"max_usd": 0.1})
    assert result.state == "succeeded", result.reason
    kinds = {e["kind"] for e in ledger.list_events(result.run_id)}
    assert not {"budget.warning", "budget.exceeded"} & kinds


def test_a_used_up_task_budget_fails_its_task_with_no_more_attempts(
    ledger: Ledger, project: Path
) -> None:
    """The fake claude fails each time, reporting what the failed run cost, as the real CLI
    does."""
    result = run(
        ledger,
        project,
        CONFIG,
        [
            {
                "task_id": "greedy",
                "tool": "claude",
                "max_attempts": 3,
                "retry": {"backoff_seconds": 0},
                "budget": {"max_usd": 0.01},
                "env": {**costing(0.05), "FAKE_AGENT_FAIL": "the model gave up"},
            },
            {"task_id": "other", "tool": "claude", "env": costing(0.05, other="o\n")},
        ],
        error_handling={"on_task_failure": "continue"},
    )
    assert result.state == "failed", "a task budget fails its task; it never pauses the run"
    assert task_states(ledger, result.run_id) == {"greedy": "failed", "other": "succeeded"}
    assert len(attempts(ledger, result.run_id, "greedy")) == 1, "no retry past the budget"
    (task,) = [t for t in ledger.list_tasks(result.run_id) if t["task_id"] == "greedy"]
    assert "budget" in (task["state_reason"] or "")
    assert "task greedy budget max_usd used up" in (task["state_reason"] or "")
    (exceeded,) = events(ledger, result.run_id, "budget.exceeded")
    assert exceeded["task_id"] == "greedy"
    assert exceeded["payload"]["scope"] == "task"


def test_a_task_budget_checked_before_dispatch_fails_a_task_already_over_it(
    ledger: Ledger, project: Path
) -> None:
    """A task whose attempt fails by its gate (not by its tool) spends its budget; the retry
    is refused before it starts. The fake claude reports its cost as the real CLI does."""
    result = run(
        ledger,
        project,
        CONFIG,
        [
            {
                "task_id": "t",
                "tool": "claude",
                "max_attempts": 3,
                "retry": {"backoff_seconds": 0},
                "budget": {"max_usd": 0.05},
                "env": costing(0.05, **{"notes.txt": "wrong\n"}),
                "gates": ["never"],
            }
        ],
        gates={"never": {"run": ["false"], "type": "custom"}},
    )
    assert result.state == "failed"
    assert len(attempts(ledger, result.run_id)) == 1
    (task,) = ledger.list_tasks(result.run_id)
    assert task["state"] == "failed"
    assert "budget" in (task["state_reason"] or "")
    assert [p["state"] for p in ledger.list_patches(result.run_id)] == ["rejected"]


def test_a_used_up_workstream_budget_pauses_the_run_and_a_raised_run_budget_lifts_it(
    ledger: Ledger, project: Path
) -> None:
    result = run(ledger, project, CONFIG, chain(2, 0.05), budget={"max_usd": 0.01})
    assert result.state == "paused"
    assert "budget" in (result.reason or "")
    assert task_states(ledger, result.run_id) == {"t1": "succeeded", "t2": "ready"}
    (exceeded,) = events(ledger, result.run_id, "budget.exceeded")
    assert (exceeded["payload"]["scope"], exceeded["payload"]["subject"]) == ("workstream", "ws")

    raise_budget(ledger, result.run_id, {"max_usd": 0.5})
    run_row = ledger.get_run(result.run_id)
    assert run_row is not None
    assert run_row["workstreams"][0]["budget"] == {"max_usd": 0.5}
    resumed = resume_run(ledger, result.run_id, options(None))
    assert resumed.state == "succeeded", resumed.reason
    assert len(ledger.list_attempts(result.run_id)) == 2


def test_token_budget_pauses_the_run_too(ledger: Ledger, project: Path) -> None:
    """The fake claude reports 1500 tokens per run, as the real CLI reports usage."""
    result = run(ledger, project, CONFIG, chain(2, 0.0), run_budget={"max_tokens": 1000})
    assert result.state == "paused"
    (exceeded,) = events(ledger, result.run_id, "budget.exceeded")
    assert exceeded["payload"]["limit"] == "max_tokens"
    assert exceeded["payload"]["spent"] == 1500
    assert task_states(ledger, result.run_id) == {"t1": "succeeded", "t2": "ready"}
