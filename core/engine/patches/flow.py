"""The patch-first side of a run, as the orchestrator drives it.

:class:`PatchFlow` owns a run's repository, integration branch and private copies. The orchestrator
asks it to prepare a writing attempt (thread of the orchestrator), to execute it (worker
thread), to record what came of it (inside the orchestrator's transaction), and to land
verified patches (one at a time, between transactions). Task transitions stay with the
orchestrator: this module only knows patches.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.adapters.git import Git, open_repository
from core.engine import faults
from core.engine.execution.command import ProcessTable, run_command
from core.engine.execution.outcome import Outcome
from core.engine.execution.sandbox import Confinement, Isolation, detect
from core.engine.gates import GateDefinition, GateRun, declared_in, run_gate
from core.engine.patches.attempt import (
    VERIFIED,
    PatchOutcome,
    WriteSpec,
    guarded_gate,
    run_writing_attempt,
)
from core.engine.patches.copies import Copies, Copy, exclude_from_status
from core.engine.patches.guard import RepoGuard
from core.engine.patches.integration import (
    IntegrationBranch,
    Landing,
    commit_message,
    gates_trailer,
    landed_patches,
)
from core.engine.patches.policy import Policy
from core.engine.patches.provenance import LedgerProvenance, record_tampered
from core.engine.patches.records import record_patch
from core.engine.patches.setup import (
    SetupFailed,
    SetupStep,
    cache_env,
    cache_root,
    run_setup,
    steps_of,
)
from core.engine.queue import Item, QueueJob
from core.engine.recorder import Changes
from core.errors import IntegrationBranchMissing, IntegrationTampered
from core.secrets import Redactor
from core.state import Ledger, PatchRow, RunRow

log = logging.getLogger(__name__)

FAILED_PATCH_STATES = ("rejected", "quarantined", "apply_failed")
QUARANTINE_DIRNAME = ".quarantine"
QUEUE_COPY_PREFIX = "queue-"  # copies of merge queue combinations: queue-<job id>


class PatchFlow:
    def __init__(
        self,
        ledger: Ledger,
        run: RunRow,
        *,
        processes: ProcessTable,
        logs_dir: Path,
        keep_worktrees: bool,
        log_max_bytes: int,
        kill_grace: float,
        isolation: Isolation | None = None,
        writable: tuple[Path, ...] = (),
    ) -> None:
        if run["repo"] is None or run["integration_branch"] is None or not run["base_commit"]:
            raise ValueError(f"run {run['run_id']} has no repository")
        self.run_id = run["run_id"]
        self.git: Git = open_repository(Path(run["repo"]))
        self.base_commit: str = run["base_commit"]
        self.branch = IntegrationBranch(
            self.git,
            run["integration_branch"],
            base=self.base_commit,
            provenance=LedgerProvenance(ledger, self.run_id),
        )
        if self.git.rev_parse(self.branch.ref) is None:
            # A crash right after the run was recorded leaves no branch yet: make it. One that
            # held landed patches must not silently start again from the base.
            committed = len(ledger.list_patches(self.run_id, state="committed"))
            if committed:
                raise IntegrationBranchMissing(self.run_id, self.branch.branch, committed)
            self.branch.create(self.base_commit)
        try:  # nothing runs or lands on a branch holding commits UET did not make
            self.branch.open()
        except IntegrationTampered as exc:
            record_tampered(ledger, exc)
            raise
        self.worktrees = Copies(self.git, self.run_id)
        self.isolation = isolation or detect()
        self.writable = writable  # more paths tools and gates may write (a package cache)
        common = self.git.common_dir()
        self._readable = (self.git.repo, common)
        # UET's folders inside the project stay out of `git status`: the copies' links, and
        # the ledger (logs, patches) when it is kept there.
        exclude_from_status(
            common, self.git.repo, [self.worktrees.links.parent, ledger.artifacts_dir]
        )
        self.guard = RepoGuard(
            common, self.worktrees.home, self.worktrees.root, self.worktrees.live
        )
        self.patches_dir = ledger.artifacts_dir / "patches"
        self.quarantine_dir = ledger.artifacts_dir / QUARANTINE_DIRNAME
        self.logs_dir = logs_dir
        self.processes = processes
        self.keep_worktrees = keep_worktrees
        self.log_max_bytes = log_max_bytes
        self.kill_grace = kill_grace
        self.gates = declared_in(run["workstreams"])
        self.head = self.branch.head()
        self.queued: Callable[[], int] = lambda: 0  # patches waiting to land (the queue's)
        # Earlier failed patches per task, oldest first: the oscillation check's memory.
        self._failed: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for patch in ledger.list_patches(self.run_id):
            if patch["state"] in FAILED_PATCH_STATES:
                self._failed[patch["task_id"]].append((patch["sha256"], patch["patch_id"]))
        # Copies of attempts a crash interrupted are of no use to anyone.
        for attempt in ledger.list_attempts(self.run_id, state="interrupted"):
            leftover = Path(attempt["worktree"] or "")
            if leftover.is_relative_to(self.worktrees.root) and leftover != self.worktrees.root:
                self.worktrees.remove(leftover)
        for leftover in self.worktrees.root.glob(f"{QUEUE_COPY_PREFIX}*"):
            if leftover.is_dir() and not leftover.name.endswith((".uet", ".home")):
                self.worktrees.remove(leftover)  # a merge queue gate run a crash cut short
        self.worktrees.prune()

    # -- dispatch (orchestrator thread) --------------------------------------------------------

    def prepare(self, task_id: str, attempt_no: int, request: Mapping[str, Any]) -> WriteSpec:
        policy = Policy.merge(request.get("policy_levels", ()))
        window = policy.oscillation_window
        earlier = self._failed.get(task_id, [])
        if window is not None:
            earlier = earlier[-window:] if window > 0 else []
        repo_cwd = Path(request["cwd"])
        try:
            cwd_in_repo = str(repo_cwd.relative_to(self.git.repo))
        except ValueError:
            cwd_in_repo = "."
        base = self.head
        return WriteSpec(
            worktree=self.worktrees.path_for(task_id, attempt_no),
            base_commit=base,
            cwd_in_repo=cwd_in_repo,
            policy=policy,
            gates=[self.gates[name] for name in request.get("gates", ())],
            failed_hashes=dict(earlier),
            expect_change=bool(request.get("expect_change")),
            keep_worktree_on_failure=self.keep_worktrees,
            patches_dir=self.patches_dir,
            quarantine_dir=self.quarantine_dir,
            setup=steps_of(request.get("setup")),
            superseded=lambda: self.head != base or self.queued() > 0,
        )

    # -- execution (worker thread) -------------------------------------------------------------

    def execute(
        self,
        spec: WriteSpec,
        run_tool: Callable[[Path, Confinement], Outcome],
        env: Mapping[str, str],
        stem: str,
        key: str,
        *,
        network: bool = False,
        user_home: bool = False,
    ) -> Outcome:
        """Run a writing attempt; its duration covers all of it (copy, tool, capture,
        checks, gates), not the tool alone. The tool is confined to its copy (with the
        network when ``network``, the user's HOME with ``user_home``), its gates the same way
        without either."""
        gate = self.gate_runner(env, stem, key)
        started = time.monotonic()
        outcome = run_writing_attempt(
            self.git,
            self.worktrees,
            self.guard,
            spec,
            lambda cwd, copy: run_tool(
                cwd, self.confinement(copy, network=network, user_home=user_home)
            ),
            gate,
            self.step_runner(env, stem, key),
        )
        return replace(outcome, duration_seconds=time.monotonic() - started)

    def confinement(
        self, copy: Copy, *, network: bool = False, user_home: bool = False
    ) -> Confinement:
        """What a process of the attempt working in ``copy`` may touch."""
        return Confinement(
            writable=(copy.path, *self.writable),
            readable=self._readable,
            home=copy.home,
            network=network,
            user_home=user_home,
        )

    def step_runner(
        self, env: Mapping[str, str], stem: str, key: str
    ) -> Callable[[SetupStep, Copy], Outcome]:
        """Runs one setup step in a copy's root, confined to it (and the shared package
        caches), its log under ``<logs>/<stem>.setup/``."""
        caches = cache_root(self.worktrees.home)
        counter = iter(range(1, 1_000_000))

        def step(definition: SetupStep, copy: Copy) -> Outcome:
            caches.mkdir(parents=True, exist_ok=True)
            folder = self.logs_dir / f"{stem}.setup"
            folder.mkdir(parents=True, exist_ok=True)
            confinement = self.confinement(copy, network=definition.network)
            confinement = replace(confinement, writable=(*confinement.writable, caches))
            return run_command(
                definition.run,
                cwd=str(copy.path),
                env={**env, **cache_env(caches)},
                timeout=definition.timeout_seconds,
                stdout_path=folder / f"{next(counter)}.log",
                stderr_path=None,
                cap=self.log_max_bytes,
                processes=self.processes,
                key=f"{key}:setup",
                kill_grace=self.kill_grace,
                isolation=self.isolation,
                confinement=confinement,
                redact=Redactor(env),
            )

        return step

    def gate_runner(
        self, env: Mapping[str, str], stem: str, key: str
    ) -> Callable[[GateDefinition, Copy], GateRun]:
        """Runs one gate in a copy, confined to it, its log under ``<logs>/<stem>.gates/``."""

        def gate(definition: GateDefinition, copy: Copy) -> GateRun:
            return run_gate(
                definition,
                checkout=copy.path,
                log_dir=self.logs_dir / f"{stem}.gates",
                env=env,
                processes=self.processes,
                key=f"{key}:gate:{definition.name}",
                cap=self.log_max_bytes,
                kill_grace=self.kill_grace,
                isolation=self.isolation,
                confinement=self.confinement(copy),
            )

        return gate

    # -- recording (orchestrator thread, inside its transaction) -------------------------------

    def record(
        self,
        ch: Changes,
        *,
        task_id: str,
        attempt_id: str,
        attempt_no: int,
        request: Mapping[str, Any],
        result: PatchOutcome,
        tool: str | None,
    ) -> PatchRow | None:
        """Record the attempt's patch; return it when it is verified (ready to land)."""
        row = record_patch(
            ch,
            result,
            run_id=self.run_id,
            task_id=task_id,
            attempt_id=attempt_id,
            attempt_no=attempt_no,
            policy=request.get("patch_policy") or {},
            origin={"tool": tool, "worktree": str(self.worktrees.path_for(task_id, attempt_no))},
        )
        if row is None:
            return None
        if row["state"] in FAILED_PATCH_STATES:
            self.remember_failure(row)
        return row if result.verdict == VERIFIED else None

    def remember_failure(self, row: PatchRow) -> None:
        self._failed[row["task_id"]].append((row["sha256"], row["patch_id"]))

    # -- integration (orchestrator thread, between transactions) -------------------------------

    def land(self, patch: PatchRow, subject: str) -> Landing:
        """Land a verified patch on the branch; raises IntegrationTampered (and lands nothing)
        when the branch holds a commit UET did not make."""
        message = commit_message(subject, self.run_id, patch["task_id"], patch["patch_id"])
        landing = self.branch.land(Path(patch["diff_path"]), message)
        if landing.commit is not None:
            self.head = landing.commit
        else:
            self.head = landing.head
        return landing

    def gate_combination(self, job: QueueJob, env: Mapping[str, str]) -> QueueJob:
        """Run the queued patch's tree-wide blocking gates on the combination ``job`` names,
        in a private copy of it, confined like an attempt's gates (worker thread). Stops at
        the first gate that blocks, or once the job is canceled."""
        path = self.worktrees.root / f"{QUEUE_COPY_PREFIX}{job.id}"
        item = job.item
        stem = f"{item.task_id}.{item.patch['attempt_no']}.queue-{job.id[-8:].lower()}"
        try:
            copy = self.worktrees.create(path, job.commit)
            faults.point("queue-gating")
            problem = run_setup(self.git, copy, item.setup, self.step_runner(env, stem, job.id))
            if problem is not None:
                raise SetupFailed(problem)
            gate = self.gate_runner(env, stem, job.id)
            for definition in item.gates:
                if job.canceled:
                    break
                run = guarded_gate(self.git, gate, definition, copy, self.guard)
                run.scope = "combination"
                job.runs.append(run)
                if run.decision == "block":
                    break
        finally:
            self.worktrees.remove(path)
        return job

    def land_item(self, item: Item, parent: str, subject: str) -> Landing:
        """Commit the queued item's tree on ``parent`` (the head it was built on)."""
        assert item.tree is not None  # noqa: S101 - the queue lands built items only
        return self.land_exact(item.patch, item.tree, parent, subject, item.blocking)

    def land_exact(
        self, patch: PatchRow, tree: str, parent: str, subject: str, blocking: Sequence[str]
    ) -> Landing:
        """Commit ``tree``, which the ``blocking`` gates passed on, as ``patch`` on ``parent``
        (still the head), with a ``Uet-Gates`` trailer naming those gates."""
        message = commit_message(
            subject,
            self.run_id,
            patch["task_id"],
            patch["patch_id"],
            gates=gates_trailer(dict.fromkeys(blocking, "passed")),
        )
        landing = self.branch.land_tree(tree, parent, message)
        self.head = landing.commit or landing.head
        return landing

    def landed(self) -> dict[str, str]:
        """Patches already committed on the branch (read from the commits' trailers)."""
        return landed_patches(self.git, self.branch.branch, self.base_commit)

    def quarantine_copy(self, patch: PatchRow) -> str:
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        target = self.quarantine_dir / f"{patch['patch_id']}.diff"
        shutil.copyfile(patch["diff_path"], target)
        return str(target)

    def close(self) -> None:
        self.branch.close()
        self.worktrees.prune()
