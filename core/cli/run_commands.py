"""Commands that check, plan and execute bundles: validate, plan, run, resume, cancel."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click

from core.adapters.git import Git
from core.cli.app import EXIT_INTERRUPTED
from core.cli.common import (
    budget_limits,
    budget_options,
    existing_ledger,
    json_option,
    ledger_url,
    load_router_for,
    parallel_option,
    router_option,
    writable_ledger,
)
from core.cli.live import LiveReporter
from core.cli.output import echo_decision, echo_json, styled_state
from core.contracts import issues as schema_issues
from core.contracts import load_json
from core.contracts.registry import SCHEMA_NAMES
from core.engine.bundle import SCHEMA as BUNDLE_SCHEMA
from core.engine.bundle import Bundle, check_bundle, load_bundle
from core.engine.events import EventBus
from core.engine.execution.sandbox import require_isolation
from core.engine.options import DEFAULT_LOG_MAX_BYTES, RunOptions, RunResult
from core.engine.requests import action_of
from core.engine.routing.config import SCHEMA as ROUTER_SCHEMA
from core.engine.routing.config import RouterConfig, check_router
from core.engine.routing.strategies import Decision, Situation, decide
from core.engine.runs import (
    cancel_run,
    check_target,
    create_run,
    execute_run,
    raise_budget,
    resolve_run_id,
    resume_run,
)
from core.errors import EXIT_FAILED, EXIT_INVALID, DocumentInvalid, Issue
from core.state import Ledger


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@router_option
@json_option
def validate(files: tuple[Path, ...], router_path: Path | None, as_json: bool) -> None:
    """Check documents against their schema (chosen by their `schema_version`).

    Bundles (workstream_spec.v1) are also checked for meaning: unique ids, known
    dependencies, no cycles, importable `call`s, tools and kinds the router config
    routes. Router configs are checked for known tools and placeholders. Every problem is
    listed with its JSON path. Exit code 2 if any file is invalid.

    \b
    Examples:
      uet validate workstreams/examples/*.json
      uet validate --json .uet/router_config.json
    """
    reports: list[dict[str, Any]] = []
    try:
        router = load_router_for(router_path)
        router_problems: list[Issue] = []
    except DocumentInvalid as exc:
        router, router_problems = None, list(exc.issues)
    for path in files:
        schema, problems, summary = _check_file(path, router)
        if schema == BUNDLE_SCHEMA and router_problems:
            problems = [Issue(f"router {i.source}: {i.path}", i.message) for i in router_problems]
        reports.append(
            {
                "file": str(path),
                "schema": schema,
                "valid": not problems,
                "summary": summary,
                "issues": [{"path": i.path, "message": i.message} for i in problems],
            }
        )
    if as_json:
        echo_json(reports)
    else:
        for report in reports:
            if report["valid"]:
                click.echo(
                    f"{click.style('ok', fg='green')}       {report['file']}  ({report['summary']})"
                )
                continue
            count = len(report["issues"])
            click.echo(
                f"{click.style('invalid', fg='red')}  {report['file']}  "
                f"({count} problem{'s' if count != 1 else ''})"
            )
            for issue in report["issues"]:
                click.echo(f"  {issue['path']}: {issue['message']}")
    if not all(report["valid"] for report in reports):
        raise SystemExit(EXIT_INVALID)


def _check_file(path: Path, router: RouterConfig | None) -> tuple[str | None, list[Issue], str]:
    try:
        document = load_json(path)
    except DocumentInvalid as exc:
        return None, list(exc.issues), ""
    schema = _schema_of(document)
    if schema is None:
        known = ", ".join(SCHEMA_NAMES)
        return (
            None,
            [Issue("$.schema_version", f"missing or unknown; expected one of: {known}")],
            "",
        )
    if schema == BUNDLE_SCHEMA:
        try:
            bundle = check_bundle(document, path=path, router=router)
        except DocumentInvalid as exc:
            return schema, list(exc.issues), ""
        waves = len(bundle.plan.waves)
        return (
            schema,
            [],
            (
                f"{schema}: {len(bundle.workstreams)} workstream(s), {len(bundle.tasks)} task(s), "
                f"{waves} wave(s)"
            ),
        )
    if schema == ROUTER_SCHEMA:
        try:
            config = check_router(document, str(path))
        except DocumentInvalid as exc:
            return schema, list(exc.issues), ""
        return schema, [], f"{schema}: {len(config.tools)} tool(s)"
    problems = schema_issues(document, schema, str(path))
    return schema, problems, schema


def _schema_of(document: Any) -> str | None:
    if isinstance(document, list):
        return BUNDLE_SCHEMA
    if isinstance(document, dict):
        version = document.get("schema_version")
        if version in SCHEMA_NAMES:
            return str(version)
    return None


@click.command()
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(path_type=Path))
@router_option
@json_option
@click.pass_context
def plan(ctx: click.Context, bundle_path: Path, router_path: Path | None, as_json: bool) -> None:
    """Show how a bundle would run, without running it: waves and the critical path.

    Wave N holds the tasks whose longest chain of dependencies has N links; tasks of a
    wave can run side by side. The critical path is the heaviest chain (by each task's
    `estimate_seconds`, default 1): the run cannot finish faster than it.

    Tool tasks show how they would be routed now: the rule, the strategy, each
    candidate's score, the tool(s) chosen and why (the decision is made again at each
    dispatch, with the circuits and load of that moment).

    \b
    Examples:
      uet plan workstreams/examples/fanout.json
      uet plan --router .uet/router_config.json workstreams/examples/agents.json
    """
    bundle = load_bundle(bundle_path, load_router_for(router_path, bundle_path.parent))
    result = bundle.plan
    routes = _planned_routes(bundle, ledger_url(ctx))
    if as_json:
        echo_json(
            {
                "bundle": str(bundle_path),
                "tasks": len(bundle.tasks),
                "waves": [list(wave) for wave in result.waves],
                "critical_path": list(result.critical_path),
                "critical_weight": result.critical_weight,
                "routing": {task: d.document() for task, d in routes.items()},
            }
        )
        return
    workstream_of = {entry.spec["task_id"]: entry.workstream_id for entry in bundle.tasks}
    multiple = len(bundle.workstreams) > 1
    click.echo(
        f"{bundle.name}: {len(bundle.tasks)} task(s) in {len(bundle.workstreams)} workstream(s), "
        f"{len(result.waves)} wave(s)"
    )
    for index, wave in enumerate(result.waves, start=1):
        names = [f"{workstream_of[t]}/{t}" if multiple else t for t in wave]
        click.echo(f"  wave {index}: {' '.join(names)}")
    click.echo(
        f"critical path ({len(result.critical_path)} task(s), weight {result.critical_weight:g}): "
        + " -> ".join(result.critical_path)
    )
    if routes:
        click.echo("routing:")
        for task_id, decision in routes.items():
            echo_decision(task_id, decision.document())


def _planned_routes(bundle: Bundle, url: str | None) -> dict[str, Decision]:
    """How each tool task would be routed now (history from the ledger, if there is one)."""
    router = bundle.router
    if router is None:
        return {}
    routes: dict[str, Decision] = {}
    with existing_ledger(url) as ledger:
        for entry in bundle.tasks:
            route = router.route_for(entry.spec)
            if route is None or action_of(entry.spec) != "tool":
                continue
            kind = entry.spec.get("kind")
            history = ledger.tool_history(kind) if ledger is not None else {}
            routes[entry.spec["task_id"]] = decide(route, router, Situation(kind, history=history))
    return routes


log_max_bytes_option = click.option(
    "--log-max-bytes",
    type=click.IntRange(min=0),
    default=DEFAULT_LOG_MAX_BYTES,
    show_default=True,
    help="Keep at most this many bytes of each attempt's stdout and of its stderr.",
)
quiet_option = click.option("-q", "--quiet", is_flag=True, help="Print only the final summary.")
keep_worktrees_option = click.option(
    "--keep-worktrees",
    is_flag=True,
    help="Keep the worktree of each failed writing attempt (under .worktrees/<run>/) to inspect.",
)


@click.command()
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(path_type=Path))
@parallel_option
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Repository that writing tasks change (default: the one around the current directory).",
)
@router_option
@budget_options
@click.option(
    "--reuse-results",
    is_flag=True,
    help="Skip tasks whose identical spec already succeeded in an earlier run on the same "
    "base commit (tasks that change files always run).",
)
@keep_worktrees_option
@log_max_bytes_option
@quiet_option
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    bundle_path: Path,
    parallel: int | None,
    repo: Path | None,
    router_path: Path | None,
    budget_usd: float | None,
    budget_tokens: int | None,
    budget_wall_seconds: float | None,
    reuse_results: bool,
    keep_worktrees: bool,
    log_max_bytes: int,
    quiet: bool,
    as_json: bool,
) -> None:
    """Execute a bundle: validate it, record a run in the ledger, run its tasks.

    Tasks start as soon as their dependencies succeed, highest `priority` first, at most
    --parallel at once (and each workstream's `concurrency.max_parallel`). Each attempt's
    output goes to .ledger/logs/<run>/. Ctrl-C stops cleanly: running attempts are
    interrupted and the run is paused; `uet resume RUN` continues it.

    Tasks with "writes": true run in their own git worktree of --repo. What they change
    becomes a patch that must pass the patch policy and the task's gates; then it lands
    on the branch uet/<run-id>. Your checkout and branch are never touched: see the
    patches with `uet patches`, take them with `uet land`.

    Tasks naming a `tool` or a `kind` are routed by the router config (--router, or
    .uet/router_config.json): agent CLIs and codemods run with their argv templates,
    their usage and cost recorded (`uet costs`). A used-up budget (--budget-usd,
    --budget-tokens, --budget-wall-seconds, or the bundle's) pauses the run;
    `uet resume RUN --budget-usd X` continues it.

    Exit code: 0 if every task succeeded, 1 if the run failed, 2 if the bundle is
    invalid (then nothing is written), 130 if interrupted.

    \b
    Examples:
      uet run workstreams/examples/fanout.json
      uet run --parallel 8 --json build.json
      uet run --repo ../service workstreams/examples/codemods.json
      uet run --router agents.json --budget-usd 5 workstreams/examples/agents.json
    """
    # Invalid input (bundle, router config, repository) exits 2 before the ledger opens.
    bundle = load_bundle(bundle_path, load_router_for(router_path, repo))
    target = check_target(bundle, repo, Path.cwd())
    require_isolation(
        bundle.router.document if bundle.router else None,
        target.sandbox if target else None,
        repo=target.git.repo if target else None,
    )
    ledger = writable_ledger(ctx)
    options = RunOptions(
        parallel=parallel,
        log_max_bytes=log_max_bytes,
        repo=repo,
        keep_worktrees=keep_worktrees,
        budget=budget_limits(budget_usd, budget_tokens, budget_wall_seconds) or None,
        reuse_results=reuse_results,
    )
    bus = EventBus()
    run_id = create_run(ledger, bundle, options, bus=bus, target=target)
    _announce(bundle, run_id, options, ledger.location, quiet or as_json)
    if target is not None and not (quiet or as_json):
        _note_uncommitted(target.git)
    with LiveReporter(ledger, run_id, bus, enabled=not quiet and not as_json):
        result = execute_run(ledger, run_id, options, bus=bus)
    report(result, as_json, ledger)


def _announce(bundle: Bundle, run_id: str, options: RunOptions, location: str, quiet: bool) -> None:
    if quiet:
        return
    click.echo(
        f"run {click.style(run_id, bold=True)}: {bundle.name}, {len(bundle.tasks)} task(s), "
        f"{options.workers} worker(s); ledger {location}",
        err=True,
    )


def _note_uncommitted(git: Git) -> None:
    dirty = git.dirty_paths()
    if dirty:
        head = (git.rev_parse("HEAD") or "")[:12]
        click.echo(
            f"note: {len(dirty)} uncommitted change(s) in {git.repo} are not part of this run; "
            f"its worktrees start from HEAD ({head})",
            err=True,
        )


def report(result: RunResult, as_json: bool, ledger: Ledger) -> None:
    run_row = ledger.get_run(result.run_id)
    branch = run_row["integration_branch"] if run_row else None
    patches = Counter(p["state"] for p in ledger.list_patches(result.run_id)) if branch else None
    if as_json:
        document: dict[str, Any] = {
            "run_id": result.run_id,
            "state": result.state,
            "reason": result.reason,
            "tasks": dict(result.counts),
        }
        if branch:
            document["integration_branch"] = branch
            document["patches"] = dict(patches or {})
        echo_json(document)
    else:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(result.counts.items()))
        line = f"run {result.run_id} {styled_state(result.state)}: {counts}"
        if result.reason and result.state != "succeeded":
            line += f"\n  {result.reason}"
        if branch and patches is not None:
            landed = patches.get("committed", 0)
            others = ", ".join(f"{n} {s}" for s, n in sorted(patches.items()) if s != "committed")
            line += f"\n  {landed} patch(es) landed on {branch}" + (f"; {others}" if others else "")
            line += f"\n  review: uet patches {result.run_id}   take them: uet land {result.run_id}"
        click.echo(line)
    if result.state == "paused":
        raise SystemExit(EXIT_INTERRUPTED)
    if not result.ok:
        raise SystemExit(EXIT_FAILED)


@click.command()
@click.argument("run_ref", metavar="RUN", required=False)
@parallel_option
@keep_worktrees_option
@log_max_bytes_option
@click.option(
    "--force", is_flag=True, help="Resume even if the run's recorded process looks alive."
)
@budget_options
@quiet_option
@json_option
@click.pass_context
def resume(
    ctx: click.Context,
    run_ref: str | None,
    parallel: int | None,
    keep_worktrees: bool,
    log_max_bytes: int,
    force: bool,
    budget_usd: float | None,
    budget_tokens: int | None,
    budget_wall_seconds: float | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Continue a run whose process stopped (crash, kill, Ctrl-C).

    Attempts left running are marked interrupted and their tasks run again; tasks that
    succeeded never run again. Verified patches waiting to land are landed, or recorded
    as landed when the integration branch already has them (each lands exactly once).
    RUN is a run id or a unique prefix of one (default: the latest run).

    A run paused by its budget continues with a bigger one: --budget-usd X makes X the
    run's USD limit and raises its workstreams' limits to at least X (likewise
    --budget-tokens, --budget-wall-seconds).

    \b
    Examples:
      uet resume 01JD3Q
      uet resume            # the latest run
      uet resume 01JD3Q --budget-usd 10
    """
    ledger = writable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    limits = budget_limits(budget_usd, budget_tokens, budget_wall_seconds)
    if limits:
        raise_budget(ledger, run_id, limits)
    options = RunOptions(
        parallel=parallel, log_max_bytes=log_max_bytes, keep_worktrees=keep_worktrees
    )
    bus = EventBus()
    if not (quiet or as_json):
        click.echo(f"resuming run {click.style(run_id, bold=True)}", err=True)
    with LiveReporter(ledger, run_id, bus, enabled=not quiet and not as_json):
        result = resume_run(ledger, run_id, options, bus=bus, force=force)
    report(result, as_json, ledger)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--reason", default="canceled by user", show_default=True, help="Recorded with the run."
)
@json_option
@click.pass_context
def cancel(ctx: click.Context, run_ref: str, reason: str, as_json: bool) -> None:
    """Cancel a run: nothing more starts, running attempts are stopped.

    If a process is executing the run, it stops its attempts within a second; otherwise
    the ledger is updated here. A canceled run cannot be resumed.

    \b
    Example:
      uet cancel 01JD3Q --reason "wrong bundle"
    """
    ledger = writable_ledger(ctx)
    run_id = resolve_run_id(ledger, run_ref)
    run_row = cancel_run(ledger, run_id, reason)
    if as_json:
        echo_json({"run_id": run_id, "state": run_row["state"], "reason": run_row["state_reason"]})
    else:
        click.echo(f"run {run_id} {styled_state(run_row['state'])}: {run_row['state_reason']}")


COMMANDS = [validate, plan, run, resume, cancel]
