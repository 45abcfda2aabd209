"""Resolving a task spec into an execution request (execution_request.v1).

The request is what a worker executes and what the ledger keeps per task: workstream defaults
applied (``env`` and ``retry`` merged key by key, the task winning), the working directory made
absolute, the action named. Resume works from stored requests, never from the bundle file,
which may have changed since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.engine.patches.policy import Policy, levels_of
from core.engine.routing.config import RouterConfig

DEFAULT_MAX_ATTEMPTS = 1
DEFAULT_RETRY: dict[str, Any] = {
    "backoff_seconds": 1.0,
    "max_backoff_seconds": 60.0,
    "jitter": True,
}
_MERGED = ("env", "retry")  # dict-valued settings merged with the defaults, not replaced
_INHERITED = ("priority", "timeout_seconds", "max_attempts", "cwd", "writes", "gates", "budget")


def effective_spec(spec: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The task spec with its workstream's defaults filled in."""
    merged = dict(spec)
    for key in _INHERITED:
        if key not in merged and key in defaults:
            merged[key] = defaults[key]
    for key in _MERGED:
        if key in defaults or key in spec:
            merged[key] = {**defaults.get(key, {}), **spec.get(key, {})}
    return merged


def writes_of(task: Mapping[str, Any], router: RouterConfig | None) -> bool:
    """Whether a task (its effective spec) changes files: it says so, or, routed to tools,
    one of its candidate tools does."""
    if "writes" in task:
        return bool(task["writes"])
    if router is None or action_of(task) != "tool":
        return False
    route = router.route_for(task)
    if route is None:
        return False
    return any(router.tools[name].writes for name in route.candidates if name in router.tools)


def action_of(spec: Mapping[str, Any]) -> str:
    if "run" in spec:
        return "command"
    if "call" in spec:
        return "call"
    return "tool"


def build_request(
    spec: Mapping[str, Any],
    workstream: Mapping[str, Any],
    *,
    run_id: str,
    workdir: Path,
    python_path: list[str],
    repo: Path | None = None,
    project_policy: Mapping[str, Any] | None = None,
    project_setup: Sequence[Mapping[str, Any]] = (),
    router: RouterConfig | None = None,
) -> dict[str, Any]:
    """The execution request of one task. Writing tasks get their policy levels (the
    project's, the workstream's, the task's) and a working directory inside ``repo`` (mapped
    into the attempt's copy when it runs); tool tasks get their route."""
    task = effective_spec(spec, workstream.get("defaults", {}))
    action = action_of(task)
    writes = writes_of(task, router)
    base = repo if writes and repo is not None else workdir
    request: dict[str, Any] = {
        "schema_version": "execution_request.v1",
        "run_id": run_id,
        "task_id": task["task_id"],
        "workstream_id": workstream["workstream_id"],
        "action": action,
        "argv": task.get("run"),
        "call": task.get("call"),
        "params": task.get("params", {}) if action == "call" else None,
        "tool": task.get("tool"),
        "kind": task.get("kind"),
        "depends_on": list(task.get("depends_on", [])),
        "priority": int(task.get("priority", 0)),
        "timeout_seconds": task.get("timeout_seconds"),
        "ok_exit_codes": task.get("ok_exit_codes"),
        "max_attempts": int(task.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
        "retry": {**DEFAULT_RETRY, **task.get("retry", {})},
        "env": task.get("env", {}),
        "cwd": str((base / task.get("cwd", ".")).resolve()),
        "python_path": python_path,
        "estimate_seconds": float(task.get("estimate_seconds", 1.0)),
        "writes": writes,
        "expect_change": bool(task.get("expect_change", False)),
        "gates": list(task.get("gates", [])) if writes else [],
        "budget": task.get("budget"),
        "routing": None,
    }
    if action == "tool":
        route = router.route_for(task) if router is not None else None
        request["route"] = route.document() if route is not None else None
        request["prompt"] = task.get("prompt")
        request["files"] = list(task.get("files", []))
        request["acceptance"] = list(task.get("acceptance", []))
        request["risk"] = task.get("risk")
        request["complexity"] = task.get("complexity")
    if writes:
        project = {"patch_policy": project_policy} if project_policy else None
        levels = levels_of(project, workstream, task)
        request["policy_levels"] = levels
        request["patch_policy"] = Policy.merge(levels).document()
        setup = [*project_setup, *workstream.get("setup", ())]
        if setup:
            request["setup"] = [dict(step) for step in setup]
        if task.get("scope"):
            request["scope"] = task["scope"]
    return request


_RUN_SPECIFIC = ("run_id", "routing")


def spec_hash(request: Mapping[str, Any], base: str, tools: Mapping[str, Any]) -> str:
    """Content hash of what a task does (its request, less what differs between runs of the
    same spec, and the router entries of its tools) on ``base`` (the commit checked out, or
    the working directory outside a repository)."""
    same = {key: value for key, value in request.items() if key not in _RUN_SPECIFIC}
    text = json.dumps([base, same, tools], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
