"""Private copies: one repository of its own per writing attempt, at the integration head.

A git worktree shares its repository's refs, config and hooks, so a tool running in one could
move the user's branch, forge ``uet/<run>`` or plant a hook. A writing attempt gets a private
copy instead, which is its own repository:

- ``<task>-<n>/``: the files at the base commit, and a ``.git/`` with its own HEAD (detached
  at the base), index, refs, config and hooks: the tool may commit, branch or configure there
  as it likes, and reaches nothing of the user's. Objects come from the user's repository
  through ``objects/info/alternates`` (read-only; the sandbox makes them so), so nothing is
  copied but the checked-out files; new objects stay in the copy.
- ``<task>-<n>.uet/``: UET's own git directory for the copy, beside it and outside the
  sandbox's writable paths. UET reads the change back through it (``--git-dir`` on the copy's
  files), never through anything the tool could have rewritten: before each read its config,
  HEAD, alternates and index are put back as they were made, and any object in it is thrown
  away, so a planted object or option cannot change what UET sees.
- ``<task>-<n>.home/``: the attempt's private HOME.

All three live in UET's folder (``$UET_WORKTREES``, default ``~/.cache/uet/worktrees``) at
``<repo-key>/<run>/``, outside the user's checkout; the project shows each copy as
``.worktrees/<run>/<task>-<n>``, a symlink, listed in the repository's ``info/exclude``.
Nothing is written into the user's ``.git`` by making or removing a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.adapters.git import Git

log = logging.getLogger(__name__)

LINKS_DIRNAME = ".worktrees"
ENV_VAR = "UET_WORKTREES"
ADMIN_SUFFIX = ".uet"
HOME_SUFFIX = ".home"
_CONFIG = b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
# A repository of SHA-256 objects says so, and its copies must too.
_SHA256_CONFIG = (
    b"[core]\n\trepositoryformatversion = 1\n\tfilemode = true\n\tbare = false\n"
    b"[extensions]\n\tobjectformat = sha256\n"
)


def worktrees_home() -> Path:
    """UET's folder of private copies: ``$UET_WORKTREES``, else ``~/.cache/uet/worktrees``."""
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


@dataclass(frozen=True)
class Copy:
    """One attempt's private copy: ``path`` (the files and the tool's ``.git``), ``admin``
    (UET's git directory for it) and ``home`` (its private HOME)."""

    path: Path
    admin: Path
    home: Path
    commit: str
    _pristine: dict[str, bytes]  # admin file -> content as made (index, HEAD, config, ...)
    _index_mtime_ns: int  # the index's own time, which git's racy-entry check compares with

    def restore_admin(self) -> None:
        """Put UET's git directory back as it was made, before reading the change through it
        (a tool without a sandbox could have reached it)."""
        objects = self.admin / "objects"
        if objects.is_symlink() or objects.is_file():
            objects.unlink()
        elif objects.is_dir():
            shutil.rmtree(objects)
        for name in ("index.lock", "config.lock"):
            (self.admin / name).unlink(missing_ok=True)
        for name, content in self._pristine.items():
            target = self.admin / name
            with contextlib.suppress(OSError):
                if not target.is_symlink() and target.read_bytes() == content:
                    continue  # as made (the usual case): its file times stay as they were
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_dir():
                _delete(target)
            target.write_bytes(content)
            if name == "index":
                _set_mtime(target, self._index_mtime_ns)

    def exclude(self, paths: Sequence[str]) -> None:
        """Leave ``paths`` (relative to the copy; a trailing ``/`` for a folder) out of what is
        read back as the change: what set-up made. Written to both git directories."""
        if not paths:
            return
        lines = "".join(f"/{_escape_glob(path)}\n" for path in paths).encode()
        current = self._pristine.get("info/exclude", b"")
        if current and not current.endswith(b"\n"):
            current += b"\n"
        self._pristine["info/exclude"] = current + lines
        for root in (self.admin, self.path / ".git"):
            target = root / "info" / "exclude"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._pristine["info/exclude"])

    def git_args(self) -> tuple[str, str]:
        """The options that point git at the copy through UET's git directory."""
        return (f"--git-dir={self.admin}", f"--work-tree={self.path}")


class Copies:
    """The private copies of one run: real ones under ``root``, their links under ``links``."""

    def __init__(self, git: Git, run_id: str, home: Path | None = None) -> None:
        self.git = git
        self.home = home or worktrees_home()
        self.root = self.home / repo_key(git.repo) / run_id
        self.links = git.repo / LINKS_DIRNAME / run_id
        self._common = git.common_dir()
        format_ = git.run("rev-parse", "--show-object-format", check=False).stdout.strip()
        self._config = _SHA256_CONFIG if format_ == b"sha256" else _CONFIG
        self._live: set[str] = set()  # names of the copies made and not yet removed
        self._lock = threading.Lock()

    def path_for(self, task_id: str, attempt_no: int) -> Path:
        return self.root / f"{task_id}-{attempt_no}"

    def link_for(self, path: Path) -> Path:
        """Where the project shows the copy at ``path``."""
        return self.links / path.name

    def live(self) -> frozenset[str]:
        """The names in the run's folder that belong to copies not yet removed."""
        with self._lock:
            return frozenset(
                name + suffix for name in self._live for suffix in ("", ADMIN_SUFFIX, HOME_SUFFIX)
            )

    def create(self, path: Path, commit: str) -> Copy:
        """A private copy of ``commit`` at ``path`` (a leftover there is replaced)."""
        self.remove(path)
        with self._lock:
            self._live.add(path.name)
        admin = path.with_name(path.name + ADMIN_SUFFIX)
        home = path.with_name(path.name + HOME_SUFFIX)
        path.mkdir(parents=True)
        home.mkdir()
        pristine = self._git_dir_files(commit)
        _write_files(admin, pristine)
        # One checkout, through UET's git directory: the files and a stat-fresh index.
        self.git.run(
            f"--git-dir={admin}",
            f"--work-tree={path}",
            "read-tree",
            "--reset",
            "-u",
            commit,
            cwd=path,
        )
        index = (admin / "index").read_bytes()
        index_mtime = (admin / "index").stat().st_mtime_ns
        pristine["index"] = index
        # The tool's own repository: the same files, an index that matches them, no hooks.
        _write_files(path / ".git", {**pristine, "index": index})
        # An index must not look newer than the checkout it describes: git trusts the stat
        # data of entries older than the index file, so a same-size edit made within the
        # checkout's second would go unseen (git's "racy" entries).
        _set_mtime(path / ".git" / "index", index_mtime)
        (path / ".git" / "hooks").mkdir(exist_ok=True)
        self._link(path)
        return Copy(path, admin, home, commit, pristine, index_mtime)

    def _git_dir_files(self, commit: str) -> dict[str, bytes]:
        objects = self._common / "objects"
        files = {
            "HEAD": f"{commit}\n".encode(),
            "config": self._config,
            "objects/info/alternates": f"{objects}\n".encode(),
            "refs/heads/.keep": b"",
            "refs/tags/.keep": b"",
        }
        for name in ("info/exclude", "shallow"):  # what the user ignores; a shallow history
            try:
                files[name] = (self._common / name).read_bytes()
            except OSError:
                continue
        return files

    def _link(self, path: Path) -> None:
        link = self.link_for(path)
        try:
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(path, target_is_directory=True)
        except OSError as exc:  # a convenience only: the attempt does not depend on it
            log.debug("cannot link %s to %s: %s", link, path, exc)

    def remove(self, path: Path) -> None:
        """Delete the copy at ``path``, its git directory, its HOME and its link."""
        for suffix in ("", ADMIN_SUFFIX, HOME_SUFFIX):
            _delete(path.with_name(path.name + suffix))
        link = self.link_for(path)
        if link.is_symlink():
            link.unlink()
        with self._lock:
            self._live.discard(path.name)

    def prune(self) -> None:
        """Drop the run's folders when nothing is kept in them."""
        for chain in ((self.root, self.root.parent), (self.links, self.links.parent)):
            for folder in chain:
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break


def _write_files(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _delete(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def admin_dir(path: Path) -> Path | None:
    """UET's git directory of the copy at ``path``, while it exists."""
    admin = path.with_name(path.name + ADMIN_SUFFIX)
    return admin if admin.is_dir() else None


def _escape_glob(path: str) -> str:
    """``path`` as a literal gitignore pattern."""
    out = path
    for char in ("\\", "*", "?", "[", "!", "#"):
        out = out.replace(char, "\\" + char)
    return out
