"""``uet gate run``: the gates on a working tree, outside any run, recorded in the ledger.

The gates run one after another in the order given, in the tree itself (not a worktree: this
is the CI use, where the checkout is the thing under test). Each result is written to the
ledger as it finishes, with ``run_id`` NULL, so ``uet gate run`` in CI leaves the same kind of
records a run does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.engine.execution.command import ProcessTable
from core.engine.gates.definition import GateDefinition
from core.engine.gates.runner import GateRun, run_gate
from core.engine.options import DEFAULT_LOG_MAX_BYTES
from core.engine.recorder import Recorder
from core.ids import new_id
from core.state import GateResultRow, Ledger


@dataclass(frozen=True)
class GateCheck:
    """The results of one ``uet gate run``, oldest first."""

    results: list[GateResultRow]

    @property
    def blocked(self) -> list[GateResultRow]:
        return [result for result in self.results if result["decision"] == "block"]

    @property
    def ok(self) -> bool:
        return not self.blocked


def check_gates(
    ledger: Ledger,
    gates: Sequence[GateDefinition],
    *,
    root: Path,
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES,
    on_start: Callable[[GateDefinition], None] | None = None,
    on_result: Callable[[GateResultRow], None] | None = None,
) -> GateCheck:
    """Run ``gates`` in ``root`` and record each result as it finishes."""
    recorder = Recorder(ledger)
    check_id = new_id()
    log_dir = ledger.artifacts_dir / "logs" / "gates" / check_id
    processes = ProcessTable()
    results: list[GateResultRow] = []
    env = dict(os.environ)
    for definition in gates:
        if on_start is not None:
            on_start(definition)
        finished: GateRun = run_gate(
            definition,
            checkout=root,
            log_dir=log_dir,
            env=env,
            processes=processes,
            key=f"{check_id}:{definition.name}",
            cap=log_max_bytes,
        )
        row = finished.row(
            gate_result_id=new_id(), run_id=None, task_id=None, attempt_id=None, patch_id=None
        )
        with recorder.transaction() as ch:
            ch.gate_results([row])
        results.append(row)
        if on_result is not None:
            on_result(row)
    return GateCheck(results)
