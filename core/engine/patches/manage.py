"""What people do with patches after a run: roll one back, drop it, requeue it, and land the
run's integration branch into their own branch (that last one lives in
:mod:`core.engine.patches.landing`, re-exported here).

Each operation checks the patch's state against the patch lifecycle before touching git, and
writes the new state with its event in one transaction after git has done its part. Git steps
are made detectable after a crash the same way landing is: a revert commit carries a
``Uet-Reverts-Patch`` trailer, a requeued landing the usual ``Uet-Patch`` trailer, so running
the same command again records what is already there instead of doing it twice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.adapters.git import Git, commits_with_trailer, open_repository
from core.engine.events import EventBus
from core.engine.execution.command import ProcessTable
from core.engine.lifecycle import PATCH
from core.engine.options import RunOptions
from core.engine.patches.attempt import PatchOutcome, guarded_gate
from core.engine.patches.flow import PatchFlow
from core.engine.patches.integration import (
    REVERT_TRAILER,
    RUN_TRAILER,
    TASK_TRAILER,
    IntegrationBranch,
    landed_patches,
)
from core.engine.patches.landing import LandResult, land_run
from core.engine.patches.provenance import LedgerProvenance, record_tampered
from core.engine.patches.records import record_gates, verdict_of
from core.engine.patches.setup import run_setup, steps_of
from core.engine.recorder import Recorder
from core.engine.recovery import owner_alive
from core.engine.runs import get_run
from core.errors import IntegrationTampered, PatchNotActionable, PatchNotFound
from core.state import Ledger, PatchRow, RunRow

_ACTION_TRIGGER = {"rollback": "roll_back", "drop": "drop", "requeue": "requeue"}


def find_patch(ledger: Ledger, ref: str) -> PatchRow:
    """A patch by id or unique id prefix."""
    matches = ledger.find_patch_ids(ref)
    wanted = ref.upper()
    chosen = wanted if wanted in matches else (matches[0] if len(matches) == 1 else None)
    patch = ledger.get_patch(chosen) if chosen else None
    if patch is None:
        raise PatchNotFound(ref, matches if len(matches) > 1 else ())
    return patch


def _allowed(patch: PatchRow, action: str) -> None:
    if not PATCH.can(patch["state"], _ACTION_TRIGGER[action]):
        sources = sorted(s for s, t in PATCH.table if t == _ACTION_TRIGGER[action])
        raise PatchNotActionable(
            patch["patch_id"],
            action,
            f"it is {patch['state']}; only {', '.join(sources)} patches can be",
        )


def _repository(run: RunRow) -> Git:
    if run["repo"] is None or run["integration_branch"] is None:
        raise ValueError(f"run {run['run_id']} changed no repository")
    return open_repository(Path(run["repo"]))


def _quiet_run(ledger: Ledger, patch: PatchRow, action: str) -> RunRow:
    """The patch's run, refused while a live process is executing it."""
    run = get_run(ledger, patch["run_id"])
    if owner_alive(run):
        raise PatchNotActionable(
            patch["patch_id"],
            action,
            f"run {run['run_id']} is being executed by pid {run['owner_pid']}; "
            "wait for it to end (or `uet cancel` it)",
        )
    return run


# -- rollback ------------------------------------------------------------------------------------


def rollback_patch(ledger: Ledger, ref: str, *, bus: EventBus | None = None) -> PatchRow:
    """Revert a committed patch on its integration branch (a new commit; history is kept)."""
    patch = find_patch(ledger, ref)
    _allowed(patch, "rollback")
    run = get_run(ledger, patch["run_id"])
    git = _repository(run)
    branch = IntegrationBranch(
        git,
        patch["integration_branch"] or run["integration_branch"] or "",
        base=run["base_commit"],
        provenance=LedgerProvenance(ledger, run["run_id"]),
    )
    try:  # nothing is reverted on top of a commit UET did not make
        branch.verify()
    except IntegrationTampered as exc:
        branch.close()
        record_tampered(ledger, exc, bus)
        raise
    commit = patch["commit_sha"]
    if commit is None:
        raise PatchNotActionable(patch["patch_id"], "rollback", "it records no commit")
    done = commits_with_trailer(git, branch.ref, REVERT_TRAILER, commit).get(patch["patch_id"])
    if done is None:
        message = (
            f"uet: revert {patch['task_id']} (patch {patch['patch_id']})\n\n"
            f"This reverts commit {commit}.\n\n"
            f"{RUN_TRAILER}: {patch['run_id']}\n"
            f"{TASK_TRAILER}: {patch['task_id']}\n"
            f"{REVERT_TRAILER}: {patch['patch_id']}\n"
        )
        try:
            landing = branch.revert(commit, message)
        finally:
            branch.close()
        if landing.commit is None:
            raise PatchNotActionable(
                patch["patch_id"],
                "rollback",
                f"later commits on {branch.branch} changed the same lines ({landing.conflict}); "
                "roll those back first",
            )
        done = landing.commit
    with Recorder(ledger, bus).transaction() as ch:
        ch.patch(
            patch,
            "roll_back",
            reason=f"reverted on {branch.branch} by {done[:12]}",
            payload={"revert_commit": done},
            revert_commit=done,
        )
    return patch


# -- drop ----------------------------------------------------------------------------------------


def drop_patch(
    ledger: Ledger, ref: str, reason: str = "dropped by user", *, bus: EventBus | None = None
) -> PatchRow:
    """Give up on a patch that has not landed; a run resumed later runs its task again."""
    patch = find_patch(ledger, ref)
    _allowed(patch, "drop")
    run = _quiet_run(ledger, patch, "drop")
    if patch["state"] == "verified" and run["integration_branch"]:
        landed = landed_patches(_repository(run), run["integration_branch"], run["base_commit"])
        if patch["patch_id"] in landed:
            raise PatchNotActionable(
                patch["patch_id"],
                "drop",
                f"it is already on {run['integration_branch']}; `uet resume {run['run_id']}` "
                "records it",
            )
    with Recorder(ledger, bus).transaction() as ch:
        ch.patch(patch, "drop", reason=reason)
    return patch


# -- requeue -------------------------------------------------------------------------------------


def requeue_patch(
    ledger: Ledger,
    ref: str,
    options: RunOptions | None = None,
    *,
    bus: EventBus | None = None,
) -> PatchRow:
    """Try a patch that failed to land (or was quarantined) again, now: apply it to a fresh
    private copy at the integration head, run its task's gates, and land it if they pass.

    The task's own record does not change (its run may be long over); the patch's history
    tells what happened.
    """
    options = options or RunOptions()
    patch = find_patch(ledger, ref)
    _allowed(patch, "requeue")
    run = _quiet_run(ledger, patch, "requeue")
    recorder = Recorder(ledger, bus)
    with recorder.transaction() as ch:
        ch.patch(patch, "requeue", reason="requeued by user")
    task = next(t for t in ledger.list_tasks(run["run_id"]) if t["task_id"] == patch["task_id"])
    flow = PatchFlow(
        ledger,
        run,
        processes=ProcessTable(),
        logs_dir=ledger.artifacts_dir / "logs" / run["run_id"],
        keep_worktrees=options.keep_worktrees,
        log_max_bytes=options.log_max_bytes,
        kill_grace=options.kill_grace_seconds,
    )
    try:
        return _reverify(recorder, flow, patch, task["request"])
    finally:
        flow.close()


def _reverify(
    recorder: Recorder, flow: PatchFlow, patch: PatchRow, request: dict[str, Any]
) -> PatchRow:
    landed = flow.landed().get(patch["patch_id"])
    if landed is not None:  # an earlier requeue landed it, then stopped before recording it
        return _record_landed(recorder, flow, patch, landed)
    head = flow.branch.head()
    stem = f"{patch['task_id']}.requeue-{patch['patch_id'][-6:]}"
    copy = flow.worktrees.create(flow.worktrees.root / stem, head)
    worktree = copy.path
    failed = True
    try:
        applied = flow.git.run(
            "apply", "--3way", "--whitespace=nowarn", patch["diff_path"], cwd=worktree, check=False
        )
        if applied.returncode != 0:
            why = applied.stderr.decode("utf-8", "replace").strip().splitlines()
            return _does_not_apply(recorder, flow, patch, "; ".join(why[:3]))
        with recorder.transaction() as ch:
            ch.patch(patch, "apply", reason=f"applied in a fresh copy at {head[:12]}")
        env = dict(os.environ)
        steps = steps_of(request.get("setup"))
        problem = run_setup(flow.git, copy, steps, flow.step_runner(env, stem, patch["patch_id"]))
        if problem is not None:
            with recorder.transaction() as ch:
                ch.patch(patch, "reject", reason=problem)
            return patch
        gate = flow.gate_runner(env, stem, patch["patch_id"])
        gates = [flow.gates[name] for name in request.get("gates", ())]
        runs = [guarded_gate(flow.git, gate, definition, copy, flow.guard) for definition in gates]
        for run in runs:
            run.scope = "combination"
        result = PatchOutcome("verified", patch_id=patch["patch_id"], gate_runs=runs)
        blocking = [r for r in runs if r.decision == "block"]
        with recorder.transaction() as ch:
            record_gates(
                ch, result, run_id=patch["run_id"], task_id=patch["task_id"], attempt_id=None
            )
            if blocking:
                reasons = "; ".join(f"gate {r.gate!r} {r.state}" for r in blocking)
                ch.patch(patch, "reject", reason=reasons)
                return patch
            ch.patch(patch, "verify", reason=verdict_of(runs))
        # What lands is exactly the tree the gates judged: head + patch, as landing applies it.
        tree, conflict = flow.branch.combine(head, Path(patch["diff_path"]))
        if tree is None:
            return _does_not_apply(recorder, flow, patch, conflict or "")
        judged = {run.tree for run in runs}
        if judged and judged != {tree}:
            shown = ", ".join(sorted(str(t)[:12] for t in judged))
            mismatch = f"its gates judged tree {shown}, but it would land as {tree[:12]}"
            return _does_not_apply(recorder, flow, patch, mismatch)
        names = [definition.name for definition in gates if definition.blocking]
        subject = f"uet: {patch['task_id']} (requeued)"
        landing = flow.land_exact(patch, tree, head, subject, names)
        if landing.commit is None:
            moved = f"the branch moved to {landing.head[:12]} while its gates ran; requeue again"
            return _does_not_apply(recorder, flow, patch, moved)
        failed = False
        return _record_landed(recorder, flow, patch, landing.commit)
    finally:
        if not (failed and flow.keep_worktrees):
            flow.worktrees.remove(worktree)


def _does_not_apply(recorder: Recorder, flow: PatchFlow, patch: PatchRow, why: str) -> PatchRow:
    with recorder.transaction() as ch:
        ch.patch(patch, "fail_apply", reason=f"does not apply on {flow.branch.branch}: {why}")
    return patch


def _record_landed(recorder: Recorder, flow: PatchFlow, patch: PatchRow, commit: str) -> PatchRow:
    with recorder.transaction() as ch:
        if patch["state"] != "verified":  # found on the branch: walk the rest of the way
            for trigger in ("apply", "verify"):
                if PATCH.can(patch["state"], trigger):
                    ch.patch(patch, trigger, reason="found on the branch")
        ch.patch(
            patch,
            "commit",
            reason=f"landed on {flow.branch.branch} as {commit[:12]}",
            payload={"commit": commit},
            integration_branch=flow.branch.branch,
            commit_sha=commit,
            applied_at=ch.now,
        )
    return patch


__all__ = [
    "LandResult",
    "drop_patch",
    "find_patch",
    "land_run",
    "requeue_patch",
    "rollback_patch",
]
