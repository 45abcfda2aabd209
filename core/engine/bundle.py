"""Loading a workstream bundle: parse, validate against the schema, then check its meaning.

The semantic checks are a table of functions, each yielding :class:`Issue`s with JSON paths;
all of them run (on whatever parts of the document are well-formed) so one `uet validate`
lists every problem, not the first. Nothing here touches the ledger: an invalid bundle writes
nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.contracts import issues as schema_issues
from core.contracts import read_json
from core.engine.execution.call import CallNotFound, resolve_callable
from core.engine.planning import Plan, PlanNode, find_cycle, plan
from core.engine.requests import action_of, effective_spec, writes_of
from core.engine.routing.config import MULTI_BRANCH, RouterConfig
from core.errors import DocumentInvalid, Issue
from core.secrets import refuse_secret_names

SCHEMA = "workstream_spec.v1"


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """One task of the bundle, with where it sits in the document."""

    workstream_id: str
    spec: dict[str, Any]
    path: str  # "$.tasks[2]" or "$[1].tasks[0]"
    seq: int  # declaration order across the bundle


@dataclass(frozen=True)
class Bundle:
    source: str
    path: Path | None  # the file, when the bundle came from one
    base_dir: Path  # where `call` targets are imported from first
    text: str
    sha256: str
    workstreams: tuple[dict[str, Any], ...]
    tasks: tuple[TaskEntry, ...]
    plan: Plan
    router: RouterConfig | None = None  # routes its tool tasks

    @property
    def name(self) -> str:
        first = self.workstreams[0]
        return str(first.get("name") or first["workstream_id"])

    @property
    def writes(self) -> bool:
        """Whether any task changes files (the run then needs a repository)."""
        return any(_writes(self.workstreams, entry, self.router) for entry in self.tasks)


def _writes(
    workstreams: Iterable[dict[str, Any]], entry: TaskEntry, router: RouterConfig | None
) -> bool:
    defaults: Any = {}
    for ws in workstreams:
        if ws.get("workstream_id") == entry.workstream_id:
            defaults = ws.get("defaults")
            break
    return writes_of(
        effective_spec(entry.spec, defaults if isinstance(defaults, dict) else {}), router
    )


def load_bundle(path: str | Path, router: RouterConfig | None = None) -> Bundle:
    """Read, validate and plan the bundle at ``path``; DocumentInvalid lists every problem.
    ``router`` is the router config its tool tasks are routed with."""
    text, document = read_json(path)
    return check_bundle(document, path=Path(path), text=text, router=router)


def check_bundle(
    document: Any,
    *,
    path: Path | None = None,
    text: str | None = None,
    base_dir: Path | None = None,
    router: RouterConfig | None = None,
) -> Bundle:
    """Validate and plan a parsed bundle (from ``path``, if it came from a file).

    ``base_dir`` (default: the file's directory, else the current one) is searched first when
    `call` targets are imported.
    """
    source = str(path) if path is not None else "<bundle>"
    text = text if text is not None else json.dumps(document, indent=2)
    resolved = path.resolve() if path is not None else None
    base_dir = base_dir or (resolved.parent if resolved is not None else Path.cwd())
    problems = schema_issues(document, SCHEMA, source)
    workstreams, entries = _entries(document)
    context = _Context(workstreams, entries, base_dir, router)
    for check in SEMANTIC_CHECKS:
        problems.extend(Issue(issue.path, issue.message, source) for issue in check(context))
    if problems:
        raise DocumentInvalid(source, problems)
    nodes = []
    for entry in entries:
        spec = effective_spec(entry.spec, _defaults(context, entry))
        nodes.append(
            PlanNode(
                spec["task_id"],
                tuple(spec.get("depends_on", ())),
                float(spec.get("estimate_seconds", 1.0)),
                int(spec.get("priority", 0)),
            )
        )
    return Bundle(
        source=source,
        path=resolved,
        base_dir=base_dir,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        workstreams=tuple(ws for _, ws in workstreams),
        tasks=tuple(entries),
        plan=plan(nodes),
        router=router,
    )


# -- semantic checks -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    workstreams: list[tuple[str, dict[str, Any]]]  # (json path, workstream)
    tasks: list[TaskEntry]
    base_dir: Path
    router: RouterConfig | None = None

    def by_id(self) -> dict[str, TaskEntry]:
        first: dict[str, TaskEntry] = {}
        for entry in self.tasks:
            first.setdefault(entry.spec["task_id"], entry)
        return first


def _entries(document: Any) -> tuple[list[tuple[str, dict[str, Any]]], list[TaskEntry]]:
    """The well-formed workstreams and tasks of the document, tolerating malformed parts."""
    if isinstance(document, list):
        candidates = [(f"$[{index}]", item) for index, item in enumerate(document)]
    else:
        candidates = [("$", document)]
    workstreams = [(path, ws) for path, ws in candidates if isinstance(ws, dict)]
    entries: list[TaskEntry] = []
    for path, ws in workstreams:
        tasks = ws.get("tasks")
        if not isinstance(tasks, list):
            continue
        for index, spec in enumerate(tasks):
            if isinstance(spec, dict) and isinstance(spec.get("task_id"), str):
                entries.append(
                    TaskEntry(
                        str(ws.get("workstream_id", "")),
                        spec,
                        f"{path}.tasks[{index}]",
                        len(entries),
                    )
                )
    return workstreams, entries


def _defaults(context: _Context, entry: TaskEntry) -> dict[str, Any]:
    for _, ws in context.workstreams:
        if ws.get("workstream_id") == entry.workstream_id:
            defaults = ws.get("defaults")
            return defaults if isinstance(defaults, dict) else {}
    return {}


def _unique_workstreams(context: _Context) -> Iterator[Issue]:
    seen: dict[str, str] = {}
    for path, ws in context.workstreams:
        ws_id = ws.get("workstream_id")
        if isinstance(ws_id, str):
            if ws_id in seen:
                yield Issue(
                    f"{path}.workstream_id",
                    f"duplicate workstream id {ws_id!r} (first at {seen[ws_id]})",
                )
            else:
                seen[ws_id] = path


def _unique_tasks(context: _Context) -> Iterator[Issue]:
    seen: dict[str, str] = {}
    for entry in context.tasks:
        task_id = entry.spec["task_id"]
        if task_id in seen:
            yield Issue(
                f"{entry.path}.task_id", f"duplicate task id {task_id!r} (first at {seen[task_id]})"
            )
        else:
            seen[task_id] = entry.path


def _dependencies(entry: TaskEntry) -> Iterator[tuple[int, str]]:
    deps = entry.spec.get("depends_on")
    if isinstance(deps, list):
        for index, dep in enumerate(deps):
            if isinstance(dep, str):
                yield index, dep


def _known_dependencies(context: _Context) -> Iterator[Issue]:
    known = context.by_id()
    for entry in context.tasks:
        for index, dep in _dependencies(entry):
            if dep == entry.spec["task_id"]:
                yield Issue(f"{entry.path}.depends_on[{index}]", "a task cannot depend on itself")
            elif dep not in known:
                hint = difflib.get_close_matches(dep, list(known), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                yield Issue(
                    f"{entry.path}.depends_on[{index}]", f"unknown task {dep!r}{suggestion}"
                )


def _acyclic(context: _Context) -> Iterator[Issue]:
    known = context.by_id()
    nodes = [
        PlanNode(
            task_id,
            tuple(dep for _, dep in _dependencies(entry) if dep in known and dep != task_id),
        )
        for task_id, entry in known.items()
    ]
    cycle = find_cycle(nodes)
    if cycle:
        first = known[cycle[0]]
        index = next(i for i, dep in _dependencies(first) if dep == cycle[1])
        yield Issue(f"{first.path}.depends_on[{index}]", f"dependency cycle: {' -> '.join(cycle)}")


def _importable_calls(context: _Context) -> Iterator[Issue]:
    search = [str(context.base_dir)]
    for entry in context.tasks:
        ref = entry.spec.get("call")
        if isinstance(ref, str):
            try:
                resolve_callable(ref, search)
            except CallNotFound as exc:
                yield Issue(f"{entry.path}.call", str(exc))


def _routable(context: _Context) -> Iterator[Issue]:
    router = context.router
    workstreams = [ws for _, ws in context.workstreams]
    for entry in context.tasks:
        spec = entry.spec
        if action_of(spec) != "tool":
            continue
        key = "tool" if "tool" in spec else "kind"
        if router is None:
            what = f"{key} {spec[key]!r}" if key in spec else "a route"
            yield Issue(
                f"{entry.path}.{key}",
                f"no router config, so {what} cannot be routed: pass --router FILE or create "
                ".uet/router_config.json (or give the task `run` or `call`)",
            )
            continue
        known = list(router.tools)
        named = [(f"{entry.path}.tool", spec.get("tool"))]
        route = spec.get("route")
        if isinstance(route, dict) and isinstance(route.get("candidates"), list):
            named += [
                (f"{entry.path}.route.candidates[{i}]", n)
                for i, n in enumerate(route["candidates"])
            ]
        for where, name in named:
            if isinstance(name, str) and name not in known:
                hint = difflib.get_close_matches(name, known, n=1)
                suggestion = f"did you mean {hint[0]!r}? " if hint else ""
                yield Issue(
                    where, f"unknown tool {name!r} ({suggestion}configured: {', '.join(known)})"
                )
        if any(isinstance(n, str) and n not in known for _, n in named):
            continue
        resolved = router.route_for(spec)
        if resolved is None:
            rules = ", ".join(r["id"] for r in router.document.get("rules", [])) or "none"
            yield Issue(
                f"{entry.path}.kind",
                f"no routing rule matches kind {spec.get('kind')!r} (rules: {rules}) and the "
                "router config names no default tool",
            )
        elif "kind" in spec and not any(
            router.tools[name].task_kinds is None
            or spec["kind"] in (router.tools[name].task_kinds or [])
            for name in resolved.candidates
        ):
            yield Issue(
                f"{entry.path}.kind",
                f"none of the candidates ({', '.join(resolved.candidates)}) takes {spec['kind']!r} "
                "tasks (their capabilities.task_kinds)",
            )
        elif resolved.strategy in MULTI_BRANCH and not _writes(workstreams, entry, router):
            yield Issue(
                f"{entry.path}.route",
                f"{resolved.strategy} compares patches: it needs a task that changes files "
                '(add "writes": true, or route it to tools that write)',
            )


def _secrets(context: _Context) -> Iterator[Issue]:
    owners = [(f"{path}.defaults", ws.get("defaults")) for path, ws in context.workstreams]
    owners += [(entry.path, entry.spec) for entry in context.tasks]
    for where, owner in owners:
        env = owner.get("env") if isinstance(owner, dict) else None
        for path, message in refuse_secret_names(env, f"{where}.env", "bundle"):
            yield Issue(path, message)


def _known_gates(context: _Context) -> Iterator[Issue]:
    declared: dict[str, tuple[str, Any]] = {}  # name -> (where, definition)
    for path, ws in context.workstreams:
        gates = ws.get("gates")
        for name, definition in gates.items() if isinstance(gates, dict) else ():
            if name in declared and declared[name][1] != definition:
                yield Issue(
                    f"{path}.gates.{name}",
                    f"gate {name!r} is declared differently at {declared[name][0]}; gate names "
                    "are shared by the whole bundle",
                )
            declared.setdefault(name, (f"{path}.gates.{name}", definition))
    workstreams = [ws for _, ws in context.workstreams]
    references: list[tuple[str, Any]] = []
    for path, ws in context.workstreams:
        defaults = ws.get("defaults")
        if isinstance(defaults, dict):
            references.append((f"{path}.defaults", defaults.get("gates")))
    for entry in context.tasks:
        references.append((entry.path, entry.spec.get("gates")))
        if not _writes(workstreams, entry, context.router):
            for key in ("gates", "expect_change", "patch_policy", "scope"):
                if key in entry.spec:
                    yield Issue(
                        f"{entry.path}.{key}",
                        f'only for tasks that change files: add "writes": true to use {key!r}',
                    )
    for where, names in references:
        for index, name in enumerate(names if isinstance(names, list) else ()):
            if isinstance(name, str) and name not in declared:
                known = ", ".join(sorted(declared)) or "none declared"
                hint = difflib.get_close_matches(name, list(declared), n=1)
                suggestion = f"did you mean {hint[0]!r}? " if hint else ""
                yield Issue(
                    f"{where}.gates[{index}]",
                    f"unknown gate {name!r} ({suggestion}declared: {known})",
                )


SEMANTIC_CHECKS: tuple[Callable[[_Context], Iterator[Issue]], ...] = (
    _unique_workstreams,
    _unique_tasks,
    _known_dependencies,
    _acyclic,
    _importable_calls,
    _routable,
    _secrets,
    _known_gates,
)
