"""The merge queue: verified patches land in order, each on a tree its gates passed on.

A patch is verified on the integration head its attempt started from. By the time it lands,
other patches may have landed before it; applying it then gives a tree no gate has seen. The
queue holds every verified patch until a gate run has passed on exactly the tree it will land
as (the "not rocket science" rule of bors and Zuul):

- The queue builds a speculative chain from the integration head: item 1's tree is head +
  patch 1, item 2's is that + patch 2, and so on, within the window (:mod:`.window`).
- An item whose tree its blocking gates have already passed on (its attempt's copy, when
  nothing landed meanwhile; an earlier combination after a restart) needs nothing more.
  Others are gated again on their tree, in parallel, in a private copy each (:class:`QueueJob`):
  only the blocking gates that judge the whole tree (``"scope": "patch"`` gates judged the
  change already, and the change has not changed).
- The front item lands as soon as its tree has passed: the commit's tree is the one gated.
- An item that fails on its tree drops out of the chain at once: the items behind it are
  built again without it (and gated again: their trees changed). It is ejected when every item
  ahead of it has landed, since only then is its failing tree head + its patch exactly. Should
  an item ahead be ejected instead, its tree changes and it is gated again on the new one.
- An item that does not apply on the items ahead waits until they land; one that does not apply
  on the integration head itself is a conflict, handed back like an ejection.

The queue never writes the ledger: the orchestrator records what :meth:`MergeQueue.plan` and
:meth:`MergeQueue.gated` report. What it knows is rebuilt from the ledger on resume (verified
patches, and the trees their gates passed on).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.engine.gates import GateDefinition, GateRun
from core.engine.patches.integration import IntegrationBranch
from core.engine.patches.setup import SetupStep
from core.engine.queue.window import Window
from core.ids import new_id
from core.state import PatchRow


@dataclass(eq=False)
class Item:
    """One verified patch waiting to land."""

    patch: PatchRow
    task_id: str
    gates: tuple[GateDefinition, ...]  # what is gated again on a combination
    blocking: tuple[str, ...] = ()  # every blocking gate of its task (the Uet-Gates trailer)
    setup: tuple[SetupStep, ...] = ()  # its task's setup steps, run before gating a copy
    failure: str | None = None  # why its last gate run could not run at all
    feedback: str | None = None  # what its last failing gate run said (for the next attempt)
    verdict: str | None = None  # which gates blocked it there, in a line
    passed: set[str] = field(default_factory=set)  # trees all of ``gates`` passed on
    failed: str | None = None  # the tree it last failed on
    tree: str | None = None  # its tree on the current chain (None: not built: waiting)
    ahead: tuple[str, ...] = ()  # patch ids under it on the current chain
    job: QueueJob | None = None  # the gate run in flight for it

    @property
    def patch_id(self) -> str:
        return self.patch["patch_id"]

    @property
    def ready(self) -> bool:
        """Its tree on the current chain has passed (or there is nothing to gate)."""
        return self.tree is not None and (not self.gates or self.tree in self.passed)

    @property
    def failing(self) -> bool:
        return self.tree is not None and self.tree == self.failed


@dataclass(eq=False)
class QueueJob:
    """Gate ``item`` on ``tree`` (checked out from ``commit``, a commit no ref points at)."""

    id: str
    item: Item
    tree: str
    commit: str
    ahead: tuple[str, ...]
    canceled: bool = False  # its tree left the chain: stop after the current gate
    runs: list[GateRun] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every gate ran on exactly ``tree`` and none blocked."""
        return len(self.runs) == len(self.item.gates) and all(
            run.decision != "block" and run.tree == self.tree for run in self.runs
        )

    def document(self) -> dict[str, Any]:
        return {
            "tree": self.tree,
            "ahead": list(self.ahead),
            "gates": [g.name for g in self.item.gates],
        }


@dataclass(frozen=True)
class Plan:
    """What the queue can do now. At most one of ``land`` and ``conflict``; ``jobs`` to start."""

    land: Item | None = None
    parent: str | None = None  # the head ``land`` goes on
    conflict: tuple[Item, str] | None = None  # the front item does not apply on the head
    eject: Item | None = None  # the front item failed on exactly head + its patch
    jobs: tuple[QueueJob, ...] = ()


class MergeQueue:
    def __init__(self, branch: IntegrationBranch, window: Window) -> None:
        self.branch = branch
        self.window = window
        self.items: list[Item] = []
        # (parent tree, patch id) -> (tree, conflict): applying is deterministic.
        self._combined: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._head_tree: tuple[str, str] | None = None  # (commit, its tree)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    @property
    def in_flight(self) -> int:
        """Gate runs going on (each takes a worker slot)."""
        return sum(1 for item in self.items if item.job is not None)

    def add(self, item: Item) -> int:
        """Queue ``item`` behind the others; its position (1 is the front)."""
        self.items.append(item)
        return len(self.items)

    def remove(self, item: Item) -> None:
        self.items.remove(item)
        if item.job is not None:
            item.job.canceled = True
            item.job = None

    def plan(self, head: str) -> Plan:
        """Build the chain on ``head`` (the branch head) and say what to do next."""
        self._chain(head)
        jobs: list[QueueJob] = []
        for item in self.items[: self.window.size]:
            if item.tree is None:
                break
            if item.ready or item.failing:
                continue
            if item.job is not None and item.job.tree == item.tree:
                continue  # already being gated on this tree
            if item.job is not None:
                item.job.canceled = True  # on a tree that left the chain
            parent = self._commit_for(head, item)
            item.job = QueueJob(new_id(), item, item.tree, parent, item.ahead)
            jobs.append(item.job)
        front = self.items[0] if self.items else None
        if front is None:
            return Plan(jobs=tuple(jobs))
        if front.tree is None:  # it does not apply on the head itself
            _, conflict = self._combine(self._tree(head), front)
            return Plan(conflict=(front, conflict or "does not apply"), jobs=tuple(jobs))
        if front.failing:
            return Plan(eject=front, jobs=tuple(jobs))
        if front.ready:
            return Plan(land=front, parent=head, jobs=tuple(jobs))
        return Plan(jobs=tuple(jobs))

    def gated(self, job: QueueJob) -> bool:
        """Take a finished gate run in: True when it passed. A run on a tree that left the
        chain still counts (gate results are facts about a tree), but ejects nothing."""
        item = job.item
        if item.job is job:
            item.job = None
        if job.passed:
            item.passed.add(job.tree)
            return True
        if not job.canceled:
            item.failed = job.tree
            self.window.failed()
        return False

    def landed(self, item: Item) -> None:
        self.remove(item)
        self.window.landed()

    def stale_jobs(self) -> list[QueueJob]:
        """Gate runs whose tree is no longer on the chain (to stop early)."""
        return [item.job for item in self.items if item.job and item.job.tree != item.tree]

    # -- the chain -----------------------------------------------------------------------------

    def _chain(self, head: str) -> None:
        parent = self._tree(head)
        ahead: list[str] = []
        building = True
        for position, item in enumerate(self.items):
            if not building or position >= self.window.size:
                item.tree, item.ahead = None, ()
                continue
            tree, _ = self._combine(parent, item)
            item.tree, item.ahead = tree, tuple(ahead)
            if tree is None:  # it may apply once the items ahead have landed: wait
                building = False
                continue
            if item.failing:
                continue  # out of the chain: the items behind are built without it
            ahead.append(item.patch_id)
            parent = tree

    def _combine(self, parent: str, item: Item) -> tuple[str | None, str | None]:
        key = (parent, item.patch_id)
        if key not in self._combined:
            self._combined[key] = self.branch.combine(parent, Path(item.patch["diff_path"]))
        return self._combined[key]

    def _tree(self, commit: str) -> str:
        if self._head_tree is None or self._head_tree[0] != commit:
            self._head_tree = (commit, self.branch.tree_of(commit))
        return self._head_tree[1]

    def _commit_for(self, head: str, item: Item) -> str:
        assert item.tree is not None  # noqa: S101 - only built items are gated
        ahead = ", ".join(item.ahead) or "nothing"
        message = f"uet: merge queue combination for patch {item.patch_id} (on {ahead})"
        return self.branch.scratch_commit(item.tree, head, message)


def passed_trees(
    results: Iterable[tuple[str | None, str, str]], gates: Sequence[GateDefinition]
) -> set[str]:
    """The trees on which every one of ``gates`` passed, from ``(tree, gate, state)``
    results (gate_results rows or the runs of an attempt)."""
    needed = {gate.name for gate in gates}
    by_tree: dict[str, set[str]] = {}
    for tree, gate, state in results:
        if tree and state == "passed":
            by_tree.setdefault(tree, set()).add(gate)
    return {tree for tree, names in by_tree.items() if needed <= names}


__all__ = ["Item", "MergeQueue", "Plan", "QueueJob", "passed_trees"]
