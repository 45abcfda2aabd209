"""The library API for runs: create one from a bundle, execute, resume, cancel, find.

The CLI is a thin layer over these functions; everything a command does can be done from
Python with the same guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core import clock
from core.adapters.git import Git, open_repository
from core.engine.bundle import Bundle
from core.engine.events import EventBus
from core.engine.execution.sandbox import require_isolation
from core.engine.lifecycle import RUN, TASK
from core.engine.options import RunOptions, RunResult
from core.engine.orchestrator import Orchestrator
from core.engine.patches.integration import IntegrationBranch, branch_name
from core.engine.project import project_profile
from core.engine.recorder import Recorder
from core.engine.recovery import kill_orphans, owner_alive, process_journal, recover
from core.engine.requests import build_request, effective_spec, spec_hash
from core.engine.routing.config import Route
from core.engine.routing.strategies import Situation, decide
from core.errors import (
    DocumentInvalid,
    Issue,
    RunFinished,
    RunNotFound,
    RunNotResumable,
    RunOwned,
    TaskNotFailed,
    TaskNotFound,
    UetError,
)
from core.ids import new_id
from core.state import Ledger, RunRow, TaskRow

RESUMABLE = frozenset({"pending", "running", "paused"})


@dataclass(frozen=True)
class Target:
    """The repository a bundle's writing tasks change, checked and read once."""

    git: Git
    base_commit: str
    project_policy: dict[str, Any] | None
    sandbox: str | None = None  # the mode the project profile asks for
    setup: tuple[dict[str, Any], ...] = ()  # the project profile's setup steps


def check_target(bundle: Bundle, repo: Path | None, workdir: Path) -> Target | None:
    """The repository the bundle's writing tasks change (``repo``, else the one around
    ``workdir``), or None when no task writes. Invalid input (not a repository, no commits,
    an invalid project profile, a writing task's ``cwd`` outside the repository) raises an
    InvalidInput error before anything is written."""
    if not bundle.writes:
        return None
    git = open_repository(repo or workdir)
    base_commit = git.rev_parse("HEAD") or ""
    profile = project_profile(git.repo) or {}
    policy = dict(profile["constraints"]) if profile.get("constraints") else None
    by_id = {ws["workstream_id"]: ws for ws in bundle.workstreams}
    outside: list[Issue] = []
    for entry in bundle.tasks:
        spec = effective_spec(entry.spec, by_id[entry.workstream_id].get("defaults", {}))
        cwd = (git.repo / spec.get("cwd", ".")).resolve()
        if spec.get("writes") and not cwd.is_relative_to(git.repo):
            message = f"a writing task works inside {git.repo}; {cwd} is outside it"
            outside.append(Issue(f"{entry.path}.cwd", message, bundle.source))
    if outside:
        raise DocumentInvalid(bundle.source, outside)
    return Target(git, base_commit, policy, profile.get("sandbox"), tuple(profile.get("setup", ())))


def create_run(
    ledger: Ledger,
    bundle: Bundle,
    options: RunOptions | None = None,
    *,
    workdir: Path | None = None,
    bus: EventBus | None = None,
    target: Target | None = None,
) -> str:
    """Record a new run of ``bundle`` (state pending, every task pending); return its id.

    ``target`` is what :func:`check_target` returned for it, when the caller checked first.
    """
    options = options or RunOptions()
    run_id = new_id()
    workdir = (workdir or Path.cwd()).resolve()
    if target is None:
        target = check_target(bundle, options.repo, workdir)
    require_isolation(
        bundle.router.document if bundle.router else None,
        target.sandbox if target else None,
        repo=target.git.repo if target else None,
    )
    git = target.git if target else None
    base_commit = target.base_commit if target else None
    python_path = [str(bundle.base_dir)]
    base = base_commit or _head_of(workdir) or str(workdir)  # what results are reused on
    by_id = {ws["workstream_id"]: ws for ws in bundle.workstreams}
    now = clock.now()
    tasks: list[TaskRow] = []
    for entry in bundle.tasks:
        request = build_request(
            entry.spec,
            by_id[entry.workstream_id],
            run_id=run_id,
            workdir=workdir,
            python_path=python_path,
            repo=git.repo if git is not None else None,
            project_policy=target.project_policy if target else None,
            project_setup=target.setup if target else (),
            router=bundle.router,
        )
        if request.get("route") and bundle.router is not None:
            route = Route.from_document(request["route"])
            kind = request.get("kind")
            planned = decide(
                route, bundle.router, Situation(kind, history=ledger.tool_history(kind))
            )
            request["routing"] = planned.document(now)
        tasks.append(
            {
                "run_id": run_id,
                "task_id": request["task_id"],
                "workstream_id": entry.workstream_id,
                "seq": entry.seq,
                "state": TASK.initial,
                "state_reason": None,
                "priority": request["priority"],
                "attempts": 0,
                "max_attempts": request["max_attempts"],
                "request": request,
                "output": None,
                "not_before": None,
                "spec_hash": spec_hash(request, base, _tools_of(request, bundle)),
                "created_at": now,
                "started_at": None,
                "finished_at": None,
                "updated_at": now,
            }
        )
    run: RunRow = {
        "run_id": run_id,
        "name": bundle.name,
        "state": RUN.initial,
        "state_reason": None,
        "bundle_path": str(bundle.path) if bundle.path else None,
        "bundle_sha256": bundle.sha256,
        "workstreams": [
            {
                "workstream_id": ws["workstream_id"],
                "max_parallel": ws.get("concurrency", {}).get("max_parallel"),
                "on_task_failure": ws.get("error_handling", {}).get(
                    "on_task_failure", "skip_dependents"
                ),
                # Gate definitions travel with the run: resume never rereads the bundle.
                **({"gates": ws["gates"]} if ws.get("gates") else {}),
                **({"budget": ws["budget"]} if ws.get("budget") else {}),
                **({"queue": ws["queue"]} if ws.get("queue") else {}),
            }
            for ws in bundle.workstreams
        ],
        "workdir": str(workdir),
        "repo": str(git.repo) if git is not None else None,
        "base_commit": base_commit,
        "integration_branch": branch_name(run_id) if git is not None else None,
        "parallel": options.workers,
        "budget": dict(options.budget) if options.budget else None,
        "router": dict(bundle.router.document) if bundle.router else None,
        "owner_host": None,
        "owner_pid": None,
        "heartbeat_at": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "updated_at": now,
    }
    reused = _earlier_results(ledger, tasks, run_id) if options.reuse_results else {}
    with Recorder(ledger, bus).transaction() as ch:
        ch.new_run(run, bundle.text, tasks)
        for task in tasks:
            earlier = reused.get(task["task_id"])
            if earlier is not None:
                ch.task(
                    run_id,
                    task["task_id"],
                    "pending",
                    "reuse",
                    reason=f"same spec succeeded in run {earlier['run_id']}",
                    payload={"reused_from": earlier["run_id"]},
                    output=earlier["output"],
                    finished_at=ch.now,
                )
        if git is not None and base_commit:
            # Made before the commit: if making it fails, no run is recorded. A crash between
            # the two leaves an unused branch, and resume makes a missing one.
            branch = IntegrationBranch(git, branch_name(run_id))
            branch.create(base_commit)
            ch.event(
                "integration.branch_created",
                run_id=run_id,
                payload={
                    "branch": branch.branch,
                    "base_commit": base_commit,
                    "repo": str(git.repo),
                },
            )
    return run_id


def _head_of(folder: Path) -> str | None:
    """The commit checked out in the repository around ``folder``, if it is in one."""
    try:
        return Git(folder).rev_parse("HEAD")  # one git call: None outside a repository
    except (OSError, UetError):
        return None


def _tools_of(request: dict[str, Any], bundle: Bundle) -> dict[str, Any]:
    """The router entries a tool task may run: part of what it does."""
    route = request.get("route")
    if not route or bundle.router is None:
        return {}
    return {name: bundle.router.tools[name].spec for name in route["candidates"]}


def _earlier_results(ledger: Ledger, tasks: list[TaskRow], run_id: str) -> dict[str, TaskRow]:
    """Per task, an earlier success of the identical spec on the same base. Writing tasks
    are not reused: their change would be missing from this run's branch."""
    candidates = {t["spec_hash"]: t for t in tasks if t["spec_hash"] and not t["request"]["writes"]}
    found = ledger.find_results(list(candidates), exclude_run=run_id)
    return {candidates[h]["task_id"]: earlier for h, earlier in found.items()}


def raise_budget(
    ledger: Ledger, run_id: str, limits: dict[str, float], *, bus: EventBus | None = None
) -> RunRow:
    """Give a run more budget: ``limits`` become the run's, and the ceiling of its
    workstreams' (a workstream limit below the new one is raised to it)."""
    run = get_run(ledger, run_id)
    budget = {**(run["budget"] or {}), **limits}
    workstreams = []
    for ws in run["workstreams"]:
        own = ws.get("budget")
        if own:
            own = {k: max(v, limits[k]) if k in limits else v for k, v in own.items()}
            ws = {**ws, "budget": own}
        workstreams.append(ws)
    with Recorder(ledger, bus).transaction() as ch:
        ch.txn.update_run(run_id, run["state"], budget=budget, workstreams=workstreams)
        ch.event(
            "run." + run["state"],
            run_id=run_id,
            payload={"budget": budget, "reason": "budget raised"},
        )
    return get_run(ledger, run_id)


def retry_task(
    ledger: Ledger,
    run_id: str,
    task_id: str,
    *,
    budget: dict[str, float] | None = None,
    bus: EventBus | None = None,
) -> RunRow:
    """Give a failed task of a stopped run another go: it gets its attempts again (and
    ``budget``: its limits raised), the tasks skipped because of it become pending, and the
    run is paused, ready for `uet resume`."""
    run = get_run(ledger, run_id)
    tasks = {task["task_id"]: task for task in ledger.list_tasks(run_id)}
    task = tasks.get(task_id)
    if task is None:
        raise TaskNotFound(run_id, task_id, sorted(tasks))
    if task["state"] != "failed":
        raise TaskNotFailed(run_id, task_id, task["state"])
    if run["state"] not in ("failed", "paused"):
        raise RunNotResumable(run_id, run["state"])  # still running: let it finish first
    dependents: dict[str, list[str]] = {}
    for other in tasks.values():
        for dep in other["request"]["depends_on"]:
            dependents.setdefault(dep, []).append(other["task_id"])
    request = task["request"]
    if budget:
        request = {**request, "budget": {**(request.get("budget") or {}), **budget}}
    with Recorder(ledger, bus).transaction() as ch:
        if run["state"] == "failed":
            ch.run(run_id, "failed", "reopen", reason=f"task {task_id} retried", finished_at=None)
        ch.task(
            run_id,
            task_id,
            "failed",
            "reopen",
            reason="retried by hand",
            max_attempts=task["attempts"] + request["max_attempts"],
            finished_at=None,
            request=request,
        )
        stack = list(dependents.get(task_id, []))
        while stack:
            name = stack.pop()
            if tasks[name]["state"] == "skipped":
                ch.task(run_id, name, "skipped", "reopen", reason=f"{task_id} is retried")
                tasks[name]["state"] = "pending"
                stack.extend(dependents.get(name, []))
    return get_run(ledger, run_id)


def execute_run(
    ledger: Ledger, run_id: str, options: RunOptions | None = None, *, bus: EventBus | None = None
) -> RunResult:
    """Drive a pending (or recovered) run to its end."""
    return Orchestrator(ledger, run_id, options or RunOptions(), Recorder(ledger, bus)).execute()


def run_bundle(
    ledger: Ledger,
    bundle: Bundle,
    options: RunOptions | None = None,
    *,
    bus: EventBus | None = None,
) -> RunResult:
    """Create a run of ``bundle`` and execute it."""
    run_id = create_run(ledger, bundle, options, bus=bus)
    return execute_run(ledger, run_id, options, bus=bus)


def resume_run(
    ledger: Ledger,
    run_id: str,
    options: RunOptions | None = None,
    *,
    bus: EventBus | None = None,
    force: bool = False,
) -> RunResult:
    """Continue a run whose process stopped: interrupted attempts run again, succeeded never."""
    run = get_run(ledger, run_id)
    if run["state"] not in RESUMABLE:
        raise RunNotResumable(run_id, run["state"])
    if not force and owner_alive(run):
        raise RunOwned(run_id, run["owner_host"] or "?", run["owner_pid"] or 0)
    recorder = Recorder(ledger, bus)
    if run["owner_pid"] is not None:
        kill_orphans(run_id, journal=process_journal(ledger, run_id))
    recover(recorder, run)
    base = options or RunOptions()
    effective = replace(base, parallel=base.parallel or run["parallel"])
    return Orchestrator(ledger, run_id, effective, recorder).execute()


def cancel_run(
    ledger: Ledger, run_id: str, reason: str = "canceled by user", *, bus: EventBus | None = None
) -> RunRow:
    """Cancel a run. A live owner stops its attempts itself; otherwise do it here."""
    run = get_run(ledger, run_id)
    if not RUN.can(run["state"], "cancel"):
        raise RunFinished(run_id, run["state"])
    live = owner_alive(run)
    recorder = Recorder(ledger, bus)
    with recorder.transaction() as ch:
        ch.run(run_id, run["state"], "cancel", reason=reason, finished_at=ch.now)
        if not live:
            for attempt in ledger.list_attempts(run_id, state="running"):
                ch.attempt(
                    run_id,
                    attempt["task_id"],
                    attempt["attempt_id"],
                    "running",
                    "cancel",
                    error=reason,
                    finished_at=ch.now,
                )
            for task in ledger.list_tasks(run_id):
                if TASK.can(task["state"], "cancel"):
                    ch.task(run_id, task["task_id"], task["state"], "cancel", reason=reason)
            for patch in ledger.list_patches(run_id, state="verified"):
                ch.patch(patch, "drop", reason=f"never landed: {reason}")
            ch.txn.update_run(run_id, "canceled", owner_pid=None, owner_host=None)
    if not live and run["owner_pid"] is not None:
        kill_orphans(run_id, journal=process_journal(ledger, run_id))
    return get_run(ledger, run_id)


def get_run(ledger: Ledger, run_id: str) -> RunRow:
    run = ledger.get_run(run_id)
    if run is None:
        raise RunNotFound(run_id)
    return run


def resolve_run_id(ledger: Ledger, ref: str | None) -> str:
    """A full run id from a prefix (as `git` does for commits), or the latest run when None."""
    if ref is None or ref == "latest":
        latest = ledger.latest_run_id()
        if latest is None:
            raise RunNotFound(ref or "latest")
        return latest
    matches = ledger.find_run_ids(ref)
    if ref.upper() in matches:
        return ref.upper()
    if len(matches) == 1:
        return matches[0]
    raise RunNotFound(ref, matches if len(matches) > 1 else ())


__all__ = [
    "RunOptions",
    "RunResult",
    "cancel_run",
    "create_run",
    "execute_run",
    "get_run",
    "raise_budget",
    "resolve_run_id",
    "resume_run",
    "retry_task",
    "run_bundle",
]
