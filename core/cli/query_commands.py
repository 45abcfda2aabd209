"""Commands that read the ledger: runs, status, events. None of them writes."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from core import clock
from core.cli.common import json_option, readable_ledger
from core.cli.output import (
    duration,
    echo_json,
    echo_json_line,
    progress_bar,
    short,
    styled_state,
    table,
)
from core.engine.monitoring import follow_events, measure
from core.engine.records import event_document, run_document, task_summary
from core.engine.runs import get_run, resolve_run_id
from core.state import AttemptRow, EventRow, Ledger

run_argument = click.argument("run_ref", metavar="[RUN]", required=False)


@click.command()
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many runs.",
)
@json_option
@click.pass_context
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List recent runs, newest first.

    \b
    Examples:
      uet runs
      uet runs -n 5 --json
    """
    ledger = readable_ledger(ctx)
    listed = [(run, ledger.task_counts(run["run_id"])) for run in ledger.list_runs(limit)]
    if as_json:
        echo_json([run_document(run, counts) for run, counts in listed])
        return
    if not listed:
        click.echo("no runs yet; start one with `uet run BUNDLE`")
        return
    lines = [
        [
            run["run_id"],
            styled_state(run["state"]),
            f"{counts.by_state.get('succeeded', 0)}/{counts.total}",
            run["created_at"][:19].replace("T", " "),
            duration(measure(run, counts).elapsed_seconds),
            run["name"] or "",
        ]
        for run, counts in listed
    ]
    click.echo(table(["RUN", "STATE", "SUCCEEDED", "CREATED (UTC)", "DURATION", "NAME"], lines))


@click.command()
@run_argument
@click.option("-w", "--watch", is_flag=True, help="Redraw every second until the run stops.")
@json_option
@click.pass_context
def status(ctx: click.Context, run_ref: str | None, watch: bool, as_json: bool) -> None:
    """Show a run's state, progress (with ETA while it runs) and every task.

    RUN is a run id or a unique prefix of one; default: the latest run.

    \b
    Examples:
      uet status
      uet status 01JD3Q --watch
      uet status --json | jq '.tasks[] | select(.state=="failed")'
    """
    ledger = readable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    if as_json:
        echo_json(_status_document(ledger, run_id))
        return
    while True:
        text = _status_text(ledger, run_id)
        if not watch:
            click.echo(text)
            return
        click.clear()
        click.echo(text)
        if get_run(ledger, run_id)["state"] not in ("pending", "running"):
            return
        time.sleep(1.0)


def _latest_attempts(ledger: Ledger, run_id: str) -> dict[str, AttemptRow]:
    latest: dict[str, AttemptRow] = {}
    for attempt in ledger.list_attempts(run_id):
        current = latest.get(attempt["task_id"])
        if current is None or attempt["attempt_no"] > current["attempt_no"]:
            latest[attempt["task_id"]] = attempt
    return latest


def _status_document(ledger: Ledger, run_id: str) -> dict[str, Any]:
    run = get_run(ledger, run_id)
    counts = ledger.task_counts(run_id)
    latest = _latest_attempts(ledger, run_id)
    return {
        "run": run_document(run, counts),
        "progress": measure(run, counts).as_dict(),
        "tasks": [
            task_summary(task, latest.get(task["task_id"])) for task in ledger.list_tasks(run_id)
        ],
    }


def _status_text(ledger: Ledger, run_id: str) -> str:
    run = get_run(ledger, run_id)
    counts = ledger.task_counts(run_id)
    progress = measure(run, counts)
    latest = _latest_attempts(ledger, run_id)
    header = (
        f"run {click.style(run_id, bold=True)}  {run['name'] or ''}  {styled_state(run['state'])}"
    )
    lines = [header]
    if run["state_reason"]:
        lines.append(f"  {run['state_reason']}")
    lines.append(progress_bar(progress))
    rows = []
    for task in ledger.list_tasks(run_id):
        attempt = latest.get(task["task_id"])
        elapsed = attempt["duration_seconds"] if attempt else None
        if attempt and attempt["state"] == "running":
            elapsed = clock.seconds_since(attempt["started_at"])
        detail = task["state_reason"] or ""
        if task["state"] == "succeeded" and task["output"] is not None:
            detail = "output: " + short(json.dumps(task["output"]))
        rows.append(
            [
                task["task_id"],
                styled_state(task["state"]),
                f"{task['attempts']}/{task['max_attempts']}",
                duration(elapsed),
                short(detail, 70),
            ]
        )
    lines.append(table(["TASK", "STATE", "ATTEMPTS", "DURATION", "DETAIL"], rows))
    return "\n".join(lines)


@click.command()
@run_argument
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until the run stops.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="PREFIX",
    help="Only events whose kind starts with PREFIX (repeatable), e.g. task. or attempt.failed.",
)
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=0,
    metavar="SEQ",
    help="Only events after this sequence number.",
)
@json_option
@click.pass_context
def events(
    ctx: click.Context,
    run_ref: str | None,
    follow: bool,
    kinds: tuple[str, ...],
    after: int,
    as_json: bool,
) -> None:
    """Print a run's events in order (JSON Lines with --json, one run_event.v1 per line).

    \b
    Examples:
      uet events
      uet events 01JD3Q --follow
      uet events --kind task.failed --kind attempt.timed_out --json
    """
    ledger = readable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    stream = (
        follow_events(ledger, run_id, after_seq=after)
        if follow
        else iter(ledger.list_events(run_id, after_seq=after))
    )
    for event in stream:
        if kinds and not event["kind"].startswith(kinds):
            continue
        if as_json:
            echo_json_line(event_document(event))
        else:
            click.echo(_event_line(event))


def _event_line(event: EventRow) -> str:
    payload = dict(event["payload"])
    previous = payload.pop("from", None)
    kind = event["kind"]
    if kind == "route.decided":  # the candidates are for `uet show TASK`
        payload = {k: payload.get(k) for k in ("strategy", "chosen", "role", "reason")}
        payload["chosen"] = ",".join(payload["chosen"] or [])
    state = kind.partition(".")[2]
    subject = event["task_id"] or ""
    if kind.startswith("attempt.") and "attempt_no" in payload:
        subject += f"#{payload.pop('attempt_no')}"
    change = f"{previous} -> {styled_state(state)}" if previous else styled_state(state)
    extras = " ".join(
        f"{key}={short(str(value), 80)}" for key, value in payload.items() if value is not None
    )
    machine = kind.partition(".")[0]
    line = f"{event['seq']:>6}  {event['ts'][11:23]}  {machine:<8} {subject:<24} {change}  {extras}"
    return line.rstrip()


COMMANDS = [runs, status, events]
