"""Whether ``uet/<run>`` holds only the commits UET made.

A tool is arbitrary code, and so is anything else that can write the user's repository: one
``git update-ref refs/heads/uet/<run> <forged>`` and a commit UET never gated sits under every
patch that lands afterwards. So before it adds a commit, UET checks what is on the branch: the
history from the run's base commit to the head must be a chain (each commit has exactly one
parent, the one before it), and every commit in it must be vouched for by this run's ledger:

- it carries this run's ``Uet-Run`` trailer, the ``Uet-Task`` of its patch, and exactly one of
  ``Uet-Patch`` / ``Uet-Reverts-Patch``;
- the ledger records that commit for that patch (``commit_sha``, or ``revert_commit``), or, in
  the crash window between a commit and its ledger write, the patch is one the ledger knows as
  verified (dropped: a ``uet cancel`` came after the crash) and applying its diff to the
  commit's parent gives exactly the commit's tree (for a revert: the patch is committed, its
  commit is earlier on the chain, and applying that commit's inverse gives the tree).

Trailers alone prove nothing (anyone can type them); the ledger, or the tree, does. A commit
the ledger records as landed that is no longer on the branch is just as wrong: someone put the
branch back past UET's work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from core.adapters.git import Git, trailers
from core.engine.events import EventBus
from core.engine.recorder import Changes, Recorder
from core.errors import IntegrationTampered
from core.state import Ledger, PatchRow

log = logging.getLogger(__name__)

RUN_TRAILER = "Uet-Run"
TASK_TRAILER = "Uet-Task"
PATCH_TRAILER = "Uet-Patch"
REVERT_TRAILER = "Uet-Reverts-Patch"
GATES_TRAILER = "Uet-Gates"  # the blocking gates that passed on exactly the commit's tree
# States of a patch that may have landed in the crash window, before the ledger heard of it.
UNRECORDED_LANDING_STATES = frozenset({"verified", "dropped"})


@dataclass(frozen=True, slots=True)
class RecordedPatch:
    """What a run's ledger says of one of its patches."""

    patch_id: str
    task_id: str
    state: str
    commit: str | None
    revert_commit: str | None
    diff_path: str

    @classmethod
    def of(cls, row: PatchRow) -> RecordedPatch:
        return cls(
            row["patch_id"],
            row["task_id"],
            row["state"],
            row["commit_sha"],
            row["revert_commit"],
            row["diff_path"],
        )


class Provenance(Protocol):
    """Where the check learns which patches a run has and what became of them."""

    @property
    def run_id(self) -> str: ...

    def patch(self, patch_id: str) -> RecordedPatch | None:
        """The run's patch of that id, None when the run has none."""
        ...

    def landed_commits(self) -> Mapping[str, str]:
        """``{commit: patch_id}`` for every commit the ledger says is on the branch."""
        ...


class LedgerProvenance:
    """The run's own ledger, read fresh at each question (a rollback may have just landed)."""

    def __init__(self, ledger: Ledger, run_id: str) -> None:
        self.ledger = ledger
        self._run_id = run_id

    @property
    def run_id(self) -> str:
        return self._run_id

    def patch(self, patch_id: str) -> RecordedPatch | None:
        row = self.ledger.get_patch(patch_id)
        if row is None or row["run_id"] != self._run_id:
            return None
        return RecordedPatch.of(row)

    def landed_commits(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for row in self.ledger.list_patches(self._run_id):
            for commit in (row["commit_sha"], row["revert_commit"]):
                if commit and row["state"] in ("committed", "rolled_back"):
                    found[commit] = row["patch_id"]
        return found


@dataclass(frozen=True, slots=True)
class ChainCommit:
    sha: str
    parents: tuple[str, ...]
    tree: str
    trailers: dict[str, str]


# tree_of(parent, patch) -> the tree that applying the patch's diff to parent gives (None: it
# does not apply); reverted_tree(parent, commit) likewise with the inverse of commit.
AppliedTree = Callable[[str, RecordedPatch], str | None]
RevertedTree = Callable[[str, str], str | None]


def read_chain(git: Git, start: str, head: str) -> list[ChainCommit]:
    """The commits of ``start..head``, oldest first, with their parents, trees and trailers."""
    out = git.run("log", "--reverse", "--format=%H%x00%P%x00%T%x00%B%x00", f"{start}..{head}")
    fields = out.stdout.decode("utf-8", "replace").split("\0")
    chain = []
    for index in range(0, len(fields) - 3, 4):
        sha, parents, tree, body = fields[index : index + 4]
        chain.append(ChainCommit(sha.strip(), tuple(parents.split()), tree.strip(), trailers(body)))
    return chain


def check_chain(
    git: Git,
    branch: str,
    start: str,
    head: str,
    provenance: Provenance,
    *,
    applied_tree: AppliedTree,
    reverted_tree: RevertedTree,
    complete: bool,
) -> None:
    """Raise :class:`IntegrationTampered` unless ``start..head`` holds only UET's commits.

    ``complete``: ``start`` is the run's base, so every commit the ledger records as landed
    must be on the chain too.
    """
    if head == start:
        chain: list[ChainCommit] = []
    else:
        chain = read_chain(git, start, head)
        if not chain:
            _tampered(provenance, branch, head, f"it is no descendant of {start[:12]}", start, head)
    previous = start
    seen: set[str] = set()
    for commit in chain:
        why = _foreign(commit, previous, seen, provenance, applied_tree, reverted_tree)
        if why is not None:
            _tampered(provenance, branch, commit.sha, why, previous, head)
        seen.add(commit.sha)
        previous = commit.sha
    if previous != head:  # a chain that does not end at the head was not one chain
        _tampered(provenance, branch, head, "the history is not one line of commits", start, head)
    if complete:
        for landed, patch_id in provenance.landed_commits().items():
            if landed not in seen:
                why = f"the branch lost commit {landed[:12]} of patch {patch_id}"
                _tampered(provenance, branch, head, why, _last_vouched(chain, start), head)


def _foreign(
    commit: ChainCommit,
    parent: str,
    earlier: set[str],
    provenance: Provenance,
    applied_tree: AppliedTree,
    reverted_tree: RevertedTree,
) -> str | None:
    """Why ``commit`` (on top of ``parent``) is not UET's; None when it is."""
    if len(commit.parents) != 1:
        return f"it has {len(commit.parents)} parents"
    if commit.parents[0] != parent:
        return f"its parent is {commit.parents[0][:12]}, not {parent[:12]}"
    if commit.trailers.get(RUN_TRAILER) != provenance.run_id:
        return "it carries no Uet-Run trailer of this run"
    landing = commit.trailers.get(PATCH_TRAILER)
    reverting = commit.trailers.get(REVERT_TRAILER)
    if (landing is None) == (reverting is None):
        return "it names no single patch (Uet-Patch or Uet-Reverts-Patch)"
    patch_id = landing or reverting or ""
    patch = provenance.patch(patch_id)
    if patch is None:
        return f"it names patch {patch_id}, which this run does not have"
    if commit.trailers.get(TASK_TRAILER) != patch.task_id:
        return f"its Uet-Task is not {patch.task_id}, the task of patch {patch_id}"
    if landing is not None:
        if patch.commit == commit.sha:
            return None
        if patch.commit is None and patch.state in UNRECORDED_LANDING_STATES:
            if applied_tree(parent, patch) == commit.tree:
                return None
            return f"its tree is not patch {patch_id} applied to its parent"
        return f"the ledger does not record it as the landing of patch {patch_id}"
    if patch.revert_commit == commit.sha:
        return None
    if patch.state == "committed" and patch.commit in earlier:
        if reverted_tree(parent, patch.commit) == commit.tree:
            return None
        return f"its tree is not the revert of patch {patch_id}"
    return f"the ledger does not record it as the revert of patch {patch_id}"


def _last_vouched(chain: list[ChainCommit], start: str) -> str:
    return chain[-1].sha if chain else start


def _tampered(
    provenance: Provenance, branch: str, commit: str, why: str, last_good: str, head: str
) -> None:
    log.warning("%s holds commit %s UET did not make: %s", branch, commit[:12], why)
    raise IntegrationTampered(provenance.run_id, branch, commit, why, last_good, head)


def tampered_event(
    ch: Changes,
    error: IntegrationTampered,
    *,
    task_id: str | None = None,
    patch_id: str | None = None,
) -> None:
    """Record, in ``ch``'s transaction, that the run's branch was found tampered with."""
    ch.event(
        "integration.tampered",
        run_id=error.run_id,
        task_id=task_id,
        subject_id=patch_id,
        payload=error.payload(),
    )


def record_tampered(
    ledger: Ledger, error: IntegrationTampered, bus: EventBus | None = None
) -> None:
    """Record the ``integration.tampered`` event in a transaction of its own."""
    with Recorder(ledger, bus).transaction() as ch:
        tampered_event(ch, error)


__all__ = [
    "LedgerProvenance",
    "Provenance",
    "RecordedPatch",
    "check_chain",
    "read_chain",
    "record_tampered",
    "tampered_event",
]
