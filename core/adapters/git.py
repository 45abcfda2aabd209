"""A thin, typed wrapper over the ``git`` command line.

UET speaks to git through its porcelain-free plumbing where it can (``read-tree``, ``apply
--cached``, ``write-tree``, ``commit-tree``, ``update-ref``): those never touch a checkout, so
the user's working tree and checked-out branch stay as they are, and ``update-ref`` with the
old value is a compare-and-swap that keeps the integration branch consistent.

Every call is an argv list (never a shell) with an environment cleaned of variables that would
redirect git elsewhere (``GIT_DIR``, ``GIT_INDEX_FILE``, ... inherited from a hook, say), with
prompts off and messages in English, so errors can be read and shown.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import GitFailed, NotARepository, RepositoryEmpty

_REDIRECTING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
# Integration commits are UET's own: a fixed identity unless the environment names one, so a
# machine without `user.name` configured (CI) can still record them.
IDENTITY = {
    "GIT_AUTHOR_NAME": "UET",
    "GIT_AUTHOR_EMAIL": "uet@localhost",
    "GIT_COMMITTER_NAME": "UET",
    "GIT_COMMITTER_EMAIL": "uet@localhost",
}


def git_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in (base or os.environ).items() if k not in _REDIRECTING}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_CONFIG_NOSYSTEM="1")
    for key, value in IDENTITY.items():
        env.setdefault(key, value)
    return env


@dataclass(frozen=True)
class Git:
    """git commands run against one repository (``repo`` is its top-level directory)."""

    repo: Path
    env: dict[str, str] = field(default_factory=git_environment, compare=False, repr=False)

    def run(
        self,
        *args: str,
        data: bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        argv = ["git", *args]
        result = subprocess.run(
            argv,
            cwd=cwd or self.repo,
            env={**self.env, **env} if env else self.env,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise GitFailed(args, result.returncode, result.stderr.decode("utf-8", "replace"))
        return result

    def text(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run and return stdout as text without the trailing newline."""
        return self.run(*args, env=env).stdout.decode("utf-8", "replace").rstrip("\n")

    # -- questions -----------------------------------------------------------------------------

    def rev_parse(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None if it names none."""
        result = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return result.stdout.decode().strip() or None if result.returncode == 0 else None

    def common_dir(self) -> Path:
        path = Path(self.text("rev-parse", "--git-common-dir"))
        return path if path.is_absolute() else (self.repo / path).resolve()

    def current_branch(self) -> str | None:
        """The checked-out branch (``refs/heads/...``), or None when HEAD is detached."""
        result = self.run("symbolic-ref", "-q", "HEAD", check=False)
        return result.stdout.decode().strip() or None if result.returncode == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        result = self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return result.returncode == 0

    def dirty_paths(self) -> list[str]:
        """Tracked files with changes (staged or not) in the main working tree."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=no").stdout
        return [entry[3:].decode("utf-8", "replace") for entry in out.split(b"\0") if entry]

    def update_ref(self, ref: str, new: str, old: str, message: str) -> bool:
        """Move ``ref`` from ``old`` to ``new`` atomically; False if it no longer was ``old``."""
        result = self.run("update-ref", "-m", message, ref, new, old, check=False)
        return result.returncode == 0


def user_identity(git: Git) -> dict[str, str]:
    """The author variables of the identity the user configured for ``git``'s repository
    (``user.name`` and ``user.email``, local or global), or none when either is missing."""
    result = git.run("config", "--get-regexp", r"^user\.(name|email)$", check=False)
    found: dict[str, str] = {}
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(" ")
        found[key.lower()] = value.strip()
    if not found.get("user.name") or not found.get("user.email"):
        return {}
    return {"GIT_AUTHOR_NAME": found["user.name"], "GIT_AUTHOR_EMAIL": found["user.email"]}


def open_repository(path: Path) -> Git:
    """The repository at (or above) ``path``; a clear error when there is none or it is empty."""
    path = path.resolve()
    if not path.is_dir():
        raise NotARepository(str(path), "no such directory")
    probe = Git(path)
    result = probe.run("rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise NotARepository(str(path), reason[-1] if reason else "git does not recognise it")
    top = Path(result.stdout.decode().strip())
    git = Git(top)
    if git.rev_parse("HEAD") is None:
        raise RepositoryEmpty(str(top))
    return git


def trailers(message: str) -> dict[str, str]:
    """``Key: value`` trailer lines at the end of a commit message."""
    found: dict[str, str] = {}
    for line in reversed(message.strip().splitlines()):
        key, sep, value = line.partition(": ")
        if not sep or not key or " " in key:
            break
        found.setdefault(key, value.strip())
    return found


def commits_with_trailer(git: Git, branch: str, key: str, stop: str | None) -> dict[str, str]:
    """``{trailer value: commit}`` for commits on ``branch`` (after ``stop``) carrying ``key``."""
    spec: Sequence[str] = (f"{stop}..{branch}",) if stop else (branch,)
    out = git.run("log", "--format=%H%x00%B%x00", *spec).stdout.decode("utf-8", "replace")
    parts = out.split("\0")
    found: dict[str, str] = {}
    for sha, body in zip(parts[0::2], parts[1::2], strict=False):
        value = trailers(body).get(key)
        if value:
            found.setdefault(value, sha.strip())
    return found
