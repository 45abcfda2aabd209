"""One writing attempt, start to finish, inside a worker: the patch-first pipeline.

1. a private copy at the integration head (:mod:`core.engine.patches.copies`);
2. the tool runs there (argv only, own process group, timeout, in the sandbox where there is
   one, confined to the copy and its private HOME);
3. the repository guard checks the tool did not reach around its copy;
4. the change is read back through UET's own git directory and becomes a patch (diff stored
   under ``<ledger>/patches/<patch-id>.diff``);
5. policy and scope checks (every violation listed);
6. the oscillation check: the same diff as an earlier failed attempt is quarantined;
7. the task's gates run in the copy, confined the same way, each watched by the guard;
8. the copy is removed (kept on failure when the run asks for it).

Nothing here writes to the ledger: the orchestrator records the whole :class:`PatchOutcome`
in one transaction when the worker hands it back.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.adapters.git import Git
from core.engine.execution.outcome import Outcome
from core.engine.gates import GateDefinition, GateRun
from core.engine.patches.capture import CapturedPatch, CaptureFailed, capture
from core.engine.patches.copies import Copies, Copy
from core.engine.patches.guard import RepoGuard
from core.engine.patches.policy import Policy, check
from core.engine.patches.secrets_scan import redacted_diff, scan_patch
from core.engine.patches.setup import SetupStep, StepRunner, run_setup
from core.errors import GitFailed
from core.ids import new_id
from core.secrets import Redactor

log = logging.getLogger(__name__)

# What became of the change (the attempt's verdict on its patch).
NO_CHANGE = "no_change"
REJECTED = "rejected"  # policy or scope
QUARANTINED = "quarantined"  # same diff as an earlier failed attempt
GATE_FAILED = "gate_failed"  # a blocking gate did not pass
VERIFIED = "verified"  # ready for the integration queue


@dataclass(frozen=True)
class WriteSpec:
    """What the orchestrator prepares for a writing attempt."""

    worktree: Path
    base_commit: str
    cwd_in_repo: str  # the task's working directory, relative to the repository root
    policy: Policy
    gates: Sequence[GateDefinition]
    failed_hashes: Mapping[str, str]  # sha256 -> patch id, earlier failed patches of the task
    expect_change: bool
    keep_worktree_on_failure: bool
    patches_dir: Path
    quarantine_dir: Path
    # The run's secrets (UET's environment): a patch adding one is rejected, its diff masked.
    redact: Redactor = field(default_factory=Redactor)
    setup: Sequence[SetupStep] = ()  # run in the copy before the tool (and its gates)
    # True once the copy's tree can no longer land as it is (the integration head moved past
    # ``base_commit``, or patches wait in the merge queue to land first): the gates the queue
    # runs again on the tree the patch would land as are then left to it, which gates each
    # patch once, on that exact tree.
    superseded: Callable[[], bool] = lambda: False


@dataclass
class PatchOutcome:
    verdict: str
    patch_id: str | None = None
    patch: CapturedPatch | None = None
    diff_path: str | None = None
    reasons: list[str] = field(default_factory=list)
    oscillates_with: list[str] = field(default_factory=list)
    quarantine_path: str | None = None
    gate_runs: list[GateRun] = field(default_factory=list)
    feedback: str | None = None
    deferred: tuple[str, ...] = ()  # gates left to the merge queue (the head moved)


ToolRunner = Callable[[Path, Copy], Outcome]  # runs the tool in a directory of the copy


GateRunner = Callable[[GateDefinition, Copy], GateRun]  # runs one gate in the copy


def run_writing_attempt(
    git: Git,
    copies: Copies,
    guard: RepoGuard,
    spec: WriteSpec,
    run_tool: ToolRunner,
    run_gate: GateRunner,
    run_step: StepRunner | None = None,
) -> Outcome:
    """Run one writing attempt; the returned outcome carries a :class:`PatchOutcome`."""
    try:
        copy = copies.create(spec.worktree, spec.base_commit)
    except (GitFailed, OSError) as exc:
        copies.remove(spec.worktree)
        return Outcome("failed", 0.0, error=f"cannot create the attempt's copy: {exc}")
    if spec.setup and run_step is not None:
        before = guard.snapshot()
        problem = run_setup(git, copy, spec.setup, run_step)
        breach = guard.check(before)
        if breach:
            problem = breach.describe().replace("the tool", "a setup step", 1)
        if problem is not None:
            if not spec.keep_worktree_on_failure:
                copies.remove(copy.path)
            return Outcome("failed", 0.0, error=problem, retryable=True)
    before = guard.snapshot()
    outcome = run_tool(copy.path / spec.cwd_in_repo, copy)
    breach = guard.check(before)
    failed = True
    try:
        if breach:
            return replace(
                outcome,
                state="failed",
                retryable=False,
                error=breach.describe(),
                patch=PatchOutcome(REJECTED, reasons=breach.reasons()),
            )
        if not outcome.succeeded:
            return outcome
        result = _after_tool(git, copy, spec, run_gate, guard)
        failed = result.verdict not in (VERIFIED, NO_CHANGE) or (
            result.verdict == NO_CHANGE and spec.expect_change
        )
        return _conclude(outcome, result, spec)
    finally:
        if failed and spec.keep_worktree_on_failure:
            log.info("keeping the copy %s of a failed attempt", copy.path)
        else:
            copies.remove(copy.path)


def _after_tool(
    git: Git,
    copy: Copy,
    spec: WriteSpec,
    run_gate: GateRunner,
    guard: RepoGuard,
) -> PatchOutcome:
    copy.restore_admin()
    try:
        patch = capture(git, copy.path, copy.admin, spec.base_commit)
    except CaptureFailed as exc:
        return PatchOutcome(REJECTED, reasons=[str(exc)])
    if patch is None:
        return PatchOutcome(NO_CHANGE)
    patch_id = new_id()
    secrets = scan_patch(patch.diff, spec.redact)  # stored masked: the patch is rejected
    spec.patches_dir.mkdir(parents=True, exist_ok=True)
    diff_path = spec.patches_dir / f"{patch_id}.diff"
    diff_path.write_bytes(redacted_diff(patch.diff, spec.redact) if secrets else patch.diff)
    result = PatchOutcome(VERIFIED, patch_id=patch_id, patch=patch, diff_path=str(diff_path))
    reasons = check(patch.files, spec.policy, patch.symlink_targets)
    reasons += [finding.reason for finding in secrets]
    if reasons:
        result.verdict = REJECTED
        result.reasons = reasons
        return result
    earlier = spec.failed_hashes.get(patch.sha256)
    if earlier is not None:
        spec.quarantine_dir.mkdir(parents=True, exist_ok=True)
        copy_path = spec.quarantine_dir / f"{patch_id}.diff"
        shutil.copyfile(diff_path, copy_path)
        result.verdict = QUARANTINED
        result.oscillates_with = [earlier]
        result.quarantine_path = str(copy_path)
        result.reasons = [f"same diff as failed patch {earlier} (oscillation)"]
        return result
    gates = list(spec.gates)
    if spec.superseded():
        result.deferred = tuple(gate.name for gate in gates if gate.regated)
        gates = [gate for gate in gates if not gate.regated]
    for gate in gates:
        run = guarded_gate(git, run_gate, gate, copy, guard)
        run.scope = "attempt"
        result.gate_runs.append(run)
    blocking = [run for run in result.gate_runs if run.decision == "block"]
    if blocking:
        result.verdict = GATE_FAILED
        result.reasons = [f"gate {run.gate!r} {run.state}" for run in blocking]
        result.feedback = "\n\n".join(run.feedback for run in blocking if run.feedback) or None
    return result


def guarded_gate(
    git: Git, run_gate: GateRunner, gate: GateDefinition, copy: Copy, guard: RepoGuard
) -> GateRun:
    """Run ``gate`` in ``copy`` under the guard. A gate that changed anything outside its
    copy (a test writing a hook into the user's repository, say) is an error, whatever it
    exited with, and what it changed is undone. So is a gate that edited the files it judges
    (a formatter that rewrites instead of checking would pass on its own edits): the files
    are named and put back, so that the next gate judges the same tree."""
    where = copy.git_args()
    git.run(*where, "add", "--all", cwd=copy.path)  # UET's index: the tree the gate judges
    tree = git.run(*where, "write-tree", cwd=copy.path).stdout.decode().strip()
    before = guard.snapshot()
    run = run_gate(gate, copy)
    run.tree = tree
    breach = guard.check(before)
    edited = _edited(git, copy)
    if edited:  # back to the judged tree (changed and deleted files alike)
        git.run(*where, "checkout-index", "--all", "--force", cwd=copy.path)
    if breach:
        run.state = "error"
        run.summary = breach.describe().replace("the tool", f"gate {gate.name!r}", 1)
    elif edited:
        shown = ", ".join(edited[:5]) + (f" and {len(edited) - 5} more" if len(edited) > 5 else "")
        run.state = "error"
        run.summary = (
            f"gate {gate.name!r} changed files it judged ({shown}): a gate must check, not edit"
        )
    return run


def _edited(git: Git, copy: Copy) -> list[str]:
    """Tracked files of the judged tree that differ from it now (changed or deleted)."""
    out = git.run(
        *copy.git_args(), "diff", "--name-only", "-z", "--no-ext-diff", cwd=copy.path, check=False
    ).stdout
    return [name.decode("utf-8", "replace") for name in out.split(b"\0") if name]


def _conclude(outcome: Outcome, result: PatchOutcome, spec: WriteSpec) -> Outcome:
    if result.verdict == NO_CHANGE:
        if spec.expect_change:
            return replace(
                outcome,
                state="failed",
                error="the tool changed nothing, and the task expects a change",
                patch=result,
            )
        return replace(outcome, patch=result)
    if result.verdict == VERIFIED:
        return replace(outcome, patch=result)
    error = {
        REJECTED: "patch rejected: ",
        QUARANTINED: "patch quarantined: ",
        GATE_FAILED: "",
    }[result.verdict] + "; ".join(result.reasons)
    return replace(
        outcome,
        state="failed",
        error=error,
        retryable=result.verdict != QUARANTINED,
        patch=result,
    )
