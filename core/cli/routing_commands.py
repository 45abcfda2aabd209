"""Commands about tools, workers and money: tools, worker, workers, costs, show, task."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

from core import clock
from core.cli.common import (
    budget_limits,
    existing_ledger,
    json_option,
    ledger_url,
    load_router_for,
    readable_ledger,
    router_option,
    task_budget_options,
    writable_ledger,
)
from core.cli.live import LiveReporter
from core.cli.output import duration, echo_decision, echo_json, short, styled_state, table
from core.cli.run_commands import report
from core.engine.costs import cost_document
from core.engine.events import EventBus
from core.engine.execution import sandbox
from core.engine.options import RunOptions
from core.engine.process_worker import ProcessWorker, WorkerOptions
from core.engine.records import attempt_document
from core.engine.routing.config import RouterConfig
from core.engine.runs import get_run, resolve_run_id, resume_run, retry_task
from core.engine.worker_records import LIVE_STATES, stale, worker_document
from core.errors import TaskNotFound
from core.state import CostRow, Ledger

_VERSION_TIMEOUT = 5.0


# -- tools ----------------------------------------------------------------------------------------


@click.command()
@router_option
@json_option
@click.pass_context
def tools(ctx: click.Context, router_path: Path | None, as_json: bool) -> None:
    """List the tools of the router config: found on PATH or not, whether the sandbox lets
    them reach the network, version, circuit state, recent success rate (latest 50 attempts
    in the ledger), and the isolation they run under.

    \b
    Examples:
      uet tools
      uet tools --router agents.json --json
    """
    router = load_router_for(router_path)
    if router is None:
        raise click.UsageError(
            "no router config: pass --router FILE or create .uet/router_config.json"
        )
    circuits, recent = _ledger_view(ctx)
    rows = [
        _tool_report(router, name, circuits.get(name), recent.get(name)) for name in router.tools
    ]
    isolation = sandbox.detect(sandbox.settings(router.document)[0])
    if as_json:
        echo_json({"router": router.source, "isolation": isolation.level, "tools": rows})
        return
    lines = []
    for row in rows:
        found = row["path"] or click.style("not found", fg="red")
        rate = row["recent_success_rate"]
        lines.append(
            [
                row["tool"],
                row["adapter"],
                "yes" if row["writes"] else "no",
                "yes" if row["network"] else "no",
                found,
                short(row["version"] or "", 30),
                styled_state(row["circuit"]),
                "-" if rate is None else f"{rate:.0%} of {row['recent_attempts']}",
            ]
        )
    click.echo(
        table(
            ["TOOL", "ADAPTER", "WRITES", "NETWORK", "PATH", "VERSION", "CIRCUIT", "SUCCESS"],
            lines,
        )
    )
    click.echo(f"isolation: {isolation.level} ({isolation.reason}); see `uet doctor`")


def _ledger_view(ctx: click.Context) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """Circuit states and recent outcomes per tool, if there is a ledger."""
    with existing_ledger(ledger_url(ctx)) as ledger:
        if ledger is None:
            return {}, {}
        circuits = {row["tool"]: row["state"] for row in ledger.list_circuits()}
        return circuits, ledger.recent_outcomes(50)


def _tool_report(
    router: RouterConfig, name: str, circuit: str | None, recent: tuple[int, int] | None
) -> dict[str, Any]:
    tool = router.tools[name]
    program = tool.argv[0]
    path = shutil.which(program)
    version = None
    if path is not None:
        argv = list(tool.spec.get("version_argv") or [program, "--version"])
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=_VERSION_TIMEOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            lines = (done.stdout or done.stderr).strip().splitlines()
            version = lines[0].strip() if lines else None
    attempts, succeeded = recent or (0, 0)
    return {
        "tool": name,
        "adapter": tool.spec.get("adapter", "command"),
        "writes": tool.writes,
        "network": tool.network,
        "program": program,
        "path": path,
        "version": version,
        "usage": tool.usage_parser,
        "circuit": circuit or "closed",
        "recent_attempts": attempts,
        "recent_success_rate": round(succeeded / attempts, 4) if attempts else None,
    }


# -- workers --------------------------------------------------------------------------------------


@click.command()
@click.option(
    "--ledger",
    "ledger_opt",
    metavar="URL",
    help="Ledger to take work from (same as the global --ledger).",
)
@click.option("--run", "run_ref", metavar="RUN", help="Serve only this run (default: every run).")
@click.option(
    "-p",
    "--parallel",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Attempts run at once.",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Heartbeat interval; 3 missed beats and runs declare it lost.",
)
@click.option(
    "--idle-exit",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Stop after this long with nothing to do (default: run until stopped).",
)
@click.pass_context
def worker(
    ctx: click.Context,
    ledger_opt: str | None,
    run_ref: str | None,
    parallel: int,
    heartbeat: float,
    idle_exit: float | None,
) -> None:
    """Run a worker process: take ready attempts from the ledger and run them.

    A `uet run` runs attempts on its own threads and leaves the rest, when its threads are
    busy, to worker processes on the same ledger (tasks that change files stay with the
    run). Start as many as the machine can take. SIGINT/SIGTERM drain: no new attempts,
    running ones finish; a second signal stops them (their runs requeue them).

    \b
    Examples:
      uet worker --ledger sqlite:///.ledger/framework.db --parallel 4
      uet worker --run 01JD3Q --idle-exit 30
    """
    if ledger_opt:
        ctx.find_root().obj["ledger_url"] = ledger_opt
    ledger = writable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref) if run_ref else None
    options = WorkerOptions(
        slots=parallel, run_id=run_id, heartbeat_seconds=heartbeat, idle_exit_seconds=idle_exit
    )
    process = ProcessWorker(ledger, options, dict(os.environ))
    click.echo(f"worker serving {run_id or 'every run'} on {ledger.location}", err=True)
    ran = process.serve()
    click.echo(f"worker {process.worker_id} stopped after {ran} attempt(s)", err=True)


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include stopped and lost workers.")
@json_option
@click.pass_context
def workers(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List workers: the threads of each `uet run` and `uet worker` processes, with their
    heartbeat, current attempt and statistics. A live worker silent for 3 heartbeats is
    shown lost (runs mark it so and requeue its attempts).

    \b
    Examples:
      uet workers
      uet workers --all --json
    """
    ledger = readable_ledger(ctx)
    rows = ledger.list_workers(() if show_all else LIVE_STATES)
    activity = ledger.worker_activity()
    documents = []
    for row in rows:
        document = worker_document(row, activity.get(row["worker_id"]))
        if row["state"] in LIVE_STATES and stale(row):
            document["state"] = "lost"
        documents.append(document)
    if as_json:
        echo_json(documents)
        return
    if not documents:
        click.echo("no live workers" + ("" if show_all else " (--all shows stopped ones)"))
        return
    lines = []
    for doc, row in zip(documents, rows, strict=True):
        beat = doc["heartbeat_at"]
        stats = doc["stats"]
        lines.append(
            [
                doc["worker_id"],
                f"{doc['kind']} x{row['slots']}",
                f"{doc['host']}:{doc['pid']}",
                styled_state(doc["state"]),
                f"{duration(clock.seconds_since(beat))} ago" if beat else "-",
                doc["current_attempt_id"] or "-",
                f"{stats['attempts']} ({stats['succeeded']} ok, {stats['failed']} failed)",
            ]
        )
    click.echo(
        table(["WORKER", "KIND", "PROCESS", "STATE", "HEARTBEAT", "ATTEMPT", "ATTEMPTS"], lines)
    )


# -- costs ----------------------------------------------------------------------------------------

_GROUPS = {"tool": "tool", "task": "task_id", "model": "model", "workstream": "workstream_id"}


@click.command()
@click.argument("run_ref", metavar="RUN", required=False)
@click.option(
    "--by",
    "by",
    type=click.Choice(sorted(_GROUPS)),
    default="tool",
    show_default=True,
    help="Group the costs by this.",
)
@click.option("--all-runs", is_flag=True, help="Every run in the ledger, not one.")
@json_option
@click.pass_context
def costs(ctx: click.Context, run_ref: str | None, by: str, all_runs: bool, as_json: bool) -> None:
    """What a run cost: money, tokens, tool time and CPU time, grouped.

    One cost row is recorded per attempt (tokens, model and money the tool reported, or
    estimated from the router's pricing, marked ~) and per gate run (machine time).
    RUN defaults to the latest run.

    \b
    Examples:
      uet costs
      uet costs 01JD3Q --by task
      uet costs --all-runs --by model --json
    """
    ledger = readable_ledger(ctx)
    run_id = None if all_runs else resolve_run_id(ledger, run_ref)
    rows = ledger.list_costs(run_id)
    workstream_of = _task_workstreams(ledger, run_id)
    groups: dict[str, dict[str, Any]] = defaultdict(_empty_group)
    for row in rows:
        key = row[_GROUPS[by]]  # type: ignore[literal-required]
        if by == "workstream" and key is None:
            key = workstream_of.get(row["task_id"] or "")
        if by == "tool" and key is None:
            key = "(gates)" if row["subject_kind"] == "gate" else "(commands)"
        _add(groups[str(key or "-")], row)
    total = _empty_group()
    for row in rows:
        _add(total, row)
    if as_json:
        echo_json(
            {
                "run_id": run_id,
                "by": by,
                "groups": [{by: name, **_rounded(g)} for name, g in sorted(groups.items())],
                "total": _rounded(total),
                "records": [cost_document(row) for row in rows],
            }
        )
        return
    header = f"costs of run {run_id}" if run_id else "costs of every run"
    click.echo(f"{header}, by {by}:")
    lines = [_cost_line(name, group) for name, group in sorted(groups.items())]
    lines.append(_cost_line("total", total))
    click.echo(
        table([by.upper(), "RECORDS", "TOKENS IN", "TOKENS OUT", "COST", "TOOL TIME", "CPU"], lines)
    )
    if total["estimated"]:
        click.echo("~ estimated from the router's pricing (the tool reported tokens, not money)")


def _task_workstreams(ledger: Ledger, run_id: str | None) -> dict[str, str]:
    if run_id is None:
        return {}
    return {task["task_id"]: task["workstream_id"] for task in ledger.list_tasks(run_id)}


def _empty_group() -> dict[str, Any]:
    return {
        "records": 0,
        "tokens_in": 0,
        "tokens_out": 0,
        "amount": 0.0,
        "currency": "USD",
        "estimated": 0,
        "wall_seconds": 0.0,
        "cpu_seconds": 0.0,
    }


def _add(group: dict[str, Any], row: CostRow) -> None:
    group["records"] += 1
    group["tokens_in"] += row["tokens_in"]
    group["tokens_out"] += row["tokens_out"]
    group["amount"] += row["amount"]
    group["currency"] = row["currency"] if row["amount"] else group["currency"]
    group["estimated"] += int(row["estimated"])
    group["wall_seconds"] += row["wall_seconds"] or 0.0
    group["cpu_seconds"] += row["cpu_seconds"] or 0.0


def _rounded(group: dict[str, Any]) -> dict[str, Any]:
    return {
        **group,
        "amount": round(group["amount"], 6),
        "wall_seconds": round(group["wall_seconds"], 3),
        "cpu_seconds": round(group["cpu_seconds"], 3),
    }


def _cost_line(name: str, group: dict[str, Any]) -> list[str]:
    mark = "~" if group["estimated"] else ""
    money = f"{mark}{group['amount']:.4f} {group['currency']}"
    return [
        name,
        str(group["records"]),
        str(group["tokens_in"]),
        str(group["tokens_out"]),
        money,
        duration(group["wall_seconds"]),
        duration(group["cpu_seconds"]),
    ]


# -- one task -------------------------------------------------------------------------------------


@click.command()
@click.argument("task_id", metavar="TASK")
@click.option("--run", "run_ref", metavar="RUN", help="The run (default: the latest).")
@json_option
@click.pass_context
def show(ctx: click.Context, task_id: str, run_ref: str | None, as_json: bool) -> None:
    """Show one task of a run: its state, each attempt (tool, role, outcome, tokens, cost)
    and every routing decision (candidates, scores, chosen, reason).

    \b
    Examples:
      uet show fix-imports
      uet show review --run 01JD3Q --json
    """
    ledger = readable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    task = ledger.get_task(run_id, task_id)
    if task is None:
        raise TaskNotFound(run_id, task_id, [t["task_id"] for t in ledger.list_tasks(run_id)])
    attempts = ledger.list_attempts(run_id, task_id)
    cost_of = {
        row["subject_id"]: row for row in ledger.list_costs(run_id) if row["task_id"] == task_id
    }
    decisions = [
        {"attempt_id": e["attempt_id"], **e["payload"]}
        for e in ledger.list_events(run_id)
        if e["kind"] == "route.decided" and e["task_id"] == task_id
    ]
    if as_json:
        echo_json(
            {
                "run_id": run_id,
                "task_id": task_id,
                "state": task["state"],
                "state_reason": task["state_reason"],
                "request": task["request"],
                "planned_routing": task["request"].get("routing"),
                "decisions": decisions,
                "attempts": [
                    {
                        **attempt_document(a),
                        "role": a["role"],
                        "cost": cost_document(cost_of[a["attempt_id"]])
                        if a["attempt_id"] in cost_of
                        else None,
                    }
                    for a in attempts
                ],
            }
        )
        return
    click.echo(
        f"task {click.style(task_id, bold=True)} of run {run_id}: {styled_state(task['state'])}"
    )
    if task["state_reason"]:
        click.echo(f"  {task['state_reason']}")
    request = task["request"]
    if request["action"] == "tool":
        what = f"tool {request['tool']}" if request.get("tool") else f"kind {request.get('kind')}"
    else:
        what = f"{request['action']} {request.get('argv') or request.get('call')}"
    click.echo(f"  {what}")
    for attempt in attempts:
        cost = cost_of.get(attempt["attempt_id"])
        money = ""
        if cost is not None and (cost["amount"] or cost["tokens_in"]):
            mark = "~" if cost["estimated"] else ""
            money = f"  {cost['tokens_in']}+{cost['tokens_out']} tokens {mark}${cost['amount']:.4f}"
        tool = f" {attempt['tool']}" if attempt["tool"] else ""
        role = f" ({attempt['role']})" if attempt["role"] and attempt["role"] != "primary" else ""
        click.echo(
            f"  #{attempt['attempt_no']}{tool}{role} {styled_state(attempt['state'])} "
            f"{duration(attempt['duration_seconds'])}{money}"
        )
        if attempt["error"]:
            click.echo(f"      {short(attempt['error'], 100)}")
        if attempt["patch_id"]:
            click.echo(f"      patch {attempt['patch_id']}")
    seen: set[str] = set()
    for decision in decisions:
        key = repr(decision["chosen"]) + decision["reason"] + str(decision.get("decided_at"))
        if key in seen:
            continue  # one decision, several branches
        seen.add(key)
        echo_decision("routed", decision)


# -- failed tasks ---------------------------------------------------------------------------------


@click.group()
def task() -> None:
    """Tasks that ran out of attempts: list them, run them again.

    \b
    Examples:
      uet task failed
      uet task retry fix-imports --run 01JD3Q
    """


@task.command("failed")
@click.argument("run_ref", metavar="RUN", required=False)
@json_option
@click.pass_context
def task_failed(ctx: click.Context, run_ref: str | None, as_json: bool) -> None:
    """List the tasks of RUN (default: the latest) that failed after their last attempt.

    \b
    Example:
      uet task failed 01JD3Q
    """
    ledger = readable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    failed = [t for t in ledger.list_tasks(run_id) if t["state"] == "failed"]
    if as_json:
        echo_json(
            [
                {
                    "run_id": run_id,
                    "task_id": t["task_id"],
                    "attempts": t["attempts"],
                    "max_attempts": t["max_attempts"],
                    "reason": t["state_reason"],
                }
                for t in failed
            ]
        )
        return
    if not failed:
        click.echo(f"run {run_id}: no failed task")
        return
    click.echo(
        table(
            ["TASK", "ATTEMPTS", "REASON"],
            [
                [
                    t["task_id"],
                    f"{t['attempts']}/{t['max_attempts']}",
                    short(t["state_reason"] or "", 90),
                ]
                for t in failed
            ],
        )
    )
    click.echo(f"retry one: uet task retry TASK --run {run_id}")


@task.command("retry")
@click.argument("task_id", metavar="TASK")
@click.option("--run", "run_ref", metavar="RUN", help="The run (default: the latest).")
@click.option("--no-resume", is_flag=True, help="Only reopen the task; resume the run later.")
@task_budget_options
@json_option
@click.pass_context
def task_retry(
    ctx: click.Context,
    task_id: str,
    run_ref: str | None,
    no_resume: bool,
    budget_usd: float | None,
    budget_tokens: int | None,
    budget_wall_seconds: float | None,
    as_json: bool,
) -> None:
    """Run a failed task again, with as many attempts as it had, and the tasks skipped
    because of it. The run reopens (paused) and, unless --no-resume, resumes at once.
    A task its own budget stopped needs more: --budget-usd X (and the like) raise it.

    \b
    Examples:
      uet task retry fix-imports --run 01JD3Q
      uet task retry rewrite-pricing --budget-usd 0.5
    """
    ledger = writable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    limits = budget_limits(budget_usd, budget_tokens, budget_wall_seconds)
    retry_task(ledger, run_id, task_id, budget=limits or None)
    if no_resume:
        run = get_run(ledger, run_id)
        if as_json:
            echo_json({"run_id": run_id, "task_id": task_id, "state": run["state"]})
        else:
            click.echo(f"task {task_id} reopened; continue with `uet resume {run_id}`")
        return
    bus = EventBus()
    with LiveReporter(ledger, run_id, bus, enabled=not as_json):
        result = resume_run(ledger, run_id, RunOptions(), bus=bus)
    report(result, as_json, ledger)


COMMANDS = [tools, worker, workers, costs, show, task]
