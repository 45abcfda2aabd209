"""Gating the merge `uet land` makes when the user's branch moved since the run started.

A fast-forward brings in exactly the commits the merge queue gated. A merge commit's tree is
new: the run's patches combined with commits of the user's that no gate of the run has seen.
So before the user's branch moves, the merge commit is checked out in a private copy (like an
attempt's, confined the same way) and the blocking, tree-wide gates of the run's landed
patches run there. Their results are recorded (``scope = 'land'``, with the merge's tree); one
that does not pass refuses the landing and leaves the branch where it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.engine.execution import sandbox
from core.engine.execution.command import ProcessTable
from core.engine.gates import GateDefinition, GateRun
from core.engine.options import RunOptions
from core.engine.patches.attempt import PatchOutcome, guarded_gate
from core.engine.patches.flow import PatchFlow
from core.engine.patches.records import record_gates
from core.engine.patches.setup import SetupStep, run_setup, steps_of
from core.engine.project import project_sandbox
from core.engine.recorder import Recorder
from core.errors import LandRefused
from core.state import Ledger, RunRow


def gates_of_landed(
    ledger: Ledger, run: RunRow, flow: PatchFlow
) -> tuple[list[GateDefinition], list[SetupStep]]:
    """The blocking, tree-wide gates of the tasks whose patches landed, in declaration order,
    and the setup steps they need (each once)."""
    landed = {patch["task_id"] for patch in ledger.list_patches(run["run_id"], state="committed")}
    names: dict[str, None] = {}
    steps: dict[SetupStep, None] = {}
    for task in ledger.list_tasks(run["run_id"]):
        if task["task_id"] in landed:
            names.update(dict.fromkeys(task["request"].get("gates", ())))
            steps.update(dict.fromkeys(steps_of(task["request"].get("setup"))))
    gates = [flow.gates[name] for name in names if name in flow.gates and flow.gates[name].regated]
    return gates, list(steps)


def gate_merge(ledger: Ledger, recorder: Recorder, run: RunRow, merge: str) -> list[GateRun]:
    """Run the landed patches' gates on the merge commit ``merge``; the runs, recorded."""
    options = RunOptions()
    profile_mode = project_sandbox(Path(run["repo"])) if run["repo"] else None
    isolation = sandbox.require_isolation(run["router"], profile_mode)
    _, writable = sandbox.settings(run["router"], profile_mode)
    flow = PatchFlow(
        ledger,
        run,
        processes=ProcessTable(),
        logs_dir=ledger.artifacts_dir / "logs" / run["run_id"],
        keep_worktrees=False,
        log_max_bytes=options.log_max_bytes,
        kill_grace=options.kill_grace_seconds,
        isolation=isolation,
        writable=writable,
    )
    try:
        gates, steps = gates_of_landed(ledger, run, flow)
        if not gates:
            return []
        stem = f"land-{merge[:12]}"
        path = flow.worktrees.root / stem
        copy = flow.worktrees.create(path, merge)
        runs: list[GateRun] = []
        env = dict(os.environ)
        try:
            problem = run_setup(flow.git, copy, steps, flow.step_runner(env, stem, stem))
            if problem is not None:
                raise LandRefused(run["run_id"], f"the merge result cannot be gated: {problem}")
            gate = flow.gate_runner(env, stem, stem)
            for definition in gates:
                run_ = guarded_gate(flow.git, gate, definition, copy, flow.guard)
                run_.scope = "land"
                runs.append(run_)
        finally:
            flow.worktrees.remove(path)
        with recorder.transaction() as ch:
            outcome = PatchOutcome("verified", gate_runs=runs)
            record_gates(ch, outcome, run_id=run["run_id"], task_id=None, attempt_id=None)
        return runs
    finally:
        flow.close()


__all__ = ["gate_merge", "gates_of_landed"]
