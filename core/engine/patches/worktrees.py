"""Worktrees: one fresh checkout per writing attempt, at the integration head.

Each attempt gets a detached worktree (no branch to collide with), removed when the attempt
is done unless it failed and the run keeps failed worktrees for inspection.

Where they live. A tool is an ordinary process: a worktree inside the user's checkout would
let a careless ``../../../src/app.py`` land in the user's files, and no check after the fact
can tell such a write from the user's own edit made meanwhile. So the checkout itself lives
outside the project, in UET's own folder (``$UET_WORKTREES``, default
``~/.cache/uet/worktrees``), at ``<repo-key>/<run>/<task>-<attempt>``; the project shows each
one as ``.worktrees/<run>/<task>-<attempt>``, a symlink to it. ``.worktrees/`` is listed in
the repository's ``info/exclude`` so ``git status`` stays quiet (that file is git's, not the
user's tree).

Removal deletes the directory and git's record of it (``.git/worktrees/<name>``, the path read
before the tool ran): ``git worktree add`` reads every record, so leaving them for a final
``git worktree prune`` would make each add slower as a run goes on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from core.adapters.git import Git
from core.errors import GitFailed

log = logging.getLogger(__name__)

LINKS_DIRNAME = ".worktrees"
ENV_VAR = "UET_WORKTREES"
_ADD_TRIES = 3
_RECORDS = threading.Lock()  # git's worktree records change under it (see Worktrees._add)


def worktrees_home() -> Path:
    """UET's folder of real worktrees: ``$UET_WORKTREES``, else ``~/.cache/uet/worktrees``."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen).resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).resolve() / "uet" / "worktrees"


def repo_key(repo: Path) -> str:
    """A folder name for ``repo``: readable, and unique per path."""
    digest = hashlib.sha1(str(repo).encode()).hexdigest()[:12]  # noqa: S324 - a name, not security
    return f"{repo.name or 'repo'}-{digest}"


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
    """The worktrees of one run: real ones under ``root``, their links under ``links``."""

    def __init__(self, git: Git, run_id: str, home: Path | None = None) -> None:
        self.git = git
        self.home = home or worktrees_home()
        self.root = self.home / repo_key(git.repo) / run_id
        self.links = git.repo / LINKS_DIRNAME / run_id
        self._live: set[str] = set()  # names of the worktrees made and not yet removed
        self._lock = threading.Lock()

    def path_for(self, task_id: str, attempt_no: int) -> Path:
        return self.root / f"{task_id}-{attempt_no}"

    def link_for(self, path: Path) -> Path:
        """Where the project shows the worktree at ``path``."""
        return self.links / path.name

    def live(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._live)

    def create(self, path: Path, commit: str) -> Path:
        """A detached checkout of ``commit`` at ``path`` (a leftover there is replaced)."""
        if path.exists() or path.is_symlink():
            self.remove(path)
            self.prune()
        with self._lock:
            self._live.add(path.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._add(path, commit)
        link = self.link_for(path)
        try:
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(path, target_is_directory=True)
        except OSError as exc:  # a convenience only: the attempt does not depend on it
            log.debug("cannot link %s to %s: %s", link, path, exc)
        return path

    def _add(self, path: Path, commit: str) -> None:
        # `git worktree add` reads every other worktree's record, and fails on one being made
        # or removed at that moment: serialise ours, and retry a clash with another process.
        for attempt in range(_ADD_TRIES):
            try:
                with _RECORDS:
                    self.git.run("worktree", "add", "--detach", "--quiet", str(path), commit)
                return
            except GitFailed as exc:
                if attempt == _ADD_TRIES - 1 or "failed to read" not in exc.stderr:
                    raise
                shutil.rmtree(path, ignore_errors=True)
                time.sleep(0.05 * (attempt + 1))

    def remove(self, path: Path, admin: Path | None = None) -> None:
        """Delete the worktree at ``path``, its link, and git's record of it when ``admin``
        (read before any tool could rewrite the worktree's ``.git`` file) is one."""
        if path.is_symlink():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)
        link = self.link_for(path)
        if link.is_symlink():
            link.unlink()
        if admin is not None and _is_worktree_record(admin):
            with _RECORDS:
                shutil.rmtree(admin, ignore_errors=True)
        with self._lock:
            self._live.discard(path.name)

    def prune(self) -> None:
        """Forget removed worktrees; drop the run's folders when nothing is kept in them."""
        with _RECORDS:
            self.git.run("worktree", "prune", check=False)
        for chain in ((self.root, self.root.parent), (self.links, self.links.parent)):
            for folder in chain:
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
