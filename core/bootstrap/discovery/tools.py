"""The machine around the tree: tools on PATH with their versions, and the state of the git
repository."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess

from core.adapters.git import Git
from core.bootstrap.discovery.result import GitState, ToolFound

log = logging.getLogger(__name__)

DEFAULT_TOOLS: tuple[str, ...] = (
    "git", "python3", "pytest", "ruff", "mypy", "node", "npm", "npx", "yarn", "pnpm", "make",
    "go", "cargo", "terraform", "yamllint", "sqlfluff", "dbt", "markdownlint", "lychee",
    "docker", "aider", "claude", "codex",
)  # fmt: skip
VERSION_ARGS: dict[str, tuple[str, ...]] = {"go": ("version",)}  # the rest take --version
VERSION_TIMEOUT = 3.0


def git_state(git: Git) -> GitState:
    """Branch, cleanliness and commit count of the repository ``git`` runs in."""
    head = git.current_branch()
    # GIT_OPTIONAL_LOCKS=0: status must not refresh (write) the index of the user's repository.
    status = git.run("status", "--porcelain", "-z", env={"GIT_OPTIONAL_LOCKS": "0"}, check=False)
    commits = 0
    if git.rev_parse("HEAD") is not None:
        counted = git.run("rev-list", "--count", "HEAD", check=False).stdout.strip()
        commits = int(counted) if counted.isdigit() else 0
    return GitState(
        is_repo=True,
        branch=head.removeprefix("refs/heads/") if head else None,
        clean=not status.stdout if status.returncode == 0 else None,
        commits=commits,
    )


def probe_tool(name: str, probe_version: bool = True) -> ToolFound:
    """Whether ``name`` is on PATH, where, and (when asked) the first line of its version."""
    path = shutil.which(name)
    if path is None:
        return ToolFound(name, found=False)
    version = _version([path, *VERSION_ARGS.get(name, ("--version",))]) if probe_version else None
    return ToolFound(name, found=True, path=path, version=version)


def _version(argv: list[str]) -> str | None:
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed whole on timeout
        )
    except OSError as exc:
        log.debug("cannot run %s: %s", argv[0], exc)
        return None
    with process:
        try:
            out, err = process.communicate(timeout=VERSION_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.debug("%s took more than %ss to print its version", argv[0], VERSION_TIMEOUT)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return None
    if process.returncode != 0:
        return None
    return _version_line(out) or _version_line(err)


def _version_line(output: bytes) -> str | None:
    """The first non-empty line that has a digit in it (``dbt --version`` starts with
    ``Core:``), else the first non-empty line."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    with_digit = [line for line in lines if any(ch.isdigit() for ch in line)]
    chosen = with_digit or lines
    return chosen[0][:200] if chosen else None
