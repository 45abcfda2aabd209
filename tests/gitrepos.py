"""Real git repositories for tests: made in tmp_path with the real `git`, and a checksum of
everything a run must never change in them (working tree, HEAD, config and hooks)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}
# Folders UET owns inside a repository: never part of the user's tree.
UET_OWNED = (".git", ".worktrees")


def git(repo: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    result = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``files`` (relative path -> text or bytes) under ``root``, making folders."""
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def make_repo(
    path: Path, files: Mapping[str, str | bytes] | None = None, branch: str = "main"
) -> Path:
    """A repository at ``path`` with ``files`` committed on ``branch``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    write_files(path, files or {"README.md": "hello\n"})
    commit_all(path, "initial")
    return path


def commit_all(checkout: Path, message: str) -> str:
    """Stage everything in ``checkout`` (a repository or one of its worktrees) and commit it;
    the new commit."""
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "--allow-empty", "--no-verify", "-m", message)
    return git(checkout, "rev-parse", "HEAD")


def checksum(repo: Path) -> str:
    """What a run must leave exactly as it was: every file of the working tree (UET's own
    folders aside), HEAD and the branch it names, every ref but UET's ``refs/heads/uet/*``,
    the index (its entries), the repository's config and hooks."""
    digest = hashlib.sha256()
    for path in sorted(repo.rglob("*")):
        relative = path.relative_to(repo)
        if relative.parts[0] in UET_OWNED:
            continue
        digest.update(str(relative).encode())
        if path.is_symlink():
            digest.update(b"->" + os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    digest.update(git(repo, "rev-parse", "HEAD").encode())
    digest.update(git(repo, "symbolic-ref", "-q", "HEAD", check=False).encode())
    digest.update(git(repo, "ls-files", "--stage").encode())  # before status refreshes it
    digest.update(git(repo, "status", "--porcelain").encode())
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    digest.update("\n".join(r for r in refs if not r.startswith("refs/heads/uet/")).encode())
    common = repo / ".git"
    digest.update((common / "config").read_bytes())
    for hook in sorted((common / "hooks").glob("*")):
        digest.update(hook.name.encode() + hook.read_bytes())
    return digest.hexdigest()


def branch_log(repo: Path, branch: str) -> list[str]:
    """Subjects of the commits on ``branch``, newest first."""
    return git(repo, "log", "--format=%s", branch).splitlines()


def trailer_values(repo: Path, branch: str, key: str) -> list[str]:
    """Every value of trailer ``key`` on ``branch`` (one per commit carrying it)."""
    out = git(repo, "log", f"--format=%(trailers:key={key},valueonly)", branch)
    return [line.strip() for line in out.splitlines() if line.strip()]


def children(repo: Path, commit: str) -> list[str]:
    """Every commit object in the repository, reachable or not, that has ``commit`` as a parent
    (what "nothing was built on it" means)."""
    listing = git(
        repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"
    )
    commits = [line.split()[0] for line in listing.splitlines() if line.endswith(" commit")]
    found = []
    for sha in commits:
        if commit in git(repo, "log", "-1", "--format=%P", sha).split():
            found.append(sha)
    return found
