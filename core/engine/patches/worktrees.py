"""Worktrees: one fresh checkout per writing attempt, at the integration head.

They live under ``<repo>/.worktrees/<run>/<task>-<attempt>``, detached (no branch to collide
with), and are removed when the attempt is done unless it failed and the run keeps failed
worktrees for inspection. ``.worktrees/`` is added to the repository's ``info/exclude`` so
``git status`` in the user's checkout stays quiet (that file is git's, not the user's tree).

Removal deletes the directory; git's own bookkeeping of it (``.git/worktrees/<name>``) is
cleared by one ``git worktree prune`` per run rather than a git process per attempt.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from core.adapters.git import Git

log = logging.getLogger(__name__)

DIRNAME = ".worktrees"


def worktrees_root(repo: Path) -> Path:
    return repo / DIRNAME


def exclude_from_status(common_dir: Path, checkout: Path, folders: Sequence[Path]) -> None:
    """List UET's folders that sit inside the checkout (``.worktrees/``, a ledger kept in the
    project) in the repository's ``info/exclude``, once, so ``git status`` stays quiet."""
    lines = [
        f"/{folder.relative_to(checkout).as_posix()}/"
        for folder in folders
        if folder.is_relative_to(checkout) and folder != checkout
    ]
    exclude = common_dir / "info" / "exclude"
    try:
        text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    except OSError:
        return
    missing = [line for line in dict.fromkeys(lines) if line not in text.splitlines()]
    if not missing:
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as handle:
        if text and not text.endswith("\n"):
            handle.write("\n")
        handle.write("".join(f"{line}\n" for line in missing))


class Worktrees:
    """The worktrees of one run."""

    def __init__(self, git: Git, run_id: str) -> None:
        self.git = git
        self.root = worktrees_root(git.repo) / run_id

    def path_for(self, task_id: str, attempt_no: int) -> Path:
        return self.root / f"{task_id}-{attempt_no}"

    def create(self, path: Path, commit: str) -> Path:
        """A detached checkout of ``commit`` at ``path`` (a leftover there is replaced)."""
        if path.exists() or path.is_symlink():
            self.remove(path)
            self.prune()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.git.run("worktree", "add", "--detach", "--quiet", str(path), commit)
        return path

    def remove(self, path: Path, admin: Path | None = None) -> None:
        """Delete the worktree at ``path``, and git's record of it when ``admin`` (read before
        any tool could rewrite the worktree's ``.git`` file) is one: ``git worktree add`` looks
        at every recorded worktree, so records left for a final prune make each add slower."""
        if path.is_symlink():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)
        if admin is not None and _is_worktree_record(admin):
            shutil.rmtree(admin, ignore_errors=True)

    def prune(self) -> None:
        """Forget removed worktrees; drop the run's folder when nothing is kept in it."""
        self.git.run("worktree", "prune", check=False)
        for folder in (self.root, self.root.parent):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break


def _is_worktree_record(admin: Path) -> bool:
    """Whether ``admin`` is ``<git common dir>/worktrees/<name>`` (and nothing else)."""
    common = admin.parent.parent
    return admin.parent.name == "worktrees" and (common / "HEAD").is_file() and admin.is_dir()


def admin_dir(worktree: Path) -> Path | None:
    """Where git keeps the worktree's own HEAD and index (``.git/worktrees/<name>``)."""
    marker = worktree / ".git"
    try:
        text = marker.read_text(encoding="utf-8")
    except OSError:
        return None
    prefix = "gitdir: "
    if not text.startswith(prefix):
        return None
    path = Path(text[len(prefix) :].strip())
    return path if path.is_absolute() else (worktree / path).resolve()
