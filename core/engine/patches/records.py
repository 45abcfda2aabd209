"""Patches in the ledger: the row an attempt's patch becomes, and its schema documents.

A patch is recorded once its attempt is over, with every state it already went through in the
worker (created, validated, applied, and then verified, rejected or quarantined) written as
its history and as events, in the same transaction as the attempt's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.engine.gates import GateRun
from core.engine.patches.attempt import GATE_FAILED, QUARANTINED, REJECTED, PatchOutcome
from core.engine.recorder import Changes
from core.ids import new_id
from core.state import GateResultRow, PatchRow


def _history(result: PatchOutcome, now: str) -> list[dict[str, Any]]:
    reason = "; ".join(result.reasons) or None
    steps: list[tuple[str, str | None]] = [("created", None)]
    if result.verdict == REJECTED:
        steps.append(("rejected", reason))
    else:
        steps += [("validated", None), ("applied", "present in the attempt's copy")]
        if result.verdict == QUARANTINED:
            steps.append(("quarantined", reason))
        elif result.verdict == GATE_FAILED:
            steps.append(("rejected", reason))
        else:
            why = verdict_of(result.gate_runs)
            if result.deferred:
                left = ", ".join(result.deferred)
                left += " left to the merge queue (it lands on a newer tree than its copy's)"
                why = left if not result.gate_runs else f"{why}; {left}"
            steps.append(("verified", why))
    return [{"state": state, "at": now, "reason": why} for state, why in steps]


def verdict_of(runs: Sequence[GateRun]) -> str:
    """Why a patch is verified: its gates passed (non-blocking failures named)."""
    if not runs:
        return "no gates"
    passed = sum(1 for run in runs if run.state == "passed")
    warned = [run.gate for run in runs if run.decision == "warn"]
    text = f"{passed} of {len(runs)} gate(s) passed"
    if warned:
        text += f"; non-blocking {', '.join(warned)} did not"
    return text


def record_patch(
    ch: Changes,
    result: PatchOutcome,
    *,
    run_id: str,
    task_id: str,
    attempt_id: str,
    attempt_no: int,
    policy: dict[str, Any],
    origin: dict[str, Any],
) -> PatchRow | None:
    """Insert the attempt's patch (if it made one) and its gate results; return the row."""
    patch = result.patch
    if patch is None or result.patch_id is None or result.diff_path is None:
        return None
    history = _history(result, ch.now)
    last = history[-1]
    relations = {"oscillates_with": result.oscillates_with} if result.oscillates_with else None
    row: PatchRow = {
        "patch_id": result.patch_id,
        "run_id": run_id,
        "task_id": task_id,
        "attempt_id": attempt_id,
        "attempt_no": attempt_no,
        "state": last["state"],
        "state_reason": last["reason"],
        "history": history,
        "base_commit": patch.base_commit,
        "diff_path": result.diff_path,
        "sha256": patch.sha256,
        "size_bytes": patch.size_bytes,
        "files_changed": patch.stats["files"],
        "added": patch.stats["added"],
        "removed": patch.stats["removed"],
        "hunks": patch.stats["hunks"],
        "files": patch.files,
        "origin": origin,
        "validation": {
            "passed": result.verdict != REJECTED,
            "reasons": result.reasons if result.verdict == REJECTED else [],
            "policy": policy,
        },
        "relations": relations,
        "integration_branch": None,
        "commit_sha": None,
        "revert_commit": None,
        "applied_at": None,
        "quarantine_path": result.quarantine_path,
        "created_at": ch.now,
        "updated_at": ch.now,
    }
    ch.new_patch(row)
    record_gates(ch, result, run_id=run_id, task_id=task_id, attempt_id=attempt_id)
    return row


def record_gates(
    ch: Changes,
    result: PatchOutcome,
    *,
    run_id: str,
    task_id: str | None,
    attempt_id: str | None,
) -> list[GateResultRow]:
    rows = [
        run.row(
            gate_result_id=new_id(),
            run_id=run_id,
            task_id=task_id,
            attempt_id=attempt_id,
            patch_id=result.patch_id,
        )
        for run in result.gate_runs
    ]
    if rows:
        ch.gate_results(rows)
    return rows


def artifact_document(row: PatchRow) -> dict[str, Any]:
    """The patch as a patch_artifact.v1 document."""
    return {
        "schema_version": "patch_artifact.v1",
        "patch_id": row["patch_id"],
        "run_id": row["run_id"],
        "task_id": row["task_id"],
        "attempt_id": row["attempt_id"],
        "base_commit": row["base_commit"],
        "diff_path": row["diff_path"],
        "sha256": row["sha256"],
        "size_bytes": row["size_bytes"],
        "files": row["files"],
        "stats": {
            "files": row["files_changed"],
            "added": row["added"],
            "removed": row["removed"],
            "hunks": row["hunks"],
        },
        "origin": row["origin"] or {},
        "created_at": row["created_at"],
    }


def entry_document(row: PatchRow, gate_result_ids: list[str]) -> dict[str, Any]:
    """The patch's lifecycle as a patch_ledger_entry.v1 document."""
    document: dict[str, Any] = {
        "schema_version": "patch_ledger_entry.v1",
        "patch_id": row["patch_id"],
        "run_id": row["run_id"],
        "task_id": row["task_id"],
        "attempt_id": row["attempt_id"],
        "state": row["state"],
        "history": row["history"],
        "gate_results": gate_result_ids,
        "quarantine_path": row["quarantine_path"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if row["validation"] is not None:
        document["validation"] = row["validation"]
    if row["integration_branch"] is not None:
        document["integration"] = {
            "branch": row["integration_branch"],
            "commit": row["commit_sha"],
            "revert_commit": row["revert_commit"],
            "applied_at": row["applied_at"],
        }
    if row["relations"]:
        document["relations"] = row["relations"]
    return document
