"""Turning whatever a tool changed in its attempt's copy into a patch.

``git add -A`` stages everything (new, deleted, renamed, mode changes, binary files; ignored
files stay out) in UET's own index for the copy, then one ``git diff --cached`` against the
base commit prints the summaries and the patch together. Committed changes count too: a tool
that ran ``git commit`` in its copy still produces a diff against the base.

git is pointed at UET's own git directory for the copy explicitly (``--git-dir``, see
:mod:`core.engine.patches.copies`), never at the copy's ``.git``, which is the tool's.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.adapters.git import Git
from core.engine.patches.diff import SYMLINK_MODE, DiffFormatError, parse
from core.errors import GitFailed

DIFF_ARGS = (
    "diff",
    "--cached",
    "-z",
    "--raw",
    "--numstat",
    "--patch",
    "--binary",
    "--full-index",
    "--find-renames",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--ignore-submodules=none",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


class CaptureFailed(Exception):
    """The copy could not be read back (the tool deleted or broke it)."""


@dataclass(frozen=True)
class CapturedPatch:
    base_commit: str
    diff: bytes
    sha256: str
    files: list[dict[str, Any]]
    stats: dict[str, int]
    # Where each new or changed symlink points, read from the copy (for the policy check).
    symlink_targets: dict[str, str] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return len(self.diff)


def capture(git: Git, worktree: Path, admin: Path, base_commit: str) -> CapturedPatch | None:
    """The change in ``worktree`` (an attempt's copy) against ``base_commit``, read through
    the git directory ``admin``, or None when nothing changed."""
    if not worktree.is_dir() or worktree.is_symlink():
        raise CaptureFailed(f"the attempt's copy {worktree} is gone (the tool deleted it)")
    if not admin.is_dir():
        raise CaptureFailed(f"UET's git directory of the copy ({admin}) is gone")
    where = (f"--git-dir={admin}", f"--work-tree={worktree}")
    try:
        git.run(*where, "add", "--all", cwd=worktree)
        output = git.run(*where, *DIFF_ARGS, base_commit, cwd=worktree).stdout
    except GitFailed as exc:
        raise CaptureFailed(f"cannot read the copy's changes: {exc}") from exc
    if not output:
        return None
    try:
        parsed = parse(output)
    except DiffFormatError as exc:
        raise CaptureFailed(f"cannot read git's diff output: {exc}") from exc
    if not parsed.files:
        return None
    targets: dict[str, str] = {}
    for entry in parsed.files:
        if entry["new_mode"] == SYMLINK_MODE:  # a symlink after the change: where it points
            try:
                targets[entry["path"]] = os.readlink(worktree / entry["path"])
            except OSError:
                targets[entry["path"]] = ""
    return CapturedPatch(
        base_commit=base_commit,
        diff=parsed.patch,
        sha256=hashlib.sha256(parsed.patch).hexdigest(),
        files=parsed.files,
        stats=parsed.stats,
        symlink_targets=targets,
    )
