"""Commands over patches: list them, show one, roll back, requeue, drop; land a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.cli.common import json_option, readable_ledger, writable_ledger
from core.cli.output import duration, echo_json, gate_counts, located, short, styled_state, table
from core.engine.gates import gate_result_document
from core.engine.options import RunOptions
from core.engine.patches.landing import land_run
from core.engine.patches.manage import drop_patch, find_patch, requeue_patch, rollback_patch
from core.engine.patches.records import artifact_document, entry_document
from core.engine.queue.verify import verify_run
from core.engine.runs import resolve_run_id
from core.errors import EXIT_FAILED
from core.state import GateResultRow, Ledger, PatchRow

patch_argument = click.argument("patch_ref", metavar="PATCH")


def _documents(ledger: Ledger, patch: PatchRow) -> dict[str, Any]:
    gates = ledger.list_gate_results(patch_id=patch["patch_id"])
    return {
        "artifact": artifact_document(patch),
        "entry": entry_document(patch, [g["gate_result_id"] for g in gates]),
        "gate_results": [gate_result_document(g) for g in gates],
    }


def _gates_cell(gates: list[GateResultRow]) -> str:
    if not gates:
        return "-"
    passed = sum(1 for g in gates if g["state"] == "passed")
    text = f"{passed}/{len(gates)}"
    return click.style(text, fg="green" if passed == len(gates) else "red")


def _outcome_cell(patch: PatchRow) -> str:
    if patch["state"] == "committed" and patch["commit_sha"]:
        return f"commit {patch['commit_sha'][:12]}"
    if patch["state"] == "rolled_back" and patch["revert_commit"]:
        return f"reverted by {patch['revert_commit'][:12]}"
    return patch["state_reason"] or ""


@click.command()
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option("--state", "states", multiple=True, metavar="STATE", help="Only patches in STATE.")
@json_option
@click.pass_context
def patches(
    ctx: click.Context, run_ref: str | None, states: tuple[str, ...], as_json: bool
) -> None:
    """List a run's patches: state, size, gates passed, and the commit or the reason.

    RUN is a run id or a unique prefix (default: the latest run). --json prints, per
    patch, its patch_artifact.v1, its patch_ledger_entry.v1 and its gate_result.v1s.

    \b
    Examples:
      uet patches
      uet patches 01JD3Q --state rejected --state quarantined
      uet patches --json | jq '.[].entry.state'
    """
    ledger = readable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    rows = [p for p in ledger.list_patches(run_id) if not states or p["state"] in states]
    if as_json:
        echo_json([_documents(ledger, patch) for patch in rows])
        return
    if not rows:
        click.echo(f"run {run_id} has no patches" + (" in that state" if states else ""))
        return
    lines = []
    for patch in rows:
        gates = ledger.list_gate_results(patch_id=patch["patch_id"])
        lines.append(
            [
                patch["patch_id"],
                patch["task_id"],
                str(patch["attempt_no"] or "-"),
                styled_state(patch["state"]),
                str(patch["files_changed"]),
                f"+{patch['added']} -{patch['removed']}",
                _gates_cell(gates),
                short(_outcome_cell(patch), 60),
            ]
        )
    headers = ["PATCH", "TASK", "#", "STATE", "FILES", "LINES", "GATES", "COMMIT / REASON"]
    click.echo(table(headers, lines))


@click.group()
def patch() -> None:
    """Inspect and act on one patch (ids take a unique prefix, like git).

    \b
    Examples:
      uet patch show 01JD3QX4
      uet patch rollback 01JD3QX4
    """


@patch.command()
@patch_argument
@click.option("--stat", "stat_only", is_flag=True, help="The summary only, without the diff.")
@click.option(
    "--color/--no-color", default=None, help="Colour the diff (default: when on a terminal)."
)
@json_option
@click.pass_context
def show(
    ctx: click.Context, patch_ref: str, stat_only: bool, color: bool | None, as_json: bool
) -> None:
    """Show a patch: its history, policy verdict, gate results, and the diff.

    \b
    Examples:
      uet patch show 01JD3QX4
      uet patch show 01JD3QX4 --stat
      uet patch show 01JD3QX4 --json
    """
    ledger = readable_ledger(ctx)
    row = find_patch(ledger, patch_ref)
    if as_json:
        echo_json(_documents(ledger, row))
        return
    lines = _summary(ledger, row)
    click.echo("\n".join(lines), color=color)
    if stat_only:
        return
    try:
        diff = Path(row["diff_path"]).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        click.echo(f"(the diff file is gone: {exc})", err=True)
        return
    click.echo("")
    click.echo("\n".join(_colored(line) for line in diff.splitlines()), color=color)


def _summary(ledger: Ledger, row: PatchRow) -> list[str]:
    lines = [
        f"patch {click.style(row['patch_id'], bold=True)}  task {row['task_id']}  "
        f"attempt {row['attempt_no'] or '-'}  {styled_state(row['state'])}",
        f"  run {row['run_id']}  base {row['base_commit'][:12]}  {row['files_changed']} file(s) "
        f"+{row['added']} -{row['removed']}  {row['hunks']} hunk(s)  sha256 {row['sha256'][:16]}",
    ]
    if row["commit_sha"]:
        lines.append(f"  landed on {row['integration_branch']} as {row['commit_sha']}")
    if row["revert_commit"]:
        lines.append(f"  reverted by {row['revert_commit']}")
    if row["quarantine_path"]:
        lines.append(f"  quarantined copy: {row['quarantine_path']}")
    lines.append("files:")
    for entry in row["files"]:
        renamed = f" (from {entry['old_path']})" if entry.get("old_path") else ""
        kind = " binary" if entry.get("binary") else (" symlink" if entry.get("symlink") else "")
        lines.append(
            f"  {entry['change']:<12} {entry['path']}{renamed}  "
            f"+{entry.get('added', 0)} -{entry.get('removed', 0)}{kind}"
        )
    lines.append("history:")
    for step in row["history"]:
        why = f"  {step['reason']}" if step.get("reason") else ""
        lines.append(f"  {step['at'][:19].replace('T', ' ')}  {styled_state(step['state'])}{why}")
    validation = row["validation"] or {}
    if validation.get("reasons"):
        lines.append("policy violations:")
        lines += [f"  - {reason}" for reason in validation["reasons"]]
    gates = ledger.list_gate_results(patch_id=row["patch_id"])
    if gates:
        lines.append("gates:")
        for gate in gates:
            lines.append(
                f"  {gate['gate']:<12} {styled_state(gate['state']):<8} "
                f"{duration(gate['duration_seconds'])}  {_totals(gate)}"
            )
            for failure in (gate["failures"] or [])[:10]:
                lines.append(f"      {located(failure)}{short(failure['message'], 90)}")
    return lines


def _totals(gate: GateResultRow) -> str:
    text = gate_counts(gate["totals"])
    if not text and gate["exit_code"] is not None:
        text = f"exit code {gate['exit_code']}"
    if gate["coverage"]:
        text += f"{', ' if text else ''}coverage {gate['coverage']['percent']:g}%"
    return text


def _colored(line: str) -> str:
    if line.startswith(("+++", "---", "diff --git", "index ")):
        return click.style(line, bold=True)
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    return line


def _done(row: PatchRow, as_json: bool, ledger: Ledger) -> None:
    if as_json:
        echo_json(_documents(ledger, row))
        return
    reason = f": {row['state_reason']}" if row["state_reason"] else ""
    click.echo(f"patch {row['patch_id']} {styled_state(row['state'])}{reason}")


@patch.command()
@patch_argument
@json_option
@click.pass_context
def rollback(ctx: click.Context, patch_ref: str, as_json: bool) -> None:
    """Revert a committed patch on its integration branch (state rolled_back).

    A new commit undoes the patch's commit; nothing is rewritten, and your own branch is
    not touched (`uet land` brings the revert in like any other commit).

    \b
    Example:
      uet patch rollback 01JD3QX4
    """
    ledger = writable_ledger(ctx)
    _done(rollback_patch(ledger, patch_ref), as_json, ledger)


@patch.command()
@patch_argument
@click.option("--keep-worktree", is_flag=True, help="Keep the worktree if it fails again.")
@json_option
@click.pass_context
def requeue(ctx: click.Context, patch_ref: str, keep_worktree: bool, as_json: bool) -> None:
    """Try a patch that did not apply (or was quarantined) again, now.

    It is applied to a fresh worktree at the integration head, its task's gates run, and
    if they pass it lands. Exit code 1 if it does not land.

    \b
    Example:
      uet patch requeue 01JD3QX4
    """
    ledger = writable_ledger(ctx)
    row = requeue_patch(ledger, patch_ref, RunOptions(keep_worktrees=keep_worktree))
    _done(row, as_json, ledger)
    if row["state"] != "committed":
        raise SystemExit(1)


@patch.command()
@patch_argument
@click.option("--reason", default="dropped by user", show_default=True, help="Recorded with it.")
@json_option
@click.pass_context
def drop(ctx: click.Context, patch_ref: str, reason: str, as_json: bool) -> None:
    """Give up on a patch that has not landed (verified, apply_failed or quarantined).

    \b
    Example:
      uet patch drop 01JD3QX4 --reason "superseded by the manual fix"
    """
    ledger = writable_ledger(ctx)
    _done(drop_patch(ledger, patch_ref, reason), as_json, ledger)


@click.command()
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option("--ff-only", is_flag=True, help="Refuse unless your branch can fast-forward.")
@click.option(
    "--no-gate",
    "no_gate",
    is_flag=True,
    help="Land a merge commit without running the run's gates on it first (recorded).",
)
@json_option
@click.pass_context
def land(
    ctx: click.Context, run_ref: str | None, ff_only: bool, no_gate: bool, as_json: bool
) -> None:
    """Bring a run's integration branch (uet/<run>) into your checked-out branch.

    Fast-forwards when your branch has not moved since the run started (every commit
    there was gated on its tree), else makes a merge commit (or refuses, with --ff-only)
    and runs the blocking gates of the run's patches on it in a private copy first: one
    that does not pass refuses the landing and leaves your branch where it was (--no-gate
    skips this, with a warning recorded). Refused, with the reason, when the
    working tree has uncommitted changes, HEAD is detached, the run is still executing,
    the merge would conflict, or uet/<run> holds a commit UET did not make (the message
    says how to put it back); then nothing is changed.

    Safe to interrupt: killed half way, your checkout is at the old commit or the new
    one, or running `uet land` again finishes the landing (it says which files to settle
    when it cannot tell its own writes from yours).

    \b
    Examples:
      uet land              # the latest run
      uet land 01JD3Q --ff-only
      uet land --no-gate    # your branch moved and its merge fails the gates: land anyway
    """
    ledger = writable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    if no_gate:
        click.echo("warning: a merge commit lands without its gates (--no-gate)", err=True)
    result = land_run(ledger, run_id, ff_only=ff_only, gate=not no_gate)
    if as_json:
        echo_json(result.document())
        return
    if result.mode == "up-to-date":
        click.echo(f"{result.into} already has everything on {result.branch}")
        return
    click.echo(
        f"landed {result.branch} into {result.into} ({result.mode}): "
        f"{result.before[:12]} -> {result.after[:12]}, {result.patches} patch(es)"
    )


@click.command()
@click.argument("run_ref", metavar="[RUN]", required=False)
@json_option
@click.pass_context
def verify(ctx: click.Context, run_ref: str | None, as_json: bool) -> None:
    """Check that every commit on uet/<run> was gated on exactly its tree.

    Each patch commit must have a passing result of every blocking gate of its task
    recorded in the ledger on the commit's own tree (gates with "scope": "patch" judge the
    change, so any passing result of the patch counts). Revert commits are listed as such;
    a commit UET did not make fails the check. Exit 1, with the commits, when one fails: use
    it in CI before merging a run's branch.

    \b
    Examples:
      uet verify            # the latest run
      uet verify 01JD3Q --json
    """
    ledger = readable_ledger(ctx)
    result = verify_run(ledger, resolve_run_id(ledger, run_ref))
    if as_json:
        echo_json(result.document())
    elif result.head is None:
        click.echo(f"run {result.run_id} has no integration branch: nothing to verify")
    else:
        for check in result.commits:
            mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red")
            gates = ", ".join(f"{name} {state}" for name, state in check.gates.items())
            detail = check.kind if check.kind != "patch" else (gates or "no blocking gates")
            click.echo(f"{mark} {check.commit[:12]} {check.subject}  [{detail}]")
            for problem in check.problems:
                click.echo(f"       {problem}")
        verdict = "every commit was gated on its exact tree" if result.ok else "not verified"
        click.echo(f"{result.branch}: {len(result.commits)} commit(s), {verdict}")
    if not result.ok:
        raise SystemExit(EXIT_FAILED)


COMMANDS = [patches, patch, land, verify]
