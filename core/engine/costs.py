"""What work costs (cost_record.v1 rows) and the budgets that bound it.

Every attempt gets a cost row: tokens, model and money when its tool reported usage (money as
the tool reported it, else estimated from the router's pricing and marked ``estimated``), and
always its wall and CPU seconds. Every gate run gets one too (machine time).

Budgets (``max_usd``, ``max_tokens``, ``max_wall_seconds``) sit on the run, on workstreams and
on tasks. Wall seconds are those the run's tools and gates spent (summed over attempts, so
parallel work counts in full). A budget is checked before each dispatch and after each
attempt: at 80% a ``budget.warning`` event, at 100% ``budget.exceeded``. A run or workstream
budget that is used up pauses the run; a task budget fails its task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.engine.execution.outcome import Outcome
from core.engine.routing.config import Tool
from core.engine.routing.usage import Usage, estimate_cost
from core.ids import new_id
from core.state import CostRow

WARN_AT = 0.8
LIMITS = (("max_usd", "usd"), ("max_tokens", "tokens"), ("max_wall_seconds", "wall_seconds"))
_UNITS = {"usd": "${:.4f}", "tokens": "{:.0f} tokens", "wall_seconds": "{:.1f}s"}


def attempt_cost(
    outcome: Outcome,
    *,
    attempt_id: str,
    run_id: str,
    task_id: str,
    workstream_id: str,
    tool: Tool | None,
    now: str,
    gate_seconds: float = 0.0,
) -> CostRow:
    usage: Usage | None = outcome.usage
    model = None
    amount, estimated, currency = 0.0, False, "USD"
    if usage is not None:
        model = usage.model or (tool.spec.get("default_model") if tool else None)
        price = tool.price(model) if tool else None
        if usage.reported_cost is not None:
            amount = usage.reported_cost  # every supported CLI reports US dollars
        else:
            estimate = estimate_cost(usage, price)
            if estimate is not None and price is not None:
                amount, estimated = estimate, True
                currency = str(price.get("currency", "USD"))
    return {
        "cost_id": new_id(),
        "subject_kind": "attempt",
        "subject_id": attempt_id,
        "run_id": run_id,
        "task_id": task_id,
        "workstream_id": workstream_id,
        "resource_type": "llm_tokens" if usage is not None else "compute",
        "tool": tool.id if tool else None,
        "model": model,
        "tokens_in": usage.tokens_in if usage else 0,
        "tokens_out": usage.tokens_out if usage else 0,
        "usage": usage.document() if usage else None,
        "amount": round(amount, 8),
        "currency": currency,
        "estimated": estimated,
        "wall_seconds": round(max(0.0, outcome.duration_seconds - gate_seconds), 6),
        "cpu_seconds": None if outcome.cpu_seconds is None else round(outcome.cpu_seconds, 6),
        "recorded_at": now,
    }


def gate_cost(gate_result: Mapping[str, Any], *, workstream_id: str | None, now: str) -> CostRow:
    return {
        "cost_id": new_id(),
        "subject_kind": "gate",
        "subject_id": gate_result["gate_result_id"],
        "run_id": gate_result["run_id"],
        "task_id": gate_result["task_id"],
        "workstream_id": workstream_id,
        "resource_type": "compute",
        "tool": None,
        "model": None,
        "tokens_in": 0,
        "tokens_out": 0,
        "usage": None,
        "amount": 0.0,
        "currency": "USD",
        "estimated": False,
        "wall_seconds": gate_result["duration_seconds"],
        "cpu_seconds": None,
        "recorded_at": now,
    }


def cost_document(row: CostRow) -> dict[str, Any]:
    """The row as a cost_record.v1 document."""
    return {
        "schema_version": "cost_record.v1",
        "cost_id": row["cost_id"],
        "subject": {
            "kind": row["subject_kind"],
            "id": row["subject_id"],
            "run_id": row["run_id"],
            "task_id": row["task_id"],
            "workstream_id": row["workstream_id"],
        },
        "resource_type": row["resource_type"],
        "tool": row["tool"],
        "model": row["model"],
        "usage": row["usage"],
        "amount": row["amount"],
        "currency": row["currency"],
        "estimated": row["estimated"],
        "wall_seconds": row["wall_seconds"],
        "cpu_seconds": row["cpu_seconds"],
        "recorded_at": row["recorded_at"],
    }


# -- budgets -------------------------------------------------------------------------------------


@dataclass
class Spend:
    usd: float = 0.0
    tokens: int = 0
    wall_seconds: float = 0.0

    def add(self, row: CostRow) -> None:
        self.usd += row["amount"]
        self.tokens += row["tokens_in"] + row["tokens_out"]
        self.wall_seconds += row["wall_seconds"] or 0.0

    def of(self, unit: str) -> float:
        return float(getattr(self, unit))


@dataclass(frozen=True)
class Crossing:
    """A budget passing its warning line or its limit."""

    scope: str  # "run", "workstream", "task"
    subject: str  # the run, workstream or task id
    limit: str  # max_usd, max_tokens, max_wall_seconds
    spent: float
    allowed: float
    exceeded: bool

    def describe(self) -> str:
        unit = dict(LIMITS)[self.limit]
        spent, allowed = (_UNITS[unit].format(v) for v in (self.spent, self.allowed))
        what = "used up" if self.exceeded else f"{self.spent / self.allowed:.0%} used"
        return f"{self.scope} {self.subject} budget {self.limit} {what}: {spent} of {allowed}"

    def payload(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "subject": self.subject,
            "limit": self.limit,
            "spent": round(self.spent, 6),
            "allowed": self.allowed,
        }


@dataclass
class Budgets:
    """The budgets of one run and what has been spent against them."""

    run_id: str
    run: Mapping[str, Any] | None
    workstreams: Mapping[str, Mapping[str, Any] | None]
    tasks: Mapping[str, Mapping[str, Any] | None]
    task_workstream: Mapping[str, str]
    spent: dict[tuple[str, str], Spend] = field(default_factory=lambda: defaultdict(Spend))
    _warned: set[tuple[str, str, str]] = field(default_factory=set)

    def load(self, rows: Iterable[CostRow]) -> None:
        """Count what was spent before (a resumed run); lines already crossed stay quiet."""
        for row in rows:
            self.add(row)  # marks the lines crossed, so they are not announced again

    def add(self, row: CostRow) -> list[Crossing]:
        """Count a cost; return the warning lines and limits it made the run cross."""
        task = row["task_id"]
        workstream = row["workstream_id"] or (self.task_workstream.get(task or "") or "")
        keys = [("run", self.run_id)]
        if workstream:
            keys.append(("workstream", workstream))
        if task:
            keys.append(("task", task))
        for key in keys:
            self.spent[key].add(row)
        crossed = []
        for crossing in self._crossings(keys):
            mark = (crossing.scope, crossing.subject, crossing.limit + str(crossing.exceeded))
            if mark not in self._warned:
                self._warned.add(mark)
                crossed.append(crossing)
        return crossed

    def exhausted(self, task_id: str, workstream: str) -> tuple[Crossing | None, Crossing | None]:
        """(a used-up run or workstream budget, a used-up task budget), before a dispatch."""
        keys = [("run", self.run_id), ("workstream", workstream), ("task", task_id)]
        shared = task = None
        for crossing in self._crossings(keys):
            if crossing.exceeded:
                if crossing.scope == "task":
                    task = task or crossing
                else:
                    shared = shared or crossing
        return shared, task

    def _limits(self, scope: str, subject: str) -> Mapping[str, Any] | None:
        if scope == "run":
            return self.run
        if scope == "workstream":
            return self.workstreams.get(subject)
        return self.tasks.get(subject)

    def _crossings(self, keys: Iterable[tuple[str, str]]) -> Iterator[Crossing]:
        for scope, subject in keys:
            limits = self._limits(scope, subject)
            if not limits:
                continue
            spend = self.spent.get((scope, subject), Spend())
            for limit, unit in LIMITS:
                allowed = limits.get(limit)
                if allowed is None:
                    continue
                used = spend.of(unit)
                if used >= allowed:
                    yield Crossing(scope, subject, limit, used, float(allowed), True)
                elif used >= WARN_AT * allowed:
                    yield Crossing(scope, subject, limit, used, float(allowed), False)
