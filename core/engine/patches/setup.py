"""Per-attempt set-up: the steps that make an attempt's copy testable before anything runs in it.

A gate must test the attempt's code, so whatever the project needs to run its tests (an
environment with the project installed from the copy, ``npm ci``, generated sources) is made
inside the copy, by ``setup`` steps the project profile and the bundle's workstreams declare:

    "setup": [{"run": ["python", "-m", "venv", ".venv"]},
              {"run": [".venv/bin/pip", "install", "-e", ".[test]"]}]

They run in order in the copy's root, confined like its tool (with the network unless a step
says ``"network": false``: installing needs the package registry), before the tool, and again
before the gates of each copy the merge queue or `uet land` checks out. Package managers share
their caches between attempts (``PIP_CACHE_DIR``, ``UV_CACHE_DIR``, ``npm_config_cache``,
``YARN_CACHE_FOLDER`` under ``$UET_WORKTREES/.cache/``), so the second attempt's set-up is
quick.

What set-up makes is not part of the patch: the untracked files it leaves are added to the
copy's excludes (UET's git directory for it and the tool's own). A step that changes a tracked
file, or fails, fails the attempt with the step's last lines of output and its log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.adapters.git import Git
from core.engine.execution.outcome import Outcome
from core.engine.patches.copies import Copy, worktrees_home
from core.engine.patches.guard import CACHE_DIRNAME

DEFAULT_TIMEOUT = 900.0
_CACHES = {
    "PIP_CACHE_DIR": "pip",
    "UV_CACHE_DIR": "uv",
    "npm_config_cache": "npm",
    "YARN_CACHE_FOLDER": "yarn",
}


class SetupFailed(RuntimeError):
    """A setup step failed in a copy the merge queue or `uet land` checked out."""


@dataclass(frozen=True)
class SetupStep:
    run: tuple[str, ...]
    timeout_seconds: float = DEFAULT_TIMEOUT
    network: bool = True

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> SetupStep:
        return cls(
            run=tuple(doc["run"]),
            timeout_seconds=float(doc.get("timeout_seconds", DEFAULT_TIMEOUT)),
            network=bool(doc.get("network", True)),
        )

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"run": list(self.run)}
        if self.timeout_seconds != DEFAULT_TIMEOUT:
            doc["timeout_seconds"] = self.timeout_seconds
        if not self.network:
            doc["network"] = False
        return doc

    @property
    def label(self) -> str:
        return " ".join(self.run[:4]) + (" ..." if len(self.run) > 4 else "")


def steps_of(documents: Iterable[Mapping[str, Any]] | None) -> tuple[SetupStep, ...]:
    return tuple(SetupStep.from_document(doc) for doc in documents or ())


def cache_root(home: Path | None = None) -> Path:
    """The package caches set-up steps share, across attempts and runs."""
    return (home or worktrees_home()) / CACHE_DIRNAME


def cache_env(root: Path) -> dict[str, str]:
    """The variables that point package managers at the shared caches under ``root``."""
    return {name: str(root / folder) for name, folder in _CACHES.items()}


StepRunner = Callable[[SetupStep, Copy], Outcome]  # runs one step in the copy's root


def run_setup(git: Git, copy: Copy, steps: Sequence[SetupStep], run_step: StepRunner) -> str | None:
    """Run ``steps`` in ``copy``; None when they all succeeded, else why the attempt fails."""
    if not steps:
        return None
    for number, step in enumerate(steps, start=1):
        outcome = run_step(step, copy)
        if not outcome.succeeded:
            log = outcome.stdout.path if outcome.stdout else None
            shown = f" (log: {log})" if log else ""
            return f"setup step {number} `{step.label}` {outcome.error or 'failed'}{shown}"
    where = copy.git_args()
    changed = git.run(*where, "diff", "--name-only", "-z", cwd=copy.path, check=False).stdout
    edited = [name.decode("utf-8", "replace") for name in changed.split(b"\0") if name]
    if edited:
        shown = ", ".join(edited[:5]) + (f" and {len(edited) - 5} more" if len(edited) > 5 else "")
        return f"setup changed tracked files ({shown}): a setup step must not edit the project"
    made = git.run(
        *where,
        "ls-files",
        "--others",
        "--exclude-standard",
        "--directory",
        "-z",
        cwd=copy.path,
        check=False,
    ).stdout
    copy.exclude([name.decode("utf-8", "surrogateescape") for name in made.split(b"\0") if name])
    return None


__all__ = ["SetupFailed", "SetupStep", "cache_env", "cache_root", "run_setup", "steps_of"]
