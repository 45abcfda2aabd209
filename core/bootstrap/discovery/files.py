"""Enumerating the files under a root: one ``git ls-files`` inside a git work tree, an
``os.scandir`` walk elsewhere; every folder, link and path that is not scanned is noted in
``Skips`` with the reason."""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from core.adapters.git import Git

SKIPPED_LIMIT = 200

_VCS, _VENV, _DEPS, _BUILD, _CACHE = (
    "version control", "virtualenv", "vendored dependencies", "build output", "cache",
)  # fmt: skip
# Folder name -> why nothing under it is scanned.
SKIP_DIRS: dict[str, str] = {
    ".git": _VCS, ".hg": _VCS, ".svn": _VCS, ".bzr": _VCS,
    ".venv": _VENV, "venv": _VENV,
    "node_modules": _DEPS, "vendor": _DEPS, "third_party": _DEPS, "site-packages": _DEPS,
    "bower_components": _DEPS,
    "build": _BUILD, "dist": _BUILD, "target": _BUILD, ".next": _BUILD, "coverage": _BUILD,
    "htmlcov": _BUILD,
    "__pycache__": _CACHE, ".tox": _CACHE, ".nox": _CACHE, ".mypy_cache": _CACHE,
    ".pytest_cache": _CACHE, ".ruff_cache": _CACHE, ".terraform": _CACHE, ".gradle": _CACHE,
    ".ledger": "UET ledger", ".worktrees": "UET worktrees", ".uet": "UET configuration",
}  # fmt: skip
# "env" is a virtualenv only when it has a pyvenv.cfg: Terraform and deploy trees use env/ too.


class Skips:
    """What was not read and why: deduplicated, sorted, capped at ``SKIPPED_LIMIT``."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, entry: str) -> None:
        self._seen.setdefault(entry, None)

    def entries(self) -> list[str]:
        listed = sorted(self._seen)
        if len(listed) <= SKIPPED_LIMIT:
            return listed
        more = len(listed) - SKIPPED_LIMIT
        return [*listed[:SKIPPED_LIMIT], f"... and {more} more not listed"]


@dataclass
class Scan:
    root: str
    files: dict[str, int] = field(default_factory=dict)  # relative path -> size in bytes
    skips: Skips = field(default_factory=Skips)

    def unreadable(self, rel: str, exc: OSError) -> None:
        self.skips.add(f"unreadable: {rel} ({exc.strerror or exc})")

    def add(self, rel: str) -> None:
        """Record one listed path after ``lstat``: a file, a symlink, or something skipped."""
        full = os.path.join(self.root, rel)
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            return  # tracked but deleted in the working tree: nothing to scan
        except OSError as exc:
            self.unreadable(rel, exc)
            return
        if stat.S_ISREG(info.st_mode):
            self.files[rel] = info.st_size
        elif stat.S_ISLNK(info.st_mode):
            self.symlink(rel, full)
        elif stat.S_ISDIR(info.st_mode):
            self.skips.add(f"submodule or nested repository: {rel}/ (not scanned)")
        else:
            self.skips.add(f"not a regular file: {rel}")

    def symlink(self, rel: str, full: str) -> None:
        try:
            target = os.stat(full)
        except OSError as exc:
            kind = "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
            self.skips.add(f"{kind}: {rel}")
            return
        real = os.path.realpath(full)
        if real != self.root and not real.startswith(self.root + os.sep):
            self.skips.add(f"symlink out of the tree: {rel}")
        elif stat.S_ISDIR(target.st_mode):
            parent = os.path.realpath(os.path.dirname(full))
            loop = parent == real or parent.startswith(real + os.sep)
            self.skips.add(f"symlink loop: {rel}" if loop else f"symlink to a folder: {rel}")
        elif stat.S_ISREG(target.st_mode):
            self.files[rel] = target.st_size
        else:
            self.skips.add(f"not a regular file: {rel}")


def repository(root: Path) -> Git | None:
    """A Git for ``root`` when it lies inside a git work tree; None otherwise."""
    git = Git(root)
    try:
        result = git.run("rev-parse", "--is-inside-work-tree", check=False)
    except OSError:  # git itself is missing
        return None
    return git if result.returncode == 0 and result.stdout.strip() == b"true" else None


_GIT_WARNING = re.compile(r"could not open directory '(.+?)': (.+)")


def list_with_git(git: Git, scan: Scan, pool: ThreadPoolExecutor) -> bool:
    """List the files git does not ignore into ``scan``; False when git cannot list them."""
    ignored = pool.submit(
        git.run, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
        check=False,
    )  # fmt: skip
    listed = git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", check=False)
    if listed.returncode != 0:
        return False
    for match in _GIT_WARNING.finditer(listed.stderr.decode("utf-8", "replace")):
        scan.skips.add(f"unreadable: {match[1]} ({match[2].strip()})")
    entries = list(dict.fromkeys(os.fsdecode(p) for p in listed.stdout.split(b"\0") if p))
    skipped = _SkipRules(scan.root, (p for p in entries if p.rpartition("/")[2] == "pyvenv.cfg"))
    for rel in entries:
        folder = skipped.folder_of(rel)
        if folder is not None:
            scan.skips.add(folder)
        elif rel.endswith("/"):
            scan.skips.add(f"submodule or nested repository: {rel} (not scanned)")
        else:
            scan.add(rel)
    _note_ignored(_lines(ignored), skipped, scan.skips)
    return True


def _lines(job: Future[subprocess.CompletedProcess[bytes]]) -> list[str]:
    result = job.result()
    if result.returncode != 0:
        return []
    return [os.fsdecode(p) for p in result.stdout.split(b"\0") if p]


def _note_ignored(ignored: list[str], skipped: _SkipRules, skips: Skips) -> None:
    """Folders git ignores that are also skipped by name are named; the rest are counted."""
    files: list[str] = []
    folders: list[str] = []
    for rel in sorted(ignored):  # a folder's contents sort right after it
        if folders and rel.startswith(folders[-1]):
            continue  # git lists some files inside an ignored folder too
        folder = skipped.folder_of(rel)
        if folder is not None:
            skips.add(folder)
        elif rel.endswith("/"):
            reason = skipped.reason(rel.rstrip("/"))
            if reason:
                skips.add(f"{rel} ({reason})")
            else:
                folders.append(rel)
        else:
            files.append(rel)
    if files or folders:
        shown = [*folders, *files][:5]
        more = ", ..." if len(files) + len(folders) > 5 else ""
        counts = f"{_plural(len(files), 'file')} and {_plural(len(folders), 'folder')}"
        skips.add(f"git-ignored: {counts} ({', '.join(shown)}{more})")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _SkipRules:
    """Which folder of a path, if any, is skipped (by name, or as a virtualenv), and why."""

    def __init__(self, root: str, pyvenv_cfgs: Iterable[str] = ()) -> None:
        self.root = root
        self.venvs = {cfg.rpartition("/")[0] for cfg in pyvenv_cfgs if "/" in cfg}
        self._cache: dict[str, str | None] = {}

    def reason(self, folder: str) -> str | None:
        name = folder.rpartition("/")[2]
        if name in SKIP_DIRS:
            return SKIP_DIRS[name]
        if folder in self.venvs or os.path.isfile(os.path.join(self.root, folder, "pyvenv.cfg")):
            return _VENV
        return None

    def folder_of(self, rel: str) -> str | None:
        """``"<folder>/ (<reason>)"`` for the outermost skipped folder above ``rel``."""
        parent = rel.rstrip("/").rpartition("/")[0]
        if not parent:
            return None
        if parent not in self._cache:
            outer = self.folder_of(parent + "/")  # the parent's own ancestors first
            if outer is None:
                reason = self.reason(parent)
                outer = f"{parent}/ ({reason})" if reason else None
            self._cache[parent] = outer
        return self._cache[parent]


def walk(scan: Scan) -> None:
    """List every file under the root with os.scandir, never following symlinks."""
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(os.path.join(scan.root, folder)) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            scan.unreadable(f"{folder}/" if folder else ".", exc)
            continue
        if folder and any(entry.name == "pyvenv.cfg" for entry in entries):
            scan.skips.add(f"{folder}/ ({_VENV})")
            continue
        for entry in reversed(entries):  # popped in name order
            rel = f"{folder}/{entry.name}" if folder else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    reason = SKIP_DIRS.get(entry.name)
                    if reason:
                        scan.skips.add(f"{rel}/ ({reason})")
                    else:
                        pending.append(rel)
                elif entry.name != ".git":  # a worktree's .git file
                    scan.add(rel)
            except OSError as exc:
                scan.unreadable(rel, exc)
