"""What attempts cost (core.engine.costs): cost rows from an attempt's outcome and its tool's
pricing, their cost_record.v1 documents, their round trip through a real SQLite ledger, and the
budgets that announce warning lines and limits once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import clock
from core.contracts import issues
from core.engine.costs import (
    Budgets,
    Crossing,
    attempt_cost,
    cost_document,
    gate_cost,
)
from core.engine.execution.outcome import Outcome
from core.engine.recorder import Recorder
from core.engine.routing.config import Tool, check_router
from core.engine.routing.usage import Usage
from core.ids import new_id
from core.state import CostRow, Ledger, open_ledger

RUN = new_id()
PRICING = {
    "sonnet": {"input_per_mtok": 3.0, "output_per_mtok": 15.0},
    "haiku": {"input_per_mtok": 1.0, "output_per_mtok": 5.0},
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Ledger]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    yield ledger
    ledger.close()


def tool(**spec: Any) -> Tool:
    entry = {"argv": ["agent", "{prompt}"], "pricing": PRICING, "default_model": "sonnet", **spec}
    document = {"schema_version": "router_config.v1", "tools": {"agent": entry}}
    return check_router(document).tools["agent"]


def cost(
    outcome: Outcome,
    agent: Tool | None,
    *,
    task: str = "t1",
    workstream: str = "ws",
    gate_seconds: float = 0.0,
) -> CostRow:
    return attempt_cost(
        outcome,
        attempt_id=new_id(),
        run_id=RUN,
        task_id=task,
        workstream_id=workstream,
        tool=agent,
        now=clock.now(),
        gate_seconds=gate_seconds,
    )


def assert_valid(row: CostRow) -> dict[str, Any]:
    document = cost_document(row)
    assert issues(document, "cost_record.v1", "cost") == []
    return document


# --- attempt costs ------------------------------------------------------------------------------


def test_a_reported_cost_is_used_as_is() -> None:
    usage = Usage(tokens_in=1000, tokens_out=200, model="haiku", reported_cost=0.125)
    row = cost(Outcome("succeeded", 12.5, usage=usage, cpu_seconds=1.25), tool())
    assert row["amount"] == 0.125
    assert row["estimated"] is False
    assert row["resource_type"] == "llm_tokens"
    assert (row["tool"], row["model"]) == ("agent", "haiku")
    assert (row["tokens_in"], row["tokens_out"]) == (1000, 200)
    assert row["usage"] == usage.document()
    assert (row["wall_seconds"], row["cpu_seconds"]) == (12.5, 1.25)
    assert row["currency"] == "USD"
    document = assert_valid(row)
    assert document["subject"] == {
        "kind": "attempt",
        "id": row["subject_id"],
        "run_id": RUN,
        "task_id": "t1",
        "workstream_id": "ws",
    }


def test_without_a_reported_cost_the_price_of_the_model_gives_an_estimate() -> None:
    usage = Usage(
        tokens_in=1000,
        tokens_out=500,
        cache_read_tokens=2000,
        cache_write_tokens=400,
        model="sonnet",
    )
    row = cost(Outcome("succeeded", 3.0, usage=usage), tool())
    # input at $3/Mtok: 1000 + 10% of 2000 cache reads + 125% of 400 cache writes = 1700;
    # output 500 at $15/Mtok
    assert row["amount"] == pytest.approx((3.0 * 1700 + 15.0 * 500) / 1_000_000)
    assert row["estimated"] is True
    assert row["model"] == "sonnet"
    assert_valid(row)


def test_usage_without_a_model_is_priced_at_the_tool_default_model() -> None:
    usage = Usage(tokens_in=1_000_000, tokens_out=0)
    row = cost(Outcome("succeeded", 1.0, usage=usage), tool())
    assert row["model"] == "sonnet"
    assert row["amount"] == pytest.approx(3.0)
    assert row["estimated"] is True


def test_usage_the_tool_cannot_price_costs_nothing_and_is_not_an_estimate() -> None:
    usage = Usage(tokens_in=5000, tokens_out=100, model="unknown")
    row = cost(Outcome("succeeded", 1.0, usage=usage), tool(default_model="nope"))
    assert (row["amount"], row["estimated"]) == (0.0, False)
    assert row["resource_type"] == "llm_tokens"
    assert (row["tokens_in"], row["tokens_out"]) == (5000, 100)
    assert_valid(row)
    row = cost(Outcome("succeeded", 1.0, usage=usage), None)
    assert (row["amount"], row["estimated"], row["tool"]) == (0.0, False, None)
    assert_valid(row)


def test_the_price_currency_is_recorded_with_an_estimate() -> None:
    pricing = {"m": {"input_per_mtok": 2.0, "output_per_mtok": 2.0, "currency": "EUR"}}
    agent = tool(pricing=pricing, default_model="m")
    row = cost(Outcome("succeeded", 1.0, usage=Usage(tokens_in=500_000)), agent)
    assert (row["amount"], row["currency"], row["estimated"]) == (1.0, "EUR", True)
    assert_valid(row)


def test_a_reported_cost_keeps_the_currency_the_tool_reported_it_in() -> None:
    # claude's total_cost_usd and aider's "$x session" are US dollars, whatever currency the
    # router prices the tool in
    pricing = {"m": {"input_per_mtok": 2.0, "output_per_mtok": 2.0, "currency": "EUR"}}
    agent = tool(pricing=pricing, default_model="m")
    usage = Usage(tokens_in=500_000, reported_cost=0.75)
    row = cost(Outcome("succeeded", 1.0, usage=usage), agent)
    assert (row["amount"], row["estimated"]) == (0.75, False)
    assert row["currency"] == "USD"


def test_an_attempt_with_no_usage_costs_only_compute() -> None:
    row = cost(Outcome("failed", 4.0, exit_code=1, cpu_seconds=0.5), tool())
    assert row["resource_type"] == "compute"
    assert (row["amount"], row["estimated"], row["model"], row["usage"]) == (0.0, False, None, None)
    assert (row["tokens_in"], row["tokens_out"]) == (0, 0)
    assert row["tool"] == "agent"
    assert row["wall_seconds"] == 4.0
    assert_valid(row)


def test_wall_seconds_exclude_the_gates_and_never_go_negative() -> None:
    row = cost(Outcome("succeeded", 10.0), tool(), gate_seconds=7.5)
    assert row["wall_seconds"] == 2.5
    row = cost(Outcome("succeeded", 1.0), tool(), gate_seconds=3.0)
    assert row["wall_seconds"] == 0.0
    assert_valid(row)


def test_cpu_seconds_stay_unknown_when_not_measured() -> None:
    row = cost(Outcome("succeeded", 1.0), None)
    assert row["cpu_seconds"] is None
    assert_valid(row)


def test_gate_costs_are_machine_time() -> None:
    result = {"gate_result_id": new_id(), "run_id": RUN, "task_id": "t1", "duration_seconds": 2.5}
    row = gate_cost(result, workstream_id="ws", now=clock.now())
    assert (row["subject_kind"], row["subject_id"]) == ("gate", result["gate_result_id"])
    assert (row["resource_type"], row["amount"], row["wall_seconds"]) == ("compute", 0.0, 2.5)
    assert_valid(row)


def test_the_cost_schema_refuses_a_broken_row() -> None:
    row = cost(Outcome("succeeded", 1.0), None)
    row["currency"] = "usd"
    assert issues(cost_document(row), "cost_record.v1") != []


def test_costs_round_trip_through_the_ledger(store: Ledger) -> None:
    usage = Usage(tokens_in=100, tokens_out=20, model="haiku")
    rows = [
        cost(Outcome("succeeded", 2.0, usage=usage, cpu_seconds=0.25), tool()),
        cost(Outcome("failed", 1.0, exit_code=2), tool()),
    ]
    with Recorder(store).transaction() as ch:
        ch.record_costs(rows)
    assert store.list_costs(RUN) == rows
    # only the row with money or tokens is announced
    recorded = [e for e in store.list_events(RUN) if e["kind"] == "cost.recorded"]
    assert [e["subject_id"] for e in recorded] == [rows[0]["cost_id"]]
    assert recorded[0]["payload"]["estimated"] is True
    assert recorded[0]["payload"]["tokens"] == 120


# --- budgets ------------------------------------------------------------------------------------


def spend(
    usd: float = 0.0, *, task: str = "t1", workstream: str = "ws", tokens: int = 0
) -> CostRow:
    usage = Usage(tokens_in=tokens, reported_cost=usd)
    return cost(Outcome("succeeded", 1.0, usage=usage), None, task=task, workstream=workstream)


def budgets(
    run: dict[str, Any] | None = None,
    workstream: dict[str, Any] | None = None,
    task: dict[str, Any] | None = None,
) -> Budgets:
    return Budgets(
        RUN,
        run,
        {"ws": workstream, "other": None},
        {"t1": task, "t2": None},
        {"t1": "ws", "t2": "other"},
    )


def test_the_warning_line_is_announced_once_then_the_limit_once() -> None:
    b = budgets(run={"max_usd": 1.0})
    assert b.add(spend(0.5)) == []
    [warning] = b.add(spend(0.3))
    assert (warning.scope, warning.subject, warning.limit, warning.exceeded) == (
        "run",
        RUN,
        "max_usd",
        False,
    )
    assert warning.spent == pytest.approx(0.8)
    assert warning.describe() == f"run {RUN} budget max_usd 80% used: $0.8000 of $1.0000"
    assert b.add(spend(0.1)) == []  # still past the warning line: said already
    [exceeded] = b.add(spend(0.1))
    assert exceeded.exceeded is True
    assert exceeded.describe() == f"run {RUN} budget max_usd used up: $1.0000 of $1.0000"
    assert b.add(spend(0.5)) == []


def test_jumping_past_the_limit_announces_only_the_limit() -> None:
    b = budgets(run={"max_usd": 1.0})
    crossings = b.add(spend(1.5))
    assert [(c.limit, c.exceeded) for c in crossings] == [("max_usd", True)]
    assert b.add(spend(0.1)) == []


def test_each_scope_and_limit_is_announced_on_its_own() -> None:
    b = budgets(
        run={"max_usd": 10.0},
        workstream={"max_tokens": 1000},
        task={"max_usd": 1.0, "max_wall_seconds": 2.0},
    )
    # 1 usd, 900 tokens, 1 wall second: task usd used up, task wall at 50%, workstream
    # tokens at 90%
    crossed = {(c.scope, c.subject, c.limit, c.exceeded) for c in b.add(spend(1.0, tokens=900))}
    assert crossed == {("task", "t1", "max_usd", True), ("workstream", "ws", "max_tokens", False)}
    crossed = {(c.scope, c.subject, c.limit, c.exceeded) for c in b.add(spend(0.0, tokens=100))}
    assert crossed == {
        ("workstream", "ws", "max_tokens", True),
        ("task", "t1", "max_wall_seconds", True),
    }


def test_costs_of_other_tasks_count_only_for_what_they_share() -> None:
    b = budgets(run={"max_usd": 2.0}, workstream={"max_usd": 1.0}, task={"max_usd": 1.0})
    assert b.add(spend(0.9, task="t2", workstream="other")) == []
    assert b.exhausted("t1", "ws") == (None, None)
    [run_warning] = b.add(spend(0.8, task="t2", workstream="other"))
    assert (run_warning.scope, run_warning.exceeded) == ("run", False)


def test_the_workstream_comes_from_the_task_when_the_row_has_none() -> None:
    b = budgets(workstream={"max_usd": 1.0})
    row = spend(1.0)
    row["workstream_id"] = None
    [crossing] = b.add(row)
    assert (crossing.scope, crossing.subject, crossing.exceeded) == ("workstream", "ws", True)


def test_exhausted_reports_shared_and_task_budgets_apart() -> None:
    b = budgets(run={"max_usd": 5.0}, task={"max_usd": 1.0})
    b.add(spend(0.9))
    assert b.exhausted("t1", "ws") == (None, None)  # a warning is not exhaustion
    b.add(spend(0.1))
    shared, task = b.exhausted("t1", "ws")
    assert shared is None
    assert task is not None
    assert (task.scope, task.subject, task.limit) == ("task", "t1", "max_usd")
    assert b.exhausted("t2", "other") == (None, None)  # another task still has budget
    b.add(spend(4.0, task="t2", workstream="other"))
    shared, task = b.exhausted("t2", "other")
    assert shared is not None
    assert (shared.scope, shared.exceeded) == ("run", True)
    assert task is None


def test_exhausted_reports_a_used_up_workstream_as_shared() -> None:
    b = budgets(workstream={"max_wall_seconds": 2.0})
    b.add(spend())
    b.add(spend())
    shared, task = b.exhausted("t1", "ws")
    assert isinstance(shared, Crossing)
    assert (shared.scope, shared.limit) == ("workstream", "max_wall_seconds")
    assert shared.describe() == "workstream ws budget max_wall_seconds used up: 2.0s of 2.0s"
    assert task is None


def test_loading_earlier_costs_keeps_crossed_lines_quiet(store: Ledger) -> None:
    with Recorder(store).transaction() as ch:
        ch.record_costs([spend(0.5), spend(0.35)])
    resumed = budgets(run={"max_usd": 1.0})
    resumed.load(store.list_costs(RUN))
    assert resumed.spent[("run", RUN)].usd == pytest.approx(0.85)
    assert resumed.add(spend(0.05)) == []  # the warning line was crossed before the resume
    [exceeded] = resumed.add(spend(0.1))
    assert exceeded.exceeded is True


def test_loading_costs_past_the_limit_still_reports_exhaustion(store: Ledger) -> None:
    with Recorder(store).transaction() as ch:
        ch.record_costs([spend(1.2)])
    resumed = budgets(run={"max_usd": 1.0})
    resumed.load(store.list_costs(RUN))
    assert resumed.add(spend(0.1)) == []
    shared, _ = resumed.exhausted("t1", "ws")
    assert shared is not None
    assert shared.exceeded


def test_a_raised_budget_after_a_resume_warns_again_at_its_new_line(store: Ledger) -> None:
    with Recorder(store).transaction() as ch:
        ch.record_costs([spend(1.0)])
    resumed = budgets(run={"max_usd": 2.0})  # `uet resume --budget-usd 2`
    resumed.load(store.list_costs(RUN))
    assert resumed.exhausted("t1", "ws") == (None, None)
    [warning] = resumed.add(spend(0.7))
    assert (warning.exceeded, warning.allowed) == (False, 2.0)


def test_no_budgets_means_no_crossings() -> None:
    b = budgets()
    assert b.add(spend(1000.0, tokens=10**9)) == []
    assert b.exhausted("t1", "ws") == (None, None)


def test_a_crossing_payload() -> None:
    b = budgets(task={"max_tokens": 100})
    [crossing] = b.add(spend(tokens=100))
    assert crossing.payload() == {
        "scope": "task",
        "subject": "t1",
        "limit": "max_tokens",
        "spent": 100,
        "allowed": 100.0,
    }
    assert crossing.describe() == "task t1 budget max_tokens used up: 100 tokens of 100 tokens"
