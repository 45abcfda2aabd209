"""A run's side of routing: deciding, admitting and preparing each tool attempt.

The orchestrator asks :class:`ToolDispatcher` three things per tool task it wants to start:
which tool(s) (a :class:`Decision`), whether they may start now (per-tool concurrency caps and
rate limits), and the command to run for each (argv templates expanded, the prompt rendered).
When an attempt ends it reports back, which counts the attempt against the tool's circuit.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.engine.execution.runner import ToolCommand
from core.engine.recorder import Changes
from core.engine.routing.config import Route, RouterConfig, Tool
from core.engine.routing.prompt import render_prompt
from core.engine.routing.resilience import Circuits, TokenBucket
from core.engine.routing.strategies import Decision, Situation, decide
from core.engine.routing.templates import expand, uses
from core.state import Ledger, ToolHistory

_HISTORY_SECONDS = 5.0  # how long the ledger's per-tool history is reused between decisions


class ToolDispatcher:
    def __init__(self, ledger: Ledger, config: RouterConfig) -> None:
        self.ledger = ledger
        self.config = config
        self.circuits = Circuits(ledger, {t.id: t.circuit for t in config.tools.values()})
        self.running: Counter[str] = Counter()
        self._buckets = {
            tool.id: TokenBucket(float(tool.limits["requests_per_minute"]))
            for tool in config.tools.values()
            if tool.limits.get("requests_per_minute")
        }
        self._turns: Counter[tuple[str, ...]] = Counter()
        self._history: dict[str | None, tuple[float, dict[str, ToolHistory]]] = {}
        self._unavailable: dict[str, str] | None = None

    def tool(self, name: str) -> Tool:
        return self.config.tools[name]

    # -- deciding ------------------------------------------------------------------------------

    def new_turn(self) -> None:
        """Circuit states are read once per scheduling turn, not once per task."""
        self._unavailable = None

    def decide(self, request: Mapping[str, Any], failed_tools: Sequence[str]) -> Decision:
        route = Route.from_document(request["route"])
        if self._unavailable is None:
            self._unavailable = self.circuits.unavailable()
        kind = request.get("kind")
        history = self.history(kind) if route.strategy in _USES_HISTORY else {}
        decision = decide(
            route,
            self.config,
            Situation(
                kind=kind,
                failed_tools=failed_tools,
                unavailable=self._unavailable,
                running=self.running,
                history=history,
                turn=self._turns[route.candidates],
            ),
        )
        if route.strategy == "round_robin" and decision.chosen:
            self._turns[route.candidates] += 1
        return decision

    def held_back(self, decision: Decision) -> bool:
        """Whether some candidate is unavailable only for now (its circuit)."""
        unavailable = self._unavailable if self._unavailable is not None else {}
        return any(c.tool in unavailable for c in decision.candidates)

    def history(self, kind: str | None) -> dict[str, ToolHistory]:
        cached = self._history.get(kind)
        now = time.monotonic()
        if cached is None or now - cached[0] > _HISTORY_SECONDS:
            cached = (now, self.ledger.tool_history(kind))
            self._history[kind] = cached
        return cached[1]

    # -- admitting -----------------------------------------------------------------------------

    def blocked(self, tools: Sequence[str]) -> float | None:
        """None if every tool may start an attempt now; else seconds to wait (0: until one of
        the tool's running attempts ends)."""
        wait = None
        for name, needed in Counter(tools).items():
            cap = self.tool(name).limits.get("max_parallel")
            if cap is not None and self.running[name] + needed > cap and self.running[name]:
                wait = 0.0
            bucket = self._buckets.get(name)
            refill = bucket.wait_time() if bucket is not None else 0.0
            if refill > 0:
                wait = max(wait or 0.0, refill)
        return wait

    def take(self, ch: Changes, tools: Sequence[str], run_id: str) -> None:
        for name in tools:
            self.running[name] += 1
            bucket = self._buckets.get(name)
            if bucket is not None:
                bucket.take()
            self.circuits.admit(ch, name, run_id)
        self._unavailable = None  # a probe may now be out

    def wake_in(self) -> float | None:
        """Seconds until a rate limit refills or an open circuit may be probed."""
        waits = [b.wait_time() for b in self._buckets.values() if b.wait_time() > 0]
        probe = self.circuits.next_probe_in()
        if probe is not None:
            waits.append(probe)
        return min(waits) if waits else None

    # -- preparing -----------------------------------------------------------------------------

    def command(
        self,
        name: str,
        request: Mapping[str, Any],
        *,
        worktree: Path,
        feedback: str | None,
        prompt_path: Path,
    ) -> ToolCommand:
        tool = self.tool(name)
        prompt = render_prompt(request, feedback)
        if uses(tool.argv, "prompt_file"):
            prompt_path.parent.mkdir(parents=True, exist_ok=True)
            prompt_path.write_text(prompt, encoding="utf-8")
        argv = expand(
            tool.argv,
            {
                "prompt": [prompt],
                "prompt_file": [str(prompt_path)],
                "files": list(request.get("files") or []),
                "worktree": [str(worktree)],
                "feedback": [feedback] if feedback else [],
            },
        )
        return tool.command(argv, request)

    # -- reporting -----------------------------------------------------------------------------

    def finished(self, ch: Changes, name: str, ok: bool, run_id: str, why: str | None) -> None:
        self.running[name] -= 1
        self.circuits.record(ch, name, ok, run_id, why)
        self._unavailable = None


_USES_HISTORY = frozenset({"cost_optimized", "success_rate"})
