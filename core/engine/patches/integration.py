"""The integration branch: landing verified patches one at a time, each as its own commit.

Patches land on ``uet/<run-id>`` through git plumbing and a private index file: ``apply
--cached --3way`` onto the branch's tree, ``write-tree``, ``commit-tree``, then ``update-ref``
from the old head to the new commit. No checkout is involved, so the user's working tree and
branch are never touched, and the compare-and-swap on the ref means a concurrent rollback and
a landing can never lose each other's commit.

Each commit's message carries ``Uet-Run``, ``Uet-Task`` and ``Uet-Patch`` trailers. After a
crash between the commit and the ledger write, :func:`landed_patches` reads them back, so
resume marks the patch committed instead of landing it twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.adapters.git import Git, commits_with_trailer

log = logging.getLogger(__name__)

RUN_TRAILER = "Uet-Run"
TASK_TRAILER = "Uet-Task"
PATCH_TRAILER = "Uet-Patch"
REVERT_TRAILER = "Uet-Reverts-Patch"
_CAS_TRIES = 5


def branch_name(run_id: str) -> str:
    return f"uet/{run_id}"


@dataclass(frozen=True, slots=True)
class Landing:
    """How one attempt to land a patch ended: ``commit`` on success, else ``conflict``."""

    commit: str | None
    head: str  # the branch head it was applied onto
    conflict: str | None = None

    @property
    def landed(self) -> bool:
        return self.commit is not None


class IntegrationBranch:
    """One run's integration branch, written only through :meth:`land` and :meth:`revert`."""

    def __init__(self, git: Git, branch: str) -> None:
        self.git = git
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self._index_dir = git.common_dir()
        self._index: Path | None = None  # private index; equals the tree of _index_head
        self._index_head: str | None = None

    def create(self, start: str) -> None:
        """Create the branch at ``start``; refuses a branch of that name that already exists."""
        current = self.git.rev_parse(self.ref)
        if current is not None:
            raise ValueError(f"branch {self.branch} already exists at {current[:12]}")
        self.git.run("update-ref", "-m", "uet: integration branch", self.ref, start, "")

    def ensure(self, start: str) -> bool:
        """Create the branch at ``start`` unless it exists (whatever it holds); True if made."""
        if self.git.rev_parse(self.ref) is not None:
            return False
        self.create(start)
        return True

    def head(self) -> str:
        head = self.git.rev_parse(self.ref)
        if head is None:
            raise ValueError(f"integration branch {self.branch} is missing")
        return head

    def land(self, diff_path: Path, message: str) -> Landing:
        """Apply the diff at ``diff_path`` onto the branch head and commit it there."""
        for _ in range(_CAS_TRIES):
            head = self.head()
            conflict = self._apply(head, ["apply", "--cached", "--3way", str(diff_path)])
            if conflict is not None:
                return Landing(None, head, conflict)
            commit = self._commit(head, message)
            if commit is not None:
                return Landing(commit, head)
        raise RuntimeError(f"{self.branch} kept moving while landing; try again")

    def revert(self, commit: str, message: str) -> Landing:
        """Commit the inverse of ``commit`` on top of the branch head."""
        reverse = self.git.run(
            "diff-tree", "-p", "--binary", "--full-index", "-R", f"{commit}^", commit
        ).stdout
        with tempfile.NamedTemporaryFile(
            "wb", suffix=".diff", dir=self._index_dir, delete=False
        ) as handle:
            handle.write(reverse)
        try:
            return self.land(Path(handle.name), message)
        finally:
            os.unlink(handle.name)

    def close(self) -> None:
        if self._index is not None:
            with contextlib.suppress(FileNotFoundError):
                self._index.unlink()
            self._index = None

    # -- internals -----------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        if self._index is None:
            fd, name = tempfile.mkstemp(prefix="uet-index-", dir=self._index_dir)
            os.close(fd)
            os.unlink(name)  # git writes it fresh; an empty file is not a valid index
            self._index = Path(name)
        return {"GIT_INDEX_FILE": str(self._index)}

    def _apply(self, head: str, apply_args: list[str]) -> str | None:
        env = self._env()
        if self._index_head != head:
            self.git.run("read-tree", head, env=env)
            self._index_head = head
        result = self.git.run(*apply_args, env=env, check=False)
        if result.returncode != 0:
            self._index_head = None  # the index holds a half-applied patch now
            lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
            useful = [line for line in lines if line.startswith(("error", "U "))] or lines
            return "; ".join(useful[:4]) or f"git apply exited with {result.returncode}"
        return None

    def _commit(self, head: str, message: str) -> str | None:
        env = self._env()
        tree = self.git.text("write-tree", env=env)
        commit = (
            self.git.run(
                "commit-tree", tree, "-p", head, "-F", "-", data=message.encode("utf-8"), env=env
            )
            .stdout.decode()
            .strip()
        )
        if self.git.update_ref(self.ref, commit, head, "uet: land patch"):
            self._index_head = commit
            return commit
        self._index_head = None  # someone else moved the branch: start again from its head
        return None


def commit_message(
    subject: str, run_id: str, task_id: str, patch_id: str, body: str | None = None
) -> str:
    lines = [subject, ""]
    if body:
        lines += [body, ""]
    lines += [
        f"{RUN_TRAILER}: {run_id}",
        f"{TASK_TRAILER}: {task_id}",
        f"{PATCH_TRAILER}: {patch_id}",
    ]
    return "\n".join(lines) + "\n"


def landed_patches(git: Git, branch: str, base: str | None) -> dict[str, str]:
    """``{patch_id: commit}`` for every patch commit on ``branch`` since ``base``."""
    if git.rev_parse(f"refs/heads/{branch}") is None:
        return {}
    return commits_with_trailer(git, f"refs/heads/{branch}", PATCH_TRAILER, base)
