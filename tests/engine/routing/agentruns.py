"""Helpers for end-to-end runs of routed tool tasks: router configs whose tools are the fake
agent CLIs of tests/agents (see tests/agents/fakeagent.py), bundles, and reading back what a
run recorded. Runs go through the library API: ``check_router``, ``check_bundle``,
``create_run``, ``execute_run``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.engine.bundle import Bundle, check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.routing.config import RouterConfig, check_router
from core.engine.runs import create_run, execute_run
from core.state import AttemptRow, Ledger, PatchRow

PY = sys.executable
CLAUDE_MODEL = "claude-sonnet-4-5-20250929"  # what the fake claude reports by default
CODEX_MODEL = "gpt-5-codex"
AIDER_MODEL = "gpt-4o"


def claude(**entry: Any) -> dict[str, Any]:
    """A router tool entry running ``claude -p PROMPT --output-format json``."""
    return {
        "argv": ["claude", "-p", "{prompt}", "--output-format", "json"],
        "adapter": "claude_code",
        "writes": True,
        **entry,
    }


def codex(**entry: Any) -> dict[str, Any]:
    """A router tool entry running ``codex exec --json PROMPT``."""
    return {
        "argv": ["codex", "exec", "--json", "--skip-git-repo-check", "{prompt}"],
        "adapter": "codex",
        "writes": True,
        **entry,
    }


def aider(**entry: Any) -> dict[str, Any]:
    """A router tool entry running ``aider --yes-always --no-auto-commits --message MSG FILES``."""
    return {
        "argv": ["aider", "--yes-always", "--no-auto-commits", "--message", "{prompt}", "{files}"],
        "adapter": "aider",
        "writes": True,
        **entry,
    }


def router(
    tools: Mapping[str, Mapping[str, Any]],
    rules: Sequence[Mapping[str, Any]] = (),
    **defaults: Any,
) -> RouterConfig:
    document: dict[str, Any] = {"schema_version": "router_config.v1", "tools": dict(tools)}
    if rules:
        document["rules"] = list(rules)
    if defaults:
        document["defaults"] = defaults
    return check_router(json.loads(json.dumps(document)), "router.json")


def edits(**files: str) -> dict[str, str]:
    """The env making a fake agent write ``files`` ({path: content}) in its working directory."""
    return {"FAKE_AGENT_EDITS": json.dumps(files)}


def content_gate(path: str, expected: str) -> dict[str, Any]:
    """A gate passing when ``path`` holds exactly ``expected``."""
    code = "import pathlib, sys; sys.exit(pathlib.Path(sys.argv[1]).read_text() != sys.argv[2])"
    return {"run": [PY, "-c", code, path, expected], "type": "custom"}


PASSING_GATE = {"run": [PY, "-c", "pass"], "type": "custom"}


def bundle(
    router_config: RouterConfig | None, tasks: list[dict[str, Any]], **workstream: Any
) -> Bundle:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": workstream.pop("workstream_id", "ws"),
        "tasks": tasks,
        **workstream,
    }
    return check_bundle(json.loads(json.dumps(document)), router=router_config)


def options(repo: Path | None, parallel: int = 2, **extra: Any) -> RunOptions:
    return RunOptions(
        parallel=parallel, repo=repo, handle_signals=False, kill_grace_seconds=0.5, **extra
    )


def run(
    ledger: Ledger,
    repo: Path,
    router_config: RouterConfig,
    tasks: list[dict[str, Any]],
    *,
    parallel: int = 2,
    run_budget: Mapping[str, float] | None = None,
    **workstream: Any,
) -> RunResult:
    """Create and execute a run of ``tasks`` (one workstream, ``workstream`` its other keys)
    on ``repo``, with ``run_budget`` the run's budget."""
    opts = options(repo, parallel, budget=dict(run_budget) if run_budget else None)
    run_id = create_run(
        ledger, bundle(router_config, tasks, **workstream), opts, workdir=repo.parent
    )
    return execute_run(ledger, run_id, opts)


def attempts(ledger: Ledger, run_id: str, task_id: str | None = None) -> list[AttemptRow]:
    return sorted(ledger.list_attempts(run_id, task_id=task_id), key=lambda a: a["attempt_no"])


def events(ledger: Ledger, run_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e) for e in ledger.list_events(run_id) if e["kind"] == kind]


def decisions(ledger: Ledger, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
    """The payloads of the run's ``route.decided`` events (of one task), in order."""
    return [
        e["payload"]
        for e in events(ledger, run_id, "route.decided")
        if task_id is None or e["task_id"] == task_id
    ]


def patch_of(ledger: Ledger, attempt: AttemptRow) -> PatchRow:
    assert attempt["patch_id"] is not None, f"attempt {attempt['attempt_no']} made no patch"
    patch = ledger.get_patch(attempt["patch_id"])
    assert patch is not None
    return patch


def task_states(ledger: Ledger, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in ledger.list_tasks(run_id)}
