"""The router config (router_config.v1): the tools UET may run and the rules that route tasks.

Loaded from ``--router FILE`` or the project's ``.uet/router_config.json``; validated against
the schema, then for meaning (every problem listed with its JSON path, exit 2): rules and
defaults name known tools, argv templates use known placeholders as whole items, tools set no
secret-looking environment variables. A run keeps the document it routed with, so resume never
rereads the file.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.contracts import issues as schema_issues
from core.contracts import read_json
from core.engine.execution.runner import ToolCommand
from core.engine.routing.templates import template_issues
from core.errors import DocumentInvalid, Issue
from core.secrets import refuse_secret_names

SCHEMA = "router_config.v1"
ROUTER_FILE = Path(".uet") / "router_config.json"
MULTI_BRANCH = frozenset({"best_of_n", "shadow"})

# What each adapter implies when the tool entry does not say.
ADAPTER_USAGE = {"claude_code": "claude_json", "codex": "codex_jsonl", "aider": "aider_text"}
CIRCUIT_DEFAULTS: dict[str, Any] = {
    "failure_threshold": 3,
    "recovery_seconds": 60.0,
    "half_open_probes": 1,
}


@dataclass(frozen=True)
class Tool:
    id: str
    spec: Mapping[str, Any]  # the tool's entry in the config
    circuit: Mapping[str, Any]  # failure_threshold, recovery_seconds, half_open_probes

    @property
    def argv(self) -> list[str]:
        return list(self.spec["argv"])

    @property
    def writes(self) -> bool:
        return bool(self.spec.get("writes", False))

    @property
    def usage_parser(self) -> str:
        adapter = self.spec.get("adapter", "command")
        return str(self.spec.get("usage") or ADAPTER_USAGE.get(adapter, "none"))

    @property
    def limits(self) -> Mapping[str, Any]:
        limits: Mapping[str, Any] = self.spec.get("limits", {})
        return limits

    @property
    def task_kinds(self) -> list[str] | None:
        kinds = self.spec.get("capabilities", {}).get("task_kinds")
        return list(kinds) if kinds else None

    def command(self, argv: list[str], request: Mapping[str, Any]) -> ToolCommand:
        """The command of one attempt: ``argv`` expanded for it, the tool's env and timeout
        (the task's own timeout wins)."""
        timeout = request.get("timeout_seconds") or self.limits.get("timeout_seconds")
        return ToolCommand(
            self.id,
            argv,
            dict(self.spec.get("env", {})),
            timeout,
            self.usage_parser,
            self.network,
            self.spec.get("home") == "user",
            tuple(request.get("ok_exit_codes") or self.spec.get("ok_exit_codes") or (0,)),
        )

    @property
    def network(self) -> bool:
        """Whether the sandbox lets the tool reach the network: agent CLIs call their API,
        so their adapters say yes unless the entry says otherwise; commands say no."""
        return bool(self.spec.get("network", self.spec.get("adapter", "command") != "command"))

    def price(self, model: str | None) -> Mapping[str, Any] | None:
        """The pricing of ``model`` (or the default model, or the only model priced)."""
        pricing = self.spec.get("pricing") or {}
        for name in (model, self.spec.get("default_model")):
            if name and name in pricing:
                return dict(pricing[name])
        return dict(next(iter(pricing.values()))) if len(pricing) == 1 else None

    @property
    def list_price(self) -> float | None:
        """Input plus output price per million tokens: how routing compares unknown tools."""
        price = self.price(None)
        if price is None:
            return None
        return float(price["input_per_mtok"]) + float(price["output_per_mtok"])


@dataclass(frozen=True)
class Route:
    """How one task picks its tool: the candidates and the strategy that chooses among them."""

    candidates: tuple[str, ...]
    strategy: str = "fixed"
    rule: str | None = None
    n: int | None = None  # branches of best_of_n / shadow
    pick: str = "first"

    @property
    def branches(self) -> int:
        if self.strategy not in MULTI_BRANCH:
            return 1
        return min(self.n or len(self.candidates), len(self.candidates))

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "rule": self.rule,
            "strategy": self.strategy,
            "candidates": list(self.candidates),
            "pick": self.pick,
        }
        if self.n is not None:
            doc["n"] = self.n
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Route:
        return cls(
            tuple(doc["candidates"]), doc["strategy"], doc.get("rule"), doc.get("n"), doc["pick"]
        )


@dataclass(frozen=True)
class RouterConfig:
    document: Mapping[str, Any]
    source: str
    tools: Mapping[str, Tool]

    def route_for(self, spec: Mapping[str, Any]) -> Route | None:
        """The route of a task spec naming a ``tool`` or a ``kind``; None if nothing routes it."""
        explicit = spec.get("route") or {}
        named = [spec["tool"]] if "tool" in spec else None
        rule = None if named else self._rule_for(spec)
        defaults = self.document.get("defaults", {})
        if named is None and rule is None:
            fallback = defaults.get("tool")
            named = [fallback] if fallback else None
        if rule is None and named is None and not explicit.get("candidates"):
            return None
        base = rule or {}
        candidates = explicit.get("candidates") or named or base["candidates"]
        single = "fixed" if len(candidates) == 1 else defaults.get("strategy", "fallback")
        return Route(
            candidates=tuple(candidates),
            strategy=explicit.get("strategy") or base.get("strategy") or single,
            rule=base.get("id"),
            n=explicit.get("n", base.get("n")),
            pick=explicit.get("pick") or base.get("pick") or "first",
        )

    def _rule_for(self, spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if "kind" not in spec:
            return None
        for rule in self.document.get("rules", []):
            match = rule.get("match", {})
            if (
                spec["kind"] in match.get("kind", [spec["kind"]])
                and spec.get("risk", "medium") in match.get("risk", [spec.get("risk", "medium")])
                and spec.get("complexity", "medium")
                in match.get("complexity", [spec.get("complexity", "medium")])
            ):
                return dict(rule)
        return None


def load_router(path: str | Path) -> RouterConfig:
    """Read and check the router config at ``path``; DocumentInvalid lists every problem."""
    _, document = read_json(path)
    return check_router(document, str(path))


def find_router(start: Path) -> Path | None:
    """The project's ``.uet/router_config.json``: in ``start`` or the nearest parent having
    one, not looking past the repository root."""
    for folder in (start, *start.parents):
        candidate = folder / ROUTER_FILE
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None


def check_router(document: Any, source: str = "<router>") -> RouterConfig:
    problems = schema_issues(document, SCHEMA, source)
    if isinstance(document, dict):
        problems.extend(Issue(i.path, i.message, source) for i in _meaning(document))
    if problems:
        raise DocumentInvalid(source, problems)
    defaults = {**CIRCUIT_DEFAULTS, **document.get("defaults", {}).get("circuit", {})}
    tools = {
        tool_id: Tool(tool_id, spec, {**defaults, **spec.get("circuit", {})})
        for tool_id, spec in document["tools"].items()
    }
    return RouterConfig(json.loads(json.dumps(document)), source, tools)


def _meaning(document: dict[str, Any]) -> Iterator[Issue]:
    tools = document.get("tools")
    known = list(tools) if isinstance(tools, dict) else []

    def unknown(where: str, name: Any) -> Iterator[Issue]:
        if isinstance(name, str) and name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            listed = ", ".join(known) or "none"
            yield Issue(where, f"unknown tool {name!r} ({suggestion}configured: {listed})")

    for tool_id, spec in tools.items() if isinstance(tools, dict) else ():
        if not isinstance(spec, dict):
            continue
        for key in ("argv", "version_argv"):
            if isinstance(spec.get(key), list):
                for index, message in template_issues(spec[key]):
                    yield Issue(f"$.tools.{tool_id}.{key}[{index}]", message)
        for path, message in refuse_secret_names(
            spec.get("env"), f"$.tools.{tool_id}.env", "router config"
        ):
            yield Issue(path, message)
    rules = document.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else ()):
        if isinstance(rule, dict) and isinstance(rule.get("candidates"), list):
            for position, name in enumerate(rule["candidates"]):
                yield from unknown(f"$.rules[{index}].candidates[{position}]", name)
    defaults = document.get("defaults")
    if isinstance(defaults, dict):
        yield from unknown("$.defaults.tool", defaults.get("tool"))
