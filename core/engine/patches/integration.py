"""The integration branch: landing verified patches one at a time, each as its own commit.

Patches land on ``uet/<run-id>`` through git plumbing alone: ``apply --cached --3way`` onto
the branch's tree in a private index, ``write-tree``, ``commit-tree``, then ``update-ref``
from the old head to the new commit. Nothing of the user's is involved: the index file and the
work tree git is given (``GIT_INDEX_FILE``, ``GIT_WORK_TREE``: an empty scratch folder, which
is where ``--3way`` writes a file both sides created) live in UET's own folder for the run
(``<UET_WORKTREES>/<repo-key>/<run>/.integration``), never in the user's checkout or ``.git``.
So an untracked or modified file of the user's cannot change or stop a landing, and a kill -9
leaves nothing in ``.git`` but objects and the ``uet/*`` ref. The compare-and-swap on the ref
means a concurrent rollback and a landing can never lose each other's commit.

Each commit's message carries ``Uet-Run``, ``Uet-Task`` and ``Uet-Patch`` trailers. After a
crash between the commit and the ledger write, :func:`landed_patches` reads them back, so
resume marks the patch committed instead of landing it twice.

The branch is UET's alone: before it lands anything, :class:`IntegrationBranch` checks that
the head is the one it last saw or made, or that every commit since is one the run's ledger
vouches for (:mod:`core.engine.patches.provenance`); anything else raises
:class:`~core.errors.IntegrationTampered` and nothing is built on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.adapters.git import Git, commits_with_trailer, user_identity
from core.engine.patches.copies import repo_key, worktrees_home
from core.engine.patches.provenance import (
    GATES_TRAILER,
    PATCH_TRAILER,
    REVERT_TRAILER,
    RUN_TRAILER,
    TASK_TRAILER,
    Provenance,
    RecordedPatch,
    check_chain,
)
from core.errors import IntegrationTampered

log = logging.getLogger(__name__)

SCRATCH_DIRNAME = ".integration"
AUTHOR_VAR = "UET_COMMIT_AUTHOR"  # "user" (default) or "uet": who authors landed commits
_CAS_TRIES = 5


def branch_name(run_id: str) -> str:
    return f"uet/{run_id}"


def run_folder(repo: Path, run_id: str) -> Path:
    """UET's own folder for one run of ``repo`` (beside its attempts' copies; never ``.git``)."""
    return worktrees_home() / repo_key(repo) / run_id


def integration_folder(repo: Path, run_id: str) -> Path:
    """Where a run's landing files live: private indexes, scratch work trees, `uet land`'s
    journal."""
    return run_folder(repo, run_id) / SCRATCH_DIRNAME


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
    """One run's integration branch, written only through :meth:`land` and :meth:`revert`.

    ``base``: the run's base commit (where a full history check starts); ``provenance``: the
    run's ledger as the check reads it. Without a provenance the branch trusts the head it
    finds first and nothing after: any move it did not make itself is foreign.
    """

    def __init__(
        self,
        git: Git,
        branch: str,
        *,
        folder: Path | None = None,
        base: str | None = None,
        provenance: Provenance | None = None,
    ) -> None:
        self.git = git
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self.base = base
        self.provenance = provenance
        self._default_folder = folder is None
        self.folder = folder or integration_folder(git.repo, branch.removeprefix("uet/"))
        self._known: str | None = None  # the head this object last checked or made
        self._git_dir: str | None = None
        self._index: Path | None = None  # private index; equals the tree of _index_head
        self._work: Path | None = None  # the empty scratch work tree
        self._index_head: str | None = None
        self._author_env: dict[str, str] | None = None  # read once, on the first commit

    def create(self, start: str) -> None:
        """Create the branch at ``start``; refuses a branch of that name that already exists."""
        current = self.git.rev_parse(self.ref)
        if current is not None:
            raise ValueError(f"branch {self.branch} already exists at {current[:12]}")
        self.git.run("update-ref", "-m", "uet: integration branch", self.ref, start, "")
        self._known = start

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

    def open(self) -> None:
        """Ready the branch for this process: make the scratch folder now, before any tool of
        the run starts (the guard around the run's folder then sees it as UET's), and check
        the whole history from the base (:meth:`verify`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.verify()

    def verify(self) -> str:
        """The head, once the history from the base up to it is checked to be UET's alone."""
        head = self.head()
        if self.provenance is None or self.base is None:
            raise ValueError(f"{self.branch}: a full check needs the run's base and ledger")
        self._check(self.base, head, complete=True)
        self._known = head
        return head

    def land(self, diff_path: Path, message: str) -> Landing:
        """Apply the diff at ``diff_path`` onto the branch head and commit it there."""
        diff = str(Path(diff_path).resolve())  # git runs in the scratch folder, not here
        for _ in range(_CAS_TRIES):
            head = self._trusted_head()
            conflict = self._apply(head, ["apply", "--cached", "--3way", diff])
            if conflict is not None:
                return Landing(None, head, conflict)
            commit = self._commit(head, message)
            if commit is not None:
                return Landing(commit, head)
        raise RuntimeError(f"{self.branch} kept moving while landing; try again")

    def land_tree(self, tree: str, parent: str, message: str) -> Landing:
        """Commit ``tree`` on the branch, on top of ``parent``, when the branch head is still
        ``parent``: the merge queue lands exactly the tree its gates passed on. A head that
        moved meanwhile gives a Landing with neither commit nor conflict (plan again)."""
        head = self._trusted_head()
        if head != parent:
            return Landing(None, head)
        commit = self._git(
            "commit-tree", tree, "-p", head, "-F", "-", data=message.encode(), env=self._author()
        )
        if not self.git.update_ref(self.ref, commit, head, "uet: land patch"):
            return Landing(None, self.head())
        self._known = commit
        return Landing(commit, head)

    def combine(self, parent: str, diff_path: Path) -> tuple[str | None, str | None]:
        """``(tree, None)``: the tree that applying the diff at ``diff_path`` to the tree-ish
        ``parent`` gives, the way :meth:`land` applies it; ``(None, conflict)`` when it does
        not apply there. Nothing is committed and no ref moves."""
        diff = str(Path(diff_path).resolve())
        conflict = self._apply(parent, ["apply", "--cached", "--3way", diff])
        if conflict is not None:
            return None, conflict
        tree = self._git("write-tree")
        self._index_head = None  # the index holds parent + diff now, which is no head
        return tree, None

    def scratch_commit(self, tree: str, parent: str, message: str) -> str:
        """A commit of ``tree`` on ``parent`` that no ref points at: what a copy of a merge
        queue combination is checked out from."""
        return self._git("commit-tree", tree, "-p", parent, "-m", message)

    def tree_of(self, commit: str) -> str:
        return self.git.text("rev-parse", f"{commit}^{{tree}}")

    def revert(self, commit: str, message: str) -> Landing:
        """Commit the inverse of ``commit`` on top of the branch head."""
        reverse = self._reverse_diff(commit)
        try:
            return self.land(reverse, message)
        finally:
            reverse.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove this object's private index and scratch work tree (and the folder, once
        nothing else is in it)."""
        if self._index is not None:
            with contextlib.suppress(FileNotFoundError):
                self._index.unlink()
            self._index = None
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None
        self._index_head = None
        chain = [self.folder]
        if self._default_folder:  # <home>/<repo-key>/<run>/.integration: up to the repo key
            chain += [self.folder.parent, self.folder.parent.parent]
        for folder in chain:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break

    # -- the branch is UET's -------------------------------------------------------------------

    def _trusted_head(self) -> str:
        """The branch head, once it is known to hold only UET's commits."""
        head = self.head()
        if head == self._known:
            return head
        if self.provenance is None:
            if self._known is None:  # nothing to check against: start from what is there
                self._known = head
                return head
            raise IntegrationTampered(
                self.branch.removeprefix("uet/"),
                self.branch,
                head,
                f"it moved from {self._known[:12]} to {head[:12]} outside this process",
                self._known,
                head,
            )
        if self._known is None:
            if self.base is None:
                raise ValueError(f"{self.branch}: a full check needs the run's base")
            self._check(self.base, head, complete=True)
        else:  # moved since: a rollback, or another UET process; the ledger must vouch for it
            self._check(self._known, head, complete=False)
        self._known = head
        return head

    def _check(self, start: str, head: str, *, complete: bool) -> None:
        assert self.provenance is not None  # noqa: S101 - callers check
        check_chain(
            self.git,
            self.branch,
            start,
            head,
            self.provenance,
            applied_tree=self._applied_tree,
            reverted_tree=self._reverted_tree,
            complete=complete,
        )

    def _applied_tree(self, parent: str, patch: RecordedPatch) -> str | None:
        if not Path(patch.diff_path).is_file():
            return None
        return self._tree_after(parent, str(Path(patch.diff_path).resolve()))

    def _reverted_tree(self, parent: str, commit: str) -> str | None:
        reverse = self._reverse_diff(commit)
        try:
            return self._tree_after(parent, str(reverse))
        finally:
            reverse.unlink(missing_ok=True)

    def _tree_after(self, parent: str, diff: str) -> str | None:
        """The tree that applying ``diff`` to ``parent`` gives, the way :meth:`land` would."""
        return self.combine(parent, Path(diff))[0]

    # -- internals -----------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        if self._git_dir is None:
            self._git_dir = self.git.text("rev-parse", "--absolute-git-dir")
        if self._index is None or self._work is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="index-", dir=self.folder)
            os.close(fd)
            os.unlink(name)  # git writes it fresh; an empty file is not a valid index
            self._index = Path(name)
            self._work = Path(tempfile.mkdtemp(prefix="work-", dir=self.folder))
        return {
            "GIT_DIR": self._git_dir,
            "GIT_WORK_TREE": str(self._work),
            "GIT_INDEX_FILE": str(self._index),
        }

    def _git(
        self, *args: str, data: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        result = self.git.run(*args, data=data, env={**self._env(), **(env or {})}, cwd=self._work)
        return result.stdout.decode("utf-8", "replace").strip()

    def _apply(self, head: str, apply_args: list[str]) -> str | None:
        env = self._env()
        self._empty_scratch()
        if self._index_head != head:
            self.git.run("read-tree", head, env=env, cwd=self._work)
            self._index_head = head
        result = self.git.run(*apply_args, env=env, cwd=self._work, check=False)
        self._empty_scratch()
        if result.returncode != 0:
            self._index_head = None  # the index holds a half-applied patch now
            lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
            useful = [line for line in lines if line.startswith(("error", "U "))] or lines
            return "; ".join(useful[:4]) or f"git apply exited with {result.returncode}"
        return None

    def _empty_scratch(self) -> None:
        """``--3way`` writes files into the work tree it is given; keep ours empty so what one
        landing left cannot be mistaken for content by the next."""
        work = self._work
        if work is None:
            return
        with os.scandir(work) as entries:
            leftovers = [Path(entry.path) for entry in entries]
        for path in leftovers:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _commit(self, head: str, message: str) -> str | None:
        tree = self._git("write-tree")
        commit = self._git(
            "commit-tree", tree, "-p", head, "-F", "-", data=message.encode(), env=self._author()
        )
        if self.git.update_ref(self.ref, commit, head, "uet: land patch"):
            self._index_head = commit
            self._known = commit
            return commit
        self._index_head = None  # someone else moved the branch: start again from its head
        return None

    def _author(self) -> dict[str, str]:
        """Who a landed commit is authored by: the user, under the identity they configured
        (UET stays the committer), unless ``UET_COMMIT_AUTHOR=uet`` or the environment names
        an author itself."""
        if self._author_env is None:
            wanted = os.environ.get(AUTHOR_VAR, "user")
            explicit = "GIT_AUTHOR_NAME" in os.environ or "GIT_AUTHOR_EMAIL" in os.environ
            self._author_env = {} if wanted == "uet" or explicit else user_identity(self.git)
        return self._author_env

    def _reverse_diff(self, commit: str) -> Path:
        reverse = self.git.run(
            "diff-tree", "-p", "--binary", "--full-index", "-R", f"{commit}^", commit
        ).stdout
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "wb", prefix="revert-", suffix=".diff", dir=self.folder, delete=False
        ) as handle:
            handle.write(reverse)
        return Path(handle.name)


def commit_message(
    subject: str,
    run_id: str,
    task_id: str,
    patch_id: str,
    body: str | None = None,
    gates: str | None = None,
) -> str:
    """The message of a landed commit: ``subject``, ``body``, then UET's trailers
    (``gates``: the ``Uet-Gates`` value, see :func:`gates_trailer`)."""
    lines = [subject, ""]
    if body:
        lines += [body, ""]
    lines += [
        f"{RUN_TRAILER}: {run_id}",
        f"{TASK_TRAILER}: {task_id}",
        f"{PATCH_TRAILER}: {patch_id}",
    ]
    if gates is not None:
        lines.append(f"{GATES_TRAILER}: {gates}")
    return "\n".join(lines) + "\n"


def gates_trailer(results: Mapping[str, str]) -> str:
    """``unit=passed, lint=passed``: each blocking gate and how it ended on the commit's
    tree; ``none`` when the patch has no blocking gate."""
    return ", ".join(f"{name}={state}" for name, state in sorted(results.items())) or "none"


def landed_patches(git: Git, branch: str, base: str | None) -> dict[str, str]:
    """``{patch_id: commit}`` for every patch commit on ``branch`` since ``base``."""
    if git.rev_parse(f"refs/heads/{branch}") is None:
        return {}
    return commits_with_trailer(git, f"refs/heads/{branch}", PATCH_TRAILER, base)


__all__ = [
    "GATES_TRAILER",
    "PATCH_TRAILER",
    "REVERT_TRAILER",
    "RUN_TRAILER",
    "TASK_TRAILER",
    "IntegrationBranch",
    "Landing",
    "branch_name",
    "commit_message",
    "gates_trailer",
    "integration_folder",
    "landed_patches",
    "run_folder",
]
