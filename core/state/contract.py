"""The ledger contract: what the engine may ask of storage, and what each call guarantees.

The engine talks only to :class:`Ledger` and :class:`LedgerTxn`; SQL lives in the backend
modules (``core.state.sqlite``), so another backend (PostgreSQL) implements these two protocols
and passes the same contract tests without the engine changing.

Rows are plain dicts (TypedDicts): cheap to build, JSON-ready for ``--json`` output. Fields
holding JSON values (``request``, ``output``, ``payload``, ...) are Python values here; the
backend encodes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict


class RunRow(TypedDict):
    run_id: str
    name: str | None
    state: str
    state_reason: str | None
    bundle_path: str | None
    bundle_sha256: str
    workstreams: list[dict[str, Any]]  # [{workstream_id, max_parallel, on_task_failure, gates}]
    workdir: str
    repo: str | None
    base_commit: str | None
    integration_branch: str | None
    parallel: int
    budget: dict[str, Any] | None
    router: dict[str, Any] | None  # the router config (router_config.v1) tool tasks route with
    owner_host: str | None
    owner_pid: int | None
    heartbeat_at: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    updated_at: str


class TaskRow(TypedDict):
    run_id: str
    task_id: str
    workstream_id: str
    seq: int  # declaration order in the bundle
    state: str
    state_reason: str | None
    priority: int
    attempts: int  # attempts started so far; the latest attempt has this attempt_no
    max_attempts: int
    request: dict[str, Any]  # the execution_request.v1 document
    output: Any
    not_before: str | None  # a retrying task is released at this time
    spec_hash: str | None  # content hash of the resolved spec and base commit (result reuse)
    created_at: str
    started_at: str | None
    finished_at: str | None
    updated_at: str


class AttemptRow(TypedDict):
    attempt_id: str
    run_id: str
    task_id: str
    attempt_no: int
    state: str
    action: str
    worker_id: str | None
    tool: str | None
    argv: list[str] | None
    call: str | None
    cwd: str | None
    worktree: str | None
    exit_code: int | None
    error: str | None
    retryable: bool | None
    output: Any
    stdout_path: str | None
    stdout_bytes: int | None
    stdout_truncated: bool | None
    stderr_path: str | None
    stderr_bytes: int | None
    stderr_truncated: bool | None
    started_at: str
    finished_at: str | None
    duration_seconds: float | None
    patch_id: str | None  # the patch this attempt produced (writing tasks)
    feedback: str | None  # summary of the blocking gate that failed it
    kind: str | None  # the task's kind, for routing statistics
    role: str | None  # "primary", or a "branch" (best_of_n) or "shadow" run of the task
    usage: dict[str, Any] | None  # tokens and model the tool reported (cost_record.v1 usage)
    result: dict[str, Any] | None  # outcome reported by a process worker, not yet applied


def attempt_row(**fields: Any) -> AttemptRow:
    """An attempt row with ``fields`` set and every other column NULL (a fresh attempt)."""
    row: dict[str, Any] = dict.fromkeys(AttemptRow.__annotations__)
    row.update(fields)
    return row  # type: ignore[return-value]


class PatchRow(TypedDict):
    """A patch: the captured diff's facts (patch_artifact.v1) and its lifecycle
    (patch_ledger_entry.v1) in one row."""

    patch_id: str
    run_id: str
    task_id: str
    attempt_id: str | None
    attempt_no: int | None
    state: str
    state_reason: str | None
    history: list[dict[str, Any]]  # [{state, at, reason}], oldest first
    base_commit: str
    diff_path: str
    sha256: str
    size_bytes: int
    files_changed: int
    added: int
    removed: int
    hunks: int
    files: list[dict[str, Any]]
    origin: dict[str, Any] | None
    validation: dict[str, Any] | None  # {passed, reasons, policy}
    relations: dict[str, Any] | None
    integration_branch: str | None
    commit_sha: str | None
    revert_commit: str | None
    applied_at: str | None
    quarantine_path: str | None
    created_at: str
    updated_at: str


class GateResultRow(TypedDict):
    gate_result_id: str
    gate: str
    type: str | None
    run_id: str | None  # None for `uet gate run` outside a run
    task_id: str | None
    attempt_id: str | None
    patch_id: str | None
    command: list[str]
    cwd: str | None
    state: str
    blocking: bool
    decision: str | None
    exit_code: int | None
    duration_seconds: float | None
    totals: dict[str, int] | None
    failures: list[dict[str, Any]] | None
    coverage: dict[str, Any] | None
    feedback: str | None
    log_path: str | None
    junit_xml: str | None
    started_at: str | None
    finished_at: str | None
    tree_sha: str | None  # the git tree the gate judged (None outside a repository)
    scope: str | None  # "attempt", "combination" (merge queue) or "land"; None: `uet gate run`


class WorkerRow(TypedDict):
    """A worker (worker_record.v1 without its derived parts: current attempt, statistics)."""

    worker_id: str
    kind: str  # "thread": the worker threads of one `uet run`; "process": `uet worker`
    host: str
    pid: int
    state: str
    state_reason: str | None
    run_id: str | None  # set when the worker serves one run only
    slots: int  # attempts it runs at once
    heartbeat_at: str | None
    heartbeat_interval_seconds: float
    started_at: str
    stopped_at: str | None
    updated_at: str


class CostRow(TypedDict):
    """One cost (cost_record.v1, flattened): an attempt's or a gate run's."""

    cost_id: str
    subject_kind: str  # attempt | gate | run
    subject_id: str
    run_id: str | None
    task_id: str | None
    workstream_id: str | None
    resource_type: str  # llm_tokens | compute | api_call | other
    tool: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    usage: dict[str, Any] | None
    amount: float
    currency: str
    estimated: bool
    wall_seconds: float | None
    cpu_seconds: float | None
    recorded_at: str


class CircuitRow(TypedDict):
    tool: str
    state: str  # closed | open | half_open
    failures: int  # consecutive failures while closed
    successes: int  # successful probes while half open
    probes: int  # probes started while half open
    opened_at: str | None
    updated_at: str


@dataclass(frozen=True, slots=True)
class ToolHistory:
    """What the ledger remembers of one tool on one task kind, across runs."""

    attempts: int = 0  # finished attempts
    succeeded: int = 0
    amount: float = 0.0  # total cost of those attempts
    tokens: int = 0

    @property
    def mean_cost(self) -> float | None:
        return self.amount / self.attempts if self.attempts else None


class EventRow(TypedDict):
    seq: int | None  # assigned by the ledger on append
    event_id: str
    kind: str
    run_id: str | None
    task_id: str | None
    attempt_id: str | None
    subject_id: str | None
    payload: dict[str, Any]
    ts: str


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """Where a ledger stands against the migrations this uet ships."""

    location: str
    exists: bool
    applied: tuple[int, ...] = ()
    pending: tuple[str, ...] = ()  # "0002_workers" ...
    tampered: tuple[str, ...] = ()  # applied, but their file changed since
    unknown: tuple[int, ...] = ()  # applied by a newer uet
    known: int = 0

    @property
    def current(self) -> bool:
        return self.exists and not (self.pending or self.tampered or self.unknown)


@dataclass(frozen=True, slots=True)
class TaskCounts:
    total: int = 0
    by_state: Mapping[str, int] = field(default_factory=dict)


class LedgerTxn(Protocol):
    """Writes inside one transaction: all of them commit together or none does.

    ``update_*`` methods take the state the caller believes the record is in and return False,
    writing nothing, when it is not (someone else moved it): lifecycles stay race-free across
    processes without locks held between transactions.
    """

    def insert_run(self, run: RunRow, bundle_text: str) -> None: ...

    def update_run(self, run_id: str, expected_state: str | None, **fields: Any) -> bool: ...

    def insert_tasks(self, tasks: Sequence[TaskRow]) -> None: ...

    def update_task(
        self, run_id: str, task_id: str, expected_state: str | None, **fields: Any
    ) -> bool: ...

    def insert_attempt(self, attempt: AttemptRow) -> None: ...

    def update_attempt(
        self, attempt_id: str, expected_state: str | None, **fields: Any
    ) -> bool: ...

    def append_events(self, events: Sequence[EventRow]) -> None: ...

    def insert_patch(self, patch: PatchRow) -> None: ...

    def update_patch(
        self,
        patch_id: str,
        expected_state: str | None,
        history: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> bool:
        """Like the other updates; ``history`` is appended to the patch's state history."""
        ...

    def insert_gate_results(self, results: Sequence[GateResultRow]) -> None: ...

    def insert_costs(self, costs: Sequence[CostRow]) -> None: ...

    def insert_worker(self, worker: WorkerRow) -> None: ...

    def update_worker(self, worker_id: str, expected_state: str | None, **fields: Any) -> bool: ...

    def claim_attempt(self, worker_id: str, run_id: str | None = None) -> AttemptRow | None:
        """Take the oldest running attempt no worker has (of ``run_id`` when given) for
        ``worker_id``; None when there is none. Two workers never get the same attempt."""
        ...

    def get_circuit(self, tool: str) -> CircuitRow | None: ...

    def put_circuit(self, circuit: CircuitRow) -> None: ...

    def get_run(self, run_id: str) -> RunRow | None: ...

    def list_tasks(self, run_id: str) -> list[TaskRow]: ...

    def list_attempts(
        self, run_id: str, task_id: str | None = None, state: str | None = None
    ) -> list[AttemptRow]: ...

    def get_task(self, run_id: str, task_id: str) -> TaskRow | None: ...

    def get_attempt(self, attempt_id: str) -> AttemptRow | None: ...

    def get_patch(self, patch_id: str) -> PatchRow | None: ...

    def list_patches(
        self, run_id: str | None = None, task_id: str | None = None, state: str | None = None
    ) -> list[PatchRow]:
        """Patches in creation order, filtered by run, task and state when given."""
        ...


class Ledger(LedgerTxn, Protocol):
    """A ledger: migrations, transactions, and the reads behind ``uet status/runs/events``.

    Reads outside a transaction see the latest committed state. A Ledger object is used by one
    thread at a time; other processes open their own.
    """

    url: str
    location: str
    artifacts_dir: Path  # where attempt logs, patch diffs and quarantined diffs are written

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; return their names."""
        ...

    def migration_status(self) -> MigrationStatus: ...

    def transaction(self) -> AbstractContextManager[LedgerTxn]:
        """Open a write transaction (nested calls open a savepoint); commit on clean exit."""
        ...

    def close(self) -> None: ...

    def find_run_ids(self, prefix: str) -> list[str]: ...

    def latest_run_id(self) -> str | None: ...

    def list_runs(self, limit: int = 50) -> list[RunRow]: ...

    def task_counts(self, run_id: str) -> TaskCounts: ...

    def list_events(
        self, run_id: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[EventRow]: ...

    def get_bundle_text(self, run_id: str) -> str | None: ...

    def find_patch_ids(self, prefix: str) -> list[str]: ...

    def list_gate_results(
        self,
        run_id: str | None = None,
        *,
        patch_id: str | None = None,
        attempt_id: str | None = None,
        standalone: bool = False,
        limit: int | None = None,
    ) -> list[GateResultRow]:
        """Gate results in the order they ran; ``standalone``: only those of no run."""
        ...

    def list_costs(self, run_id: str | None = None) -> list[CostRow]:
        """Costs in the order they were recorded, of one run or of all."""
        ...

    def list_workers(self, states: Sequence[str] = ()) -> list[WorkerRow]:
        """Workers, newest first; only those in ``states`` when given."""
        ...

    def recent_outcomes(self, per_tool: int = 50) -> dict[str, tuple[int, int]]:
        """Per tool: (finished attempts, succeeded) among its latest ``per_tool`` attempts."""
        ...

    def worker_activity(self) -> dict[str, dict[str, Any]]:
        """Per worker id: attempts, succeeded, failed, busy_seconds, running (attempt ids)."""
        ...

    def list_circuits(self) -> list[CircuitRow]: ...

    def tool_history(self, kind: str | None) -> dict[str, ToolHistory]:
        """Per tool, its finished attempts on tasks of ``kind`` (None: of no kind) in every run."""
        ...

    def reported_attempts(self, run_id: str) -> list[AttemptRow]:
        """Running attempts of the run whose process worker has reported an outcome."""
        ...

    def orphaned_attempts(self, run_id: str) -> list[AttemptRow]:
        """Running attempts of the run held by a worker recorded lost, with no outcome."""
        ...

    def find_results(self, spec_hashes: Sequence[str], exclude_run: str) -> dict[str, TaskRow]:
        """Per spec hash, the latest succeeded task with that hash in another run."""
        ...
