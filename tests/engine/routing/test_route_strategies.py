"""Choosing tools for one dispatch: each of the eight strategies, eligibility (open circuits,
capabilities), and the decision document recorded in the execution request.
"""

from __future__ import annotations

from typing import Any

import pytest

from core import clock
from core.contracts import registry
from core.engine.routing.config import Route, RouterConfig, check_router
from core.engine.routing.strategies import Decision, Situation, decide
from core.state import ToolHistory

DECISION_SCHEMA = {
    "$ref": "https://uet.dev/schema/execution_request.v1.json#/$defs/routing_decision"
}


def config(**tools: dict[str, Any]) -> RouterConfig:
    """A router config with tools a, b, c (plain commands), changed or extended by ``tools``."""
    entries: dict[str, dict[str, Any]] = {n: {"argv": [n, "{prompt}"]} for n in ("a", "b", "c")}
    for name, extra in tools.items():
        entries[name] = {"argv": [name, "{prompt}"], **extra}
    return check_router({"schema_version": "router_config.v1", "tools": entries})


def route(strategy: str, *candidates: str, n: int | None = None, pick: str = "first") -> Route:
    return Route(tuple(candidates or ("a", "b", "c")), strategy, "rule-1", n, pick)


def assert_valid(decision: Decision) -> dict[str, Any]:
    document = decision.document(clock.now())
    assert registry().issues_against(document, DECISION_SCHEMA, "decision") == []
    return document


def by_tool(decision: Decision) -> dict[str, Any]:
    return {c.tool: c for c in decision.candidates}


# --- fixed --------------------------------------------------------------------------------------


def test_fixed_takes_the_first_candidate() -> None:
    decision = decide(route("fixed", "b", "a"), config(), Situation())
    assert decision.chosen == ["b"]
    assert decision.reason == "first candidate"
    assert (decision.strategy, decision.rule) == ("fixed", "rule-1")
    assert decision.role(0) == "primary"
    assert decision.shadows == []
    assert_valid(decision)


def test_fixed_skips_an_unavailable_tool() -> None:
    situation = Situation(unavailable={"a": "circuit open, probe in 42s"})
    decision = decide(route("fixed"), config(), situation)
    assert decision.chosen == ["b"]
    assert "a" in decision.reason
    a = by_tool(decision)["a"]
    assert (a.eligible, a.reason) == (False, "circuit open, probe in 42s")
    assert by_tool(decision)["b"].eligible
    document = assert_valid(decision)
    assert document["candidates"][0] == {
        "tool": "a",
        "score": None,
        "eligible": False,
        "reason": "circuit open, probe in 42s",
    }


# --- fallback -----------------------------------------------------------------------------------


def test_fallback_takes_the_first_tool_that_has_not_failed_the_task() -> None:
    decision = decide(route("fallback"), config(), Situation())
    assert decision.chosen == ["a"]
    decision = decide(route("fallback"), config(), Situation(failed_tools=["a"]))
    assert decision.chosen == ["b"]
    assert "after a failed" in decision.reason
    decision = decide(route("fallback"), config(), Situation(failed_tools=["a", "b", "a"]))
    assert decision.chosen == ["c"]
    assert "a, b failed" in decision.reason
    assert_valid(decision)


def test_fallback_starts_over_when_every_candidate_failed() -> None:
    decision = decide(route("fallback"), config(), Situation(failed_tools=["c", "b", "a"]))
    assert decision.chosen == ["a"]
    assert "starting over" in decision.reason


def test_fallback_ignores_failures_of_tools_outside_the_route() -> None:
    decision = decide(route("fallback", "a", "b"), config(), Situation(failed_tools=["c"]))
    assert decision.chosen == ["a"]
    assert decision.reason == "first candidate"


def test_fallback_skips_unavailable_and_failed_tools_together() -> None:
    situation = Situation(failed_tools=["a"], unavailable={"b": "circuit open"})
    assert decide(route("fallback"), config(), situation).chosen == ["c"]


# --- round_robin --------------------------------------------------------------------------------


def test_round_robin_takes_the_eligible_tools_in_turn() -> None:
    chosen = [
        decide(route("round_robin"), config(), Situation(turn=turn)).chosen[0] for turn in range(5)
    ]
    assert chosen == ["a", "b", "c", "a", "b"]
    decision = decide(route("round_robin"), config(), Situation(turn=1))
    assert decision.reason == "turn 2: b"
    assert_valid(decision)


def test_round_robin_turns_over_the_eligible_tools_only() -> None:
    situation = Situation(turn=1, unavailable={"b": "circuit open"})
    assert decide(route("round_robin"), config(), situation).chosen == ["c"]
    situation = Situation(turn=2, unavailable={"b": "circuit open"})
    assert decide(route("round_robin"), config(), situation).chosen == ["a"]


# --- least_loaded -------------------------------------------------------------------------------


def test_least_loaded_compares_running_attempts_to_max_parallel() -> None:
    tools = config(a={"limits": {"max_parallel": 2}}, b={"limits": {"max_parallel": 10}})
    # a: 1 of 2 (0.5), b: 3 of 10 (0.3), c: 1 running with no cap (1.0)
    decision = decide(route("least_loaded"), tools, Situation(running={"a": 1, "b": 3, "c": 1}))
    assert decision.chosen == ["b"]
    scores = {c.tool: c.score for c in decision.candidates}
    assert scores == {"a": 0.5, "b": 0.3, "c": 1.0}
    assert by_tool(decision)["b"].reason == "3 running of 10"
    assert by_tool(decision)["c"].reason == "1 running"
    assert_valid(decision)


def test_least_loaded_keeps_the_first_of_equals() -> None:
    decision = decide(route("least_loaded", "b", "a"), config(), Situation())
    assert decision.chosen == ["b"]


def test_least_loaded_prefers_an_idle_tool() -> None:
    decision = decide(route("least_loaded"), config(), Situation(running={"a": 1, "b": 2}))
    assert decision.chosen == ["c"]


# --- cost_optimized -----------------------------------------------------------------------------


def test_cost_optimized_takes_the_lowest_mean_cost_in_history() -> None:
    history = {
        "a": ToolHistory(attempts=4, succeeded=4, amount=0.40, tokens=4000),  # 0.10
        "b": ToolHistory(attempts=2, succeeded=1, amount=0.10, tokens=2000),  # 0.05
        "c": ToolHistory(attempts=1, succeeded=1, amount=0.20, tokens=1000),  # 0.20
    }
    decision = decide(route("cost_optimized"), config(), Situation(history=history))
    assert decision.chosen == ["b"]
    assert {c.tool: c.score for c in decision.candidates} == {"a": 0.1, "b": 0.05, "c": 0.2}
    assert "over 2 attempt(s)" in by_tool(decision)["b"].reason
    assert_valid(decision)


def test_cost_optimized_estimates_a_new_tool_from_pricing_and_the_mean_tokens() -> None:
    priced = {"pricing": {"m": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}}}
    tools = config(c=priced)
    # a and b used 3000 tokens over 3 attempts (1000 a piece); c's list price is $10/Mtok,
    # so c is estimated at 1000 * 10 / 1e6 = $0.01 an attempt, cheaper than a and b.
    history = {
        "a": ToolHistory(attempts=2, amount=0.04, tokens=1000),  # 0.02
        "b": ToolHistory(attempts=1, amount=0.03, tokens=2000),  # 0.03
    }
    decision = decide(route("cost_optimized"), tools, Situation(history=history))
    c = by_tool(decision)["c"]
    assert c.score == pytest.approx(0.01)
    assert "no history" in c.reason
    assert "1000 tokens" in c.reason
    assert decision.chosen == ["c"]


def test_cost_optimized_estimates_with_nominal_tokens_when_no_tool_has_history() -> None:
    priced = {"pricing": {"m": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}}}
    cheap = {"pricing": {"m": {"input_per_mtok": 0.5, "output_per_mtok": 1.5}}}
    decision = decide(route("cost_optimized", "a", "b"), config(a=priced, b=cheap), Situation())
    assert {c.tool: c.score for c in decision.candidates} == {
        "a": pytest.approx(0.01),
        "b": pytest.approx(0.002),
    }
    assert decision.chosen == ["b"]


def test_cost_optimized_counts_a_tool_with_no_history_and_no_pricing_as_free() -> None:
    history = {"a": ToolHistory(attempts=1, amount=0.01, tokens=100)}
    decision = decide(route("cost_optimized", "a", "b"), config(), Situation(history=history))
    b = by_tool(decision)["b"]
    assert (b.score, b.reason) == (0.0, "no history, no pricing: counted free")
    assert decision.chosen == ["b"]


def test_cost_optimized_treats_an_empty_history_entry_as_no_history() -> None:
    history = {"a": ToolHistory(), "b": ToolHistory(attempts=1, amount=0.5, tokens=10)}
    decision = decide(route("cost_optimized", "b", "a"), config(), Situation(history=history))
    assert by_tool(decision)["a"].score == 0.0
    assert decision.chosen == ["a"]


# --- success_rate -------------------------------------------------------------------------------


def test_success_rate_uses_laplace_smoothing() -> None:
    history = {
        "a": ToolHistory(attempts=10, succeeded=6),  # 7/12 = 0.5833
        "b": ToolHistory(attempts=2, succeeded=2),  # 3/4 = 0.75
        "c": ToolHistory(attempts=8, succeeded=7),  # 8/10 = 0.8
    }
    decision = decide(route("success_rate"), config(), Situation(history=history))
    assert decision.chosen == ["c"]
    assert {c.tool: c.score for c in decision.candidates} == {"a": 0.5833, "b": 0.75, "c": 0.8}
    assert by_tool(decision)["c"].reason == "7/8 succeeded"
    assert_valid(decision)


def test_success_rate_gives_a_new_tool_one_half() -> None:
    history = {"a": ToolHistory(attempts=4, succeeded=1)}  # 2/6
    decision = decide(route("success_rate", "a", "b"), config(), Situation(history=history))
    assert by_tool(decision)["b"].score == 0.5
    assert decision.chosen == ["b"]


def test_success_rate_keeps_the_first_of_equals() -> None:
    decision = decide(route("success_rate", "c", "a", "b"), config(), Situation())
    assert decision.chosen == ["c"]


# --- best_of_n and shadow -----------------------------------------------------------------------


def test_best_of_n_takes_the_first_n_eligible_candidates_as_branches() -> None:
    decision = decide(route("best_of_n", n=2, pick="cheapest"), config(), Situation())
    assert decision.chosen == ["a", "b"]
    assert [decision.role(i) for i in range(2)] == ["branch", "branch"]
    assert decision.shadows == []
    assert "cheapest" in decision.reason
    assert_valid(decision)
    situation = Situation(unavailable={"a": "circuit open"})
    assert decide(route("best_of_n", n=2), config(), situation).chosen == ["b", "c"]


def test_best_of_n_without_n_races_every_candidate() -> None:
    assert decide(route("best_of_n"), config(), Situation()).chosen == ["a", "b", "c"]


def test_best_of_n_races_fewer_branches_when_fewer_are_eligible() -> None:
    situation = Situation(unavailable={"a": "circuit open", "b": "circuit open"})
    decision = decide(route("best_of_n", n=3), config(), situation)
    assert decision.chosen == ["c"]
    assert "1 branch(es)" in decision.reason


def test_shadow_has_a_primary_and_shadows() -> None:
    decision = decide(route("shadow"), config(), Situation())
    assert decision.chosen == ["a", "b", "c"]
    assert decision.shadows == ["b", "c"]
    assert [decision.role(i) for i in range(3)] == ["primary", "shadow", "shadow"]
    assert decision.reason.startswith("a integrates")
    assert "never integrated" in decision.reason
    assert_valid(decision)


def test_shadow_with_n_one_is_just_the_primary() -> None:
    decision = decide(route("shadow", n=1), config(), Situation())
    assert decision.chosen == ["a"]
    assert decision.shadows == []
    assert decision.reason == "a integrates"


def test_shadow_promotes_the_first_eligible_to_primary() -> None:
    decision = decide(route("shadow", n=2), config(), Situation(unavailable={"a": "open"}))
    assert decision.chosen == ["b", "c"]
    assert decision.role(0) == "primary"


# --- eligibility --------------------------------------------------------------------------------


def test_a_tool_not_taking_the_task_kind_is_not_eligible() -> None:
    tools = config(a={"capabilities": {"task_kinds": ["docs"]}})
    decision = decide(route("fixed"), tools, Situation(kind="codemod"))
    assert decision.chosen == ["b"]
    a = by_tool(decision)["a"]
    assert (a.eligible, a.reason) == (False, "does not take 'codemod' tasks")
    assert decide(route("fixed"), tools, Situation(kind="docs")).chosen == ["a"]
    assert decide(route("fixed"), tools, Situation(kind=None)).chosen == ["a"]


@pytest.mark.parametrize(
    "strategy",
    [
        "fixed",
        "fallback",
        "round_robin",
        "least_loaded",
        "cost_optimized",
        "success_rate",
        "best_of_n",
        "shadow",
    ],
)
def test_no_eligible_candidate_chooses_nothing_and_says_why(strategy: str) -> None:
    tools = config(c={"capabilities": {"task_kinds": ["docs"]}})
    situation = Situation(
        kind="codemod",
        unavailable={"a": "circuit open, probe in 10s", "b": "circuit half open, probe running"},
    )
    decision = decide(route(strategy), tools, situation)
    assert decision.chosen == []
    assert decision.reason.startswith("no candidate is available")
    assert "a: circuit open, probe in 10s" in decision.reason
    assert "b: circuit half open, probe running" in decision.reason
    assert "c: does not take 'codemod' tasks" in decision.reason
    assert all(not c.eligible for c in decision.candidates)
    assert_valid(decision)


def test_the_decision_document_carries_the_rule_and_time() -> None:
    decision = decide(Route(("a",), "fixed"), config(), Situation())
    at = clock.now()
    document = decision.document(at)
    assert document == {
        "rule": None,
        "strategy": "fixed",
        "candidates": [{"tool": "a", "score": None, "eligible": True}],
        "chosen": ["a"],
        "reason": "first candidate",
        "decided_at": at,
    }
    assert "decided_at" not in decision.document()
    assert registry().issues_against(document, DECISION_SCHEMA) == []


def test_the_schema_would_refuse_a_broken_decision() -> None:
    # the check above can fail: a document missing its reason is refused
    document = decide(route("fixed"), config(), Situation()).document()
    del document["reason"]
    assert registry().issues_against(document, DECISION_SCHEMA) != []
