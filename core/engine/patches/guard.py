"""Watching what a tool in a worktree could reach around to: the user's checkout and the
repository's shared configuration.

A worktree shares its repository's config and hooks: a tool running ``git config`` or writing
``.git/hooks/pre-commit`` changes the user's repository, not just its own checkout. A tool
writing ``../../../src/app.py`` (worktrees live under ``<repo>/.worktrees/``) changes the
user's working tree. Tools are ordinary processes, so UET cannot stop either (only a sandbox
could); it notices and undoes them.

Before the tool runs, the guard snapshots the config file, the hooks, and ``git status`` of
the user's checkout (with a content hash of every path that is already dirty). Afterwards it
compares; any difference fails the attempt with the paths named, and is undone:

- config and hooks go back to their snapshot;
- a path of the checkout that was clean before (so equal to HEAD) and changed during the
  attempt is restored from HEAD, after its new content is copied to the quarantine folder, so
  nothing is lost even when it was the user, not the tool, who edited it meanwhile;
- a path that was already dirty is reported, never touched: only the user knows its content.

HEAD and branch refs are not watched: the user may commit or switch branches in their own
checkout while a run works, and that is not the tool's doing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.adapters.git import Git

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    files: dict[Path, bytes | None]  # config and hooks; None: the file did not exist
    status: dict[str, str]  # dirty path of the checkout -> its porcelain status
    hashes: dict[str, str | None]  # dirty path -> sha1 of its content (None: absent)


@dataclass(frozen=True)
class Breach:
    """What a tool changed outside its worktree, and what was done about it."""

    repository: list[str]  # .git files (config, hooks/...)
    checkout: list[str]  # paths of the user's working tree
    quarantined: list[str]  # where changed checkout files were copied before being restored

    def __bool__(self) -> bool:
        return bool(self.repository or self.checkout)

    def describe(self) -> str:
        parts = []
        if self.repository:
            shown = ", ".join(f".git/{name}" for name in self.repository)
            parts.append(f"changed {shown} (restored)")
        if self.checkout:
            shown = ", ".join(self.checkout[:10]) + (" ..." if len(self.checkout) > 10 else "")
            parts.append(f"wrote into the checkout: {shown}")
        return "the tool changed things outside its worktree: " + "; ".join(parts)


class RepoGuard:
    """One per run: ``snapshot()`` before a tool runs, ``check(before)`` after it."""

    def __init__(self, git: Git, common_dir: Path, ignored: Sequence[Path] = ()) -> None:
        self.git = git
        self.common_dir = common_dir
        self.checkout = git.repo
        # UET's own folders inside the checkout (worktrees, a ledger kept there).
        self._ignored = tuple(
            path.relative_to(self.checkout).as_posix() + "/"
            for path in ignored
            if path.is_relative_to(self.checkout)
        )

    # -- snapshots -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        files: dict[Path, bytes | None] = {}
        for path in self._watched():
            try:
                files[path] = path.read_bytes()
            except OSError:
                files[path] = None
        status = self._status()
        return Snapshot(files, status, {path: self._hash(path) for path in status})

    def check(self, before: Snapshot, quarantine: Path) -> Breach:
        """Compare with ``before``; undo what can be undone safely; say what happened."""
        repository = self._restore_files(before)
        now = self._status()
        new = sorted(path for path in now if path not in before.status)
        edited = sorted(
            path
            for path in before.status
            if now.get(path) != before.status[path] or self._hash(path) != before.hashes[path]
        )
        quarantined = self._restore_clean(new, quarantine) if new else []
        return Breach(repository, sorted({*new, *edited}), quarantined)

    # -- the repository's shared files ---------------------------------------------------------

    def _watched(self) -> list[Path]:
        watched = [self.common_dir / "config"]
        hooks = self.common_dir / "hooks"
        with contextlib.suppress(OSError):
            watched += sorted(p for p in hooks.iterdir() if p.is_file())
        return watched

    def _restore_files(self, before: Snapshot) -> list[str]:
        changed: list[str] = []
        current = {*self._watched(), *before.files}
        for path in sorted(current):
            old = before.files.get(path)
            try:
                now: bytes | None = path.read_bytes()
            except OSError:
                now = None
            if now == old:
                continue
            changed.append(path.relative_to(self.common_dir).as_posix())
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(old)
        return changed

    # -- the user's checkout ---------------------------------------------------------------------

    def _status(self) -> dict[str, str]:
        out = self.git.run(
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"
        ).stdout
        status: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if len(entry) < 4:
                continue
            path = entry[3:].decode("utf-8", "surrogateescape")
            if not path.startswith(self._ignored):
                status[path] = entry[:2].decode("ascii", "replace")
        return status

    def _hash(self, path: str) -> str | None:
        try:
            return hashlib.sha1(  # noqa: S324 - change detection, not security
                (self.checkout / path).read_bytes()
            ).hexdigest()
        except OSError:
            return None

    def _restore_clean(self, paths: list[str], quarantine: Path) -> list[str]:
        """Put paths that were clean before back as HEAD has them; keep their new content."""
        kept: list[str] = []
        tracked: list[str] = []
        for path in paths:
            source = self.checkout / path
            if source.is_file() or source.is_symlink():
                target = quarantine / path
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_symlink():
                    target.write_text(f"symlink to {source.readlink()}\n", encoding="utf-8")
                else:
                    shutil.copyfile(source, target)
                kept.append(str(target))
            if self.git.run("cat-file", "-e", f"HEAD:{path}", check=False).returncode == 0:
                tracked.append(path)
            else:
                with contextlib.suppress(OSError):
                    source.unlink()
                self._remove_empty_parents(source.parent)
        if tracked:
            self.git.run(
                "restore",
                "--source=HEAD",
                "--staged",
                "--worktree",
                "--",
                *tracked,
                env={"GIT_LITERAL_PATHSPECS": "1"},
            )
        if kept:
            log.warning("moved %d file(s) written into the checkout to %s", len(kept), quarantine)
        return kept

    def _remove_empty_parents(self, folder: Path) -> None:
        while folder != self.checkout and folder.is_relative_to(self.checkout):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
