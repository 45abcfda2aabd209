"""``uet doctor``: what this machine gives UET's tools, and why."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click

from core.cli.common import json_option, load_router_for, router_option
from core.cli.output import echo_json
from core.engine.execution import sandbox
from core.engine.execution.reaping import become_subreaper
from core.engine.project import project_sandbox
from core.errors import EXIT_INVALID

MERGE_TREE_GIT = (2, 38)  # `git merge-tree --write-tree`, which landing uses


def _git_version() -> tuple[str, tuple[int, ...]]:
    try:
        text = subprocess.run(
            ["git", "--version"], capture_output=True, text=True, check=False, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not found", ()
    digits = text.removeprefix("git version ").split(".")
    numbers = tuple(int(part) for part in digits[:3] if part.isdigit())
    return text or "not found", numbers


def report(router_path: Path | None) -> dict[str, Any]:
    """The isolation in force for a run started here, the mode that chose it, and the git
    it will drive."""
    router = load_router_for(router_path)
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    ).stdout.strip()
    profile = project_sandbox(Path(top)) if top else None
    mode, writable = sandbox.settings(router.document if router else None, profile)
    isolation = sandbox.detect(mode)
    git_text, git_numbers = _git_version()
    return {
        "mode": mode,
        "isolation": isolation.level,
        "reason": isolation.reason,
        "writable": [str(path) for path in writable],
        "descendants": (
            "killed with the sandbox's PID namespace"
            if isolation.sandboxed
            else (
                "killed through a child subreaper and a walk of /proc"
                if become_subreaper()
                else "killed by process group only (no child subreaper on this platform)"
            )
        ),
        "git": git_text,
        "git_ok": git_numbers >= MERGE_TREE_GIT,
        "router": router.source if router else None,
        "ok": isolation.sandboxed or mode != "required",
    }


@click.command()
@router_option
@json_option
def doctor(router_path: Path | None, as_json: bool) -> None:
    """Show the isolation tools and gates get on this machine, and why.

    The sandbox mode comes from the router config's ``sandbox`` (auto, required, off), the
    project profile's (``.uet/project_profile.json``) and ``UET_SANDBOX``; with ``required``
    and no sandbox this exits 2 and says how to install one.

    \b
    Examples:
      uet doctor
      UET_SANDBOX=required uet doctor --json
    """
    found = report(router_path)
    if as_json:
        echo_json(found)
    else:
        level = found["isolation"]
        colour = "green" if level == sandbox.BUBBLEWRAP else "yellow"
        click.echo(f"isolation:   {click.style(level, fg=colour)} (sandbox mode {found['mode']})")
        click.echo(f"             {found['reason']}")
        click.echo(f"descendants: {found['descendants']}")
        if found["writable"]:
            click.echo(f"writable:    {', '.join(found['writable'])}")
        git_state = "" if found["git_ok"] else click.style(" (landing needs git >= 2.38)", fg="red")
        click.echo(f"git:         {found['git']}{git_state}")
    if not found["ok"]:
        raise SystemExit(EXIT_INVALID)


COMMANDS = [doctor]
