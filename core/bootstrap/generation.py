"""What `uet init` writes into a project, from what discovery found and the profile chosen.

- ``.uet/project_profile.json`` (project_profile.v1): the profile, languages, tools found, the
  gates that can run here (a profile gate is kept only when every program it ``requires`` is
  on PATH, and mypy only when the project configures it), paths, constraints, budgets;
- ``.uet/router_config.json`` (router_config.v1): the agent CLIs and codemods that were found,
  with the profile's routing rules narrowed to them;
- ``.uet/phases/<phase>.json`` (phase_spec.v1): the profile's phase templates, their gates
  narrowed to the ones generated;
- ``workstreams/starter.json``: a bundle running each gate as a task;
- ``.gitignore`` entries for ``.ledger/`` and ``.worktrees/``.

Nothing is written here: :func:`plan` returns the files and their content; the writer decides
what may be overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from core import __version__, clock
from core.engine.gates.parsing import is_pytest

PROJECT_PROFILE = ".uet/project_profile.json"
ROUTER_CONFIG = ".uet/router_config.json"
STARTER = "workstreams/starter.json"
IGNORED = (".ledger/", ".worktrees/")

# The tools UET knows how to drive, as router entries; init keeps those found on PATH.
KNOWN_TOOLS: dict[str, dict[str, Any]] = {
    "claude": {
        "description": "Claude Code, headless",
        "adapter": "claude_code",
        "argv": [
            "claude",
            "-p",
            "{prompt}",
            "--output-format",
            "json",
            "--permission-mode",
            "acceptEdits",
        ],
        "writes": True,
        "limits": {"max_parallel": 2, "timeout_seconds": 1800},
        "pricing": {"claude-sonnet-4-5": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}},
        "default_model": "claude-sonnet-4-5",
    },
    "codex": {
        "description": "OpenAI Codex CLI, non-interactive",
        "adapter": "codex",
        "argv": ["codex", "exec", "--json", "--full-auto", "{prompt}"],
        "writes": True,
        "limits": {"max_parallel": 2, "timeout_seconds": 1800},
        "pricing": {"gpt-5-codex": {"input_per_mtok": 1.25, "output_per_mtok": 10.0}},
        "default_model": "gpt-5-codex",
    },
    "aider": {
        "description": "aider, one message, no commits",
        "adapter": "aider",
        "argv": [
            "aider",
            "--yes-always",
            "--no-auto-commits",
            "--no-git",
            "--message",
            "{prompt}",
            "{files}",
        ],
        "writes": True,
        "limits": {"max_parallel": 1, "timeout_seconds": 1800},
    },
    "ruff": {
        "description": "ruff's safe fixes",
        "argv": ["ruff", "check", "--fix", "--no-cache", "."],
        "writes": True,
        "capabilities": {"languages": ["Python"]},
    },
    "prettier": {
        "description": "prettier, in place",
        "argv": ["npx", "--no-install", "prettier", "--write", "."],
        "version_argv": ["npx", "--no-install", "prettier", "--version"],
        "writes": True,
    },
}
_PROGRAM = {"prettier": "npx"}  # the program a known tool needs on PATH, when not its id


@dataclass(frozen=True)
class Planned:
    """One file init would write."""

    path: str  # relative to the project root, POSIX
    content: str
    schema: str | None  # the schema it follows, when it has one


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def found_tools(tools: Sequence[Any]) -> dict[str, str | None]:
    """Name -> version of the tools discovery found on PATH."""
    return {tool.name: tool.version for tool in tools if tool.found}


def gates_for(
    profile_gates: Mapping[str, Mapping[str, Any]],
    found: Mapping[str, str | None],
    markers: Sequence[str],
    scripts: Sequence[str],
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The profile's gates that can run here, and why each other one was left out.
    ``scripts``: package.json script names, and Makefile targets as ``make:<target>``."""
    kept: dict[str, dict[str, Any]] = {}
    left_out: list[str] = []
    for name, gate in profile_gates.items():
        missing = [program for program in gate.get("requires", []) if program not in found]
        if missing:
            left_out.append(f"gate {name!r} left out: {', '.join(missing)} not found on PATH")
            continue
        argv = list(gate["run"])
        if argv[0] == "mypy" and "mypy config" not in markers:
            left_out.append(f"gate {name!r} left out: the project does not configure mypy")
            continue
        if argv[:2] == ["npm", "test"] and "test" not in scripts:
            left_out.append(f"gate {name!r} left out: package.json has no test script")
            continue
        if argv[:3] == ["npm", "run", "lint"] and "lint" not in scripts:
            left_out.append(f"gate {name!r} left out: package.json has no lint script")
            continue
        if argv[0] == "make" and len(argv) > 1 and f"make:{argv[1]}" not in scripts:
            left_out.append(f"gate {name!r} left out: the Makefile has no {argv[1]!r} target")
            continue
        kept[name] = dict(gate)
    return kept, left_out


def run_from_copy(
    gates: Mapping[str, Mapping[str, Any]], layout: str | None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The gates with ``PYTHONPATH`` set so that the Python ones import the project from the
    attempt's copy they run in (``src`` for a src/ layout, ``.`` for a flat one), ahead of an
    editable install of the user's checkout; and what was done, to report."""
    out: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    entry = {"src": "src", "flat": "."}.get(layout or "")
    for name, gate in gates.items():
        gate = dict(gate)
        argv = list(gate["run"])
        python = is_pytest(argv) or PurePosixPath(argv[0]).name.startswith("python")
        env = dict(gate.get("env", {}))
        if entry is not None and python and "PYTHONPATH" not in env:
            gate["env"] = {**env, "PYTHONPATH": entry}
            notes.append(
                f"gate {name!r} imports the project from the copy it runs in "
                f"(PYTHONPATH={entry}, a {layout} layout), not from an installed copy"
            )
        out[name] = gate
    return out, notes


def router_for(
    rules: Sequence[Mapping[str, Any]], found: Mapping[str, str | None]
) -> dict[str, Any]:
    """The known tools found on PATH, and the profile's rules narrowed to them."""
    tools = {name: spec for name, spec in KNOWN_TOOLS.items() if _PROGRAM.get(name, name) in found}
    kept_rules = []
    for rule in rules:
        candidates = [name for name in rule["candidates"] if name in tools]
        if candidates:
            kept_rules.append({**rule, "candidates": candidates})
    router: dict[str, Any] = {"schema_version": "router_config.v1", "tools": tools}
    if kept_rules:
        router["rules"] = kept_rules
    if tools:
        router["defaults"] = {"strategy": "fallback"}
    return router


def starter_bundle(project: str, gates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A bundle with one task per gate: the first thing to `uet run`."""
    tasks = [
        {
            "task_id": f"gate-{name}",
            "description": gate.get("description") or f"the {name} gate",
            "run": list(gate["run"]),
            **({"timeout_seconds": gate["timeout_seconds"]} if "timeout_seconds" in gate else {}),
            **({"env": dict(gate["env"])} if gate.get("env") else {}),
        }
        for name, gate in gates.items()
    ]
    if not tasks:
        tasks = [
            {
                "task_id": "hello",
                "description": "nothing to check yet",
                "run": ["git", "status", "--short"],
            }
        ]
    return {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "starter",
        "name": f"{project}: the project's checks",
        "description": "Written by `uet init`: each gate of .uet/project_profile.json as a task.",
        "error_handling": {"on_task_failure": "continue"},
        "tasks": tasks,
    }


def project_document(
    *,
    project: str,
    profile: Mapping[str, Any],
    languages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    gates: Mapping[str, Any],
    paths: Mapping[str, list[str]],
    overrides: list[dict[str, Any]],
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_version": "project_profile.v1",
        "project_name": project,
        "profile_id": profile["profile_id"],
        "domain": profile["domain"],
        "languages": languages,
        "tools": tools,
        "gates": dict(gates),
        "paths": dict(paths),
        "overrides": overrides,
        "task_kinds": list(profile["task_kinds"]),
        "generated_at": clock.now(),
        "generator": f"uet {__version__}",
    }
    if profile.get("patch_policy"):
        document["constraints"] = profile["patch_policy"]
    if profile.get("budgets"):
        document["budgets"] = profile["budgets"]
    return document


def phase_documents(
    phases: Mapping[str, Mapping[str, Any]], gates: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The profile's phase templates, each naming only gates that were generated."""
    return {
        phase_id: {**phase, "gates": [g for g in phase.get("gates", []) if g in gates]}
        for phase_id, phase in phases.items()
    }


def gitignore_lines(current: str) -> list[str]:
    """The entries init adds to .gitignore (those missing)."""
    present = {line.strip().rstrip("/") for line in current.splitlines()}
    return [entry for entry in IGNORED if entry.rstrip("/") not in present]
