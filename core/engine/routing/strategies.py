"""Choosing the tool(s) for one dispatch of a task: the eight strategies.

A decision is made each time a task is dispatched, from what is true then: which circuits are
open, how loaded each tool is, what the ledger remembers of each tool on this kind of task,
which tools already failed this task. Every decision lists each candidate with its score,
whether it was eligible and why, the tools chosen and the reason, and is recorded as a
``route.decided`` event.

- ``fixed``: the first eligible candidate.
- ``fallback``: the first eligible candidate that has not failed this task yet.
- ``round_robin``: the eligible candidates in turn, across the tasks of the route.
- ``least_loaded``: the fewest running attempts for its ``max_parallel``.
- ``cost_optimized``: the lowest mean cost per attempt on this kind of task in the ledger; a
  tool with no history is estimated from its pricing and the mean tokens of the others.
- ``success_rate``: the best (successes + 1) / (attempts + 2) on this kind of task: a new tool
  starts at 0.5, so it gets tried.
- ``best_of_n``: the first n eligible candidates, in parallel private copies.
- ``shadow``: the first eligible candidate, plus the others as shadows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.engine.routing.config import Route, RouterConfig
from core.state import ToolHistory

_NOMINAL_TOKENS = 1000  # what a tool with no history is priced for when no tool has any


@dataclass
class Candidate:
    tool: str
    score: float | None = None
    eligible: bool = True
    reason: str = ""

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"tool": self.tool, "score": self.score, "eligible": self.eligible}
        if self.reason:
            doc["reason"] = self.reason
        return doc


@dataclass
class Decision:
    strategy: str
    rule: str | None
    candidates: list[Candidate]
    chosen: list[str] = field(default_factory=list)  # primary first; best_of_n: all branches
    reason: str = ""

    @property
    def shadows(self) -> list[str]:
        return self.chosen[1:] if self.strategy == "shadow" else []

    def role(self, index: int) -> str:
        if self.strategy == "shadow" and index > 0:
            return "shadow"
        if self.strategy == "best_of_n":
            return "branch"
        return "primary"

    def document(self, decided_at: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "rule": self.rule,
            "strategy": self.strategy,
            "candidates": [c.document() for c in self.candidates],
            "chosen": list(self.chosen),
            "reason": self.reason,
        }
        if decided_at:
            doc["decided_at"] = decided_at
        return doc


@dataclass(frozen=True)
class Situation:
    """What a decision looks at, beyond the route itself."""

    kind: str | None = None
    failed_tools: Sequence[str] = ()  # tools of this task's earlier failed attempts
    unavailable: Mapping[str, str] = field(default_factory=dict)  # tool -> why (circuit open)
    running: Mapping[str, int] = field(default_factory=dict)  # tool -> running attempts
    history: Mapping[str, ToolHistory] = field(default_factory=dict)  # on this kind of task
    turn: int = 0  # round_robin: how many decisions this route made before


def decide(route: Route, config: RouterConfig, situation: Situation) -> Decision:
    candidates = [_candidate(tool, config, situation) for tool in route.candidates]
    decision = Decision(route.strategy, route.rule, candidates)
    eligible = [c for c in candidates if c.eligible]
    if not eligible:
        reasons = "; ".join(f"{c.tool}: {c.reason}" for c in candidates)
        decision.reason = f"no candidate is available ({reasons})"
        return decision
    _STRATEGIES[route.strategy](decision, eligible, route, config, situation)
    return decision


def _candidate(tool: str, config: RouterConfig, situation: Situation) -> Candidate:
    why = situation.unavailable.get(tool)
    if why:
        return Candidate(tool, eligible=False, reason=why)
    kinds = config.tools[tool].task_kinds
    if kinds is not None and situation.kind is not None and situation.kind not in kinds:
        return Candidate(tool, eligible=False, reason=f"does not take {situation.kind!r} tasks")
    return Candidate(tool)


def _fixed(d: Decision, eligible: list[Candidate], *_: Any) -> None:
    d.chosen = [eligible[0].tool]
    skipped = [c.tool for c in d.candidates if not c.eligible]
    d.reason = "first candidate" if not skipped else f"first available ({', '.join(skipped)} not)"


def _fallback(
    d: Decision, eligible: list[Candidate], route: Route, _: RouterConfig, s: Situation
) -> None:
    fresh = [c for c in eligible if c.tool not in s.failed_tools]
    if fresh:
        d.chosen = [fresh[0].tool]
        failed = [t for t in dict.fromkeys(s.failed_tools) if t in route.candidates]
        d.reason = (
            f"next candidate after {', '.join(failed)} failed" if failed else "first candidate"
        )
    else:
        d.chosen = [eligible[0].tool]
        d.reason = "every candidate failed this task once: starting over"


def _round_robin(
    d: Decision, eligible: list[Candidate], _r: Route, _c: RouterConfig, s: Situation
) -> None:
    pick = eligible[s.turn % len(eligible)]
    d.chosen = [pick.tool]
    d.reason = f"turn {s.turn + 1}: {pick.tool}"


def _least_loaded(
    d: Decision, eligible: list[Candidate], _: Route, config: RouterConfig, s: Situation
) -> None:
    for c in eligible:
        cap = config.tools[c.tool].limits.get("max_parallel")
        running = s.running.get(c.tool, 0)
        c.score = running / cap if cap else float(running)
        c.reason = f"{running} running" + (f" of {cap}" if cap else "")
    best = min(eligible, key=lambda c: c.score or 0.0)
    d.chosen = [best.tool]
    d.reason = f"least loaded: {best.tool} ({best.reason})"


def _cost_optimized(
    d: Decision, eligible: list[Candidate], _: Route, config: RouterConfig, s: Situation
) -> None:
    known = [s.history[c.tool] for c in eligible if s.history.get(c.tool, ToolHistory()).attempts]
    attempts = sum(h.attempts for h in known)
    mean_tokens = sum(h.tokens for h in known) / attempts if attempts else _NOMINAL_TOKENS
    for c in eligible:
        history = s.history.get(c.tool, ToolHistory())
        mean = history.mean_cost
        if mean is not None:
            c.score = round(mean, 6)
            c.reason = f"mean ${mean:.4f} over {history.attempts} attempt(s)"
            continue
        price = config.tools[c.tool].list_price
        if price is None:
            c.score = 0.0
            c.reason = "no history, no pricing: counted free"
        else:
            c.score = round(price * mean_tokens / 1_000_000, 6)
            c.reason = f"no history: ~{mean_tokens:.0f} tokens at ${price:g}/Mtok"
    best = min(eligible, key=lambda c: c.score or 0.0)
    d.chosen = [best.tool]
    d.reason = f"cheapest: {best.tool} ({best.reason})"


def _success_rate(
    d: Decision, eligible: list[Candidate], _r: Route, _c: RouterConfig, s: Situation
) -> None:
    for c in eligible:
        history = s.history.get(c.tool, ToolHistory())
        c.score = round((history.succeeded + 1) / (history.attempts + 2), 4)
        c.reason = f"{history.succeeded}/{history.attempts} succeeded"
    best = max(eligible, key=lambda c: c.score or 0.0)  # max keeps the first of equals
    d.chosen = [best.tool]
    d.reason = f"best success rate: {best.tool} ({best.reason})"


def _best_of_n(
    d: Decision, eligible: list[Candidate], route: Route, _c: RouterConfig, _s: Situation
) -> None:
    d.chosen = [c.tool for c in eligible[: route.branches]]
    d.reason = f"{len(d.chosen)} branch(es) race; integrate the {route.pick} passing patch"


def _shadow(
    d: Decision, eligible: list[Candidate], route: Route, _c: RouterConfig, _s: Situation
) -> None:
    d.chosen = [c.tool for c in eligible[: route.branches]]
    shadows = d.chosen[1:]
    d.reason = f"{d.chosen[0]} integrates" + (
        f"; shadow(s) {', '.join(shadows)} are recorded, never integrated" if shadows else ""
    )


_STRATEGIES: dict[str, Callable[[Decision, list[Candidate], Route, RouterConfig, Situation], None]]
_STRATEGIES = {
    "fixed": _fixed,
    "fallback": _fallback,
    "round_robin": _round_robin,
    "least_loaded": _least_loaded,
    "cost_optimized": _cost_optimized,
    "success_rate": _success_rate,
    "best_of_n": _best_of_n,
    "shadow": _shadow,
}
