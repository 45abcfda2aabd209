"""The ledger: storage of runs, tasks, attempts and events behind one contract.

Open one with :func:`open_ledger`; the URL picks the backend (``sqlite:///`` today).
"""

from __future__ import annotations

from core.errors import InvalidLedgerURL
from core.state.contract import (
    AttemptRow,
    CircuitRow,
    CostRow,
    EventRow,
    GateResultRow,
    Ledger,
    LedgerTxn,
    MigrationStatus,
    PatchRow,
    RunRow,
    TaskCounts,
    TaskRow,
    ToolHistory,
    WorkerRow,
    attempt_row,
)
from core.state.urls import LedgerURL, project_root, resolve


def open_ledger(
    url: str | None = None, *, create: bool = True, migrate: bool = True, verify: bool = True
) -> Ledger:
    """Open the ledger named by ``url`` (or $UET_LEDGER, or the project default).

    ``create=False`` refuses to make a new ledger (read-only commands use it so a typo in a
    path does not silently create an empty ledger); ``migrate=False`` leaves an outdated one as
    it is; ``verify=False`` opens it even so (for ``uet db check`` to report on it).
    """
    target = resolve(url)
    if target.scheme == "sqlite" and target.path is not None:
        from core.state.sqlite import SqliteLedger

        return SqliteLedger.open(
            target.path, target.url, create=create, migrate=migrate, verify=verify
        )
    raise InvalidLedgerURL(target.url, f"the {target.scheme} backend is not available yet")


__all__ = [
    "AttemptRow",
    "CircuitRow",
    "CostRow",
    "EventRow",
    "GateResultRow",
    "Ledger",
    "LedgerTxn",
    "LedgerURL",
    "MigrationStatus",
    "PatchRow",
    "RunRow",
    "TaskCounts",
    "TaskRow",
    "ToolHistory",
    "WorkerRow",
    "attempt_row",
    "open_ledger",
    "project_root",
    "resolve",
]
