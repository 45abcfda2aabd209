"""Ledger rows as the documents the schemas define (run_record.v1, step_attempt.v1, run_event.v1).

This is what ``--json`` prints and what scripts rely on; tests validate it against the schemas.
"""

from __future__ import annotations

from typing import Any

from core.state import AttemptRow, EventRow, RunRow, TaskCounts, TaskRow


def run_document(run: RunRow, counts: TaskCounts) -> dict[str, Any]:
    owner = None
    if run["owner_pid"] is not None:
        owner = {"host": run["owner_host"] or "", "pid": run["owner_pid"]}
        if run["heartbeat_at"]:
            owner["heartbeat_at"] = run["heartbeat_at"]
    return {
        "schema_version": "run_record.v1",
        "run_id": run["run_id"],
        "name": run["name"],
        "state": run["state"],
        "state_reason": run["state_reason"],
        "bundle": {
            "path": run["bundle_path"],
            "sha256": run["bundle_sha256"],
            "workstreams": [ws["workstream_id"] for ws in run["workstreams"]],
        },
        "workdir": run["workdir"],
        "repo": run["repo"],
        "base_commit": run["base_commit"],
        "integration_branch": run["integration_branch"],
        "parallel": run["parallel"],
        "counters": {"total": counts.total, **counts.by_state},
        "budget": run["budget"],
        "owner": owner,
        "created_at": run["created_at"],
        "started_at": run["started_at"],
        "finished_at": run["finished_at"],
        "updated_at": run["updated_at"],
    }


def attempt_document(attempt: AttemptRow) -> dict[str, Any]:
    def log(stream: str) -> dict[str, Any] | None:
        path = attempt[f"{stream}_path"]  # type: ignore[literal-required]
        if path is None:
            return None
        return {
            "path": path,
            "bytes": attempt[f"{stream}_bytes"] or 0,  # type: ignore[literal-required]
            "truncated": bool(attempt[f"{stream}_truncated"]),  # type: ignore[literal-required]
        }

    return {
        "schema_version": "step_attempt.v1",
        "attempt_id": attempt["attempt_id"],
        "run_id": attempt["run_id"],
        "task_id": attempt["task_id"],
        "attempt_no": attempt["attempt_no"],
        "state": attempt["state"],
        "action": attempt["action"],
        "worker_id": attempt["worker_id"],
        "tool": attempt["tool"],
        "argv": attempt["argv"],
        "call": attempt["call"],
        "cwd": attempt["cwd"],
        "worktree": attempt["worktree"],
        "exit_code": attempt["exit_code"],
        "error": attempt["error"],
        "retryable": attempt["retryable"],
        "output": attempt["output"],
        "logs": {"stdout": log("stdout"), "stderr": log("stderr")},
        "started_at": attempt["started_at"],
        "finished_at": attempt["finished_at"],
        "duration_seconds": attempt["duration_seconds"],
    }


def event_document(event: EventRow) -> dict[str, Any]:
    return {"schema_version": "run_event.v1", **event}


def task_summary(task: TaskRow, latest: AttemptRow | None) -> dict[str, Any]:
    """One task's line of ``uet status --json``: its state and its latest attempt."""
    return {
        "task_id": task["task_id"],
        "workstream_id": task["workstream_id"],
        "state": task["state"],
        "state_reason": task["state_reason"],
        "attempts": task["attempts"],
        "max_attempts": task["max_attempts"],
        "output": task["output"],
        "latest_attempt": attempt_document(latest) if latest else None,
    }
