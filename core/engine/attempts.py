"""Attempt records: the row of a new attempt, and the fields an outcome writes to it."""

from __future__ import annotations

from typing import Any

from core.engine.execution.outcome import Outcome
from core.state import AttemptRow, attempt_row


def as_outcome(result: Outcome | BaseException) -> Outcome:
    """A worker's result as an outcome: an exception it raised fails the attempt, with it named."""
    if isinstance(result, Outcome):
        return result
    return Outcome(state="failed", duration_seconds=0.0, error=f"internal error: {result!r}")


def new_attempt(
    run_id: str,
    task_id: str,
    attempt_id: str,
    attempt_no: int,
    request: dict[str, Any],
    worker_id: str | None,
    now: str,
) -> AttemptRow:
    return attempt_row(
        attempt_id=attempt_id,
        run_id=run_id,
        task_id=task_id,
        attempt_no=attempt_no,
        state="running",
        action=request["action"],
        worker_id=worker_id,
        tool=request.get("tool"),
        argv=request.get("argv"),
        call=request.get("call"),
        cwd=request.get("cwd"),
        started_at=now,
    )


def outcome_fields(outcome: Outcome, now: str) -> dict[str, Any]:
    """The attempt columns an outcome sets when the attempt ends."""
    fields: dict[str, Any] = {
        "exit_code": outcome.exit_code,
        "error": outcome.error,
        "retryable": outcome.retryable,
        "output": outcome.output,
        "finished_at": now,
        "duration_seconds": round(outcome.duration_seconds, 6),
    }
    for name in ("stdout", "stderr"):
        log_file = getattr(outcome, name)
        if log_file is not None:
            fields[f"{name}_path"] = log_file.path
            fields[f"{name}_bytes"] = log_file.bytes
            fields[f"{name}_truncated"] = log_file.truncated
    return fields
