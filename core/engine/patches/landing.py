"""`uet land`: bringing a run's integration branch into the user's checked-out branch, in a way
a kill -9 at any instant cannot leave half done.

``git merge`` in the user's checkout writes files, the index and the branch in one go; killed
in the middle it leaves some files at the new commit and some at the old, sometimes a stale
``index.lock``, and nothing that says what was going on. So landing is split into steps that
each leave a state the next run of `uet land` can recognise and finish:

1. decide ``before`` (HEAD) and ``after`` (the run's head for a fast-forward; for a merge, a
   commit made with plumbing: ``merge-tree --write-tree`` + ``commit-tree`` under the user's
   own identity; a conflict refuses before anything is written);
2. write the **journal** (run, branch, before, after, pid, host) to UET's folder for the run
   (``<UET_WORKTREES>/<repo-key>/<run>/.integration/land.json``), fsynced;
3. update the index and working tree with ``read-tree -m -u before after`` (refuses, changing
   nothing, when a file of the user's is in the way);
4. move the branch with ``update-ref <branch> after before`` (compare-and-swap);
5. record ``integration.landed`` in the ledger, then delete the journal.

A `uet land` that finds a journal finishes that landing first, once what it would overwrite
is provably the interrupted landing's own doing (:mod:`core.engine.patches.land_journal`):
``read-tree --reset -u after``, then the same compare-and-swap and record. Anything else
refuses, naming the files and the commands that settle them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.adapters.git import IDENTITY, Git, git_environment, open_repository
from core.engine import faults
from core.engine.events import EventBus
from core.engine.patches.integration import IntegrationBranch
from core.engine.patches.land_journal import (
    Journal,
    check_between,
    clear_stale_locks,
    had_index_lock,
    host,
    show,
    stale_marker,
    writer_alive,
)
from core.engine.patches.provenance import LedgerProvenance, record_tampered
from core.engine.queue.merge_gate import gate_merge
from core.engine.recorder import Recorder
from core.engine.recovery import owner_alive
from core.engine.runs import get_run
from core.errors import IntegrationTampered, LandRefused
from core.state import Ledger, RunRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandResult:
    run_id: str
    branch: str  # the integration branch
    into: str  # the user's branch
    mode: str  # "fast-forward" | "merge" | "up-to-date"
    before: str
    after: str
    patches: int  # committed patches the run contributed

    def document(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "branch": self.branch,
            "into": self.into,
            "mode": self.mode,
            "before": self.before,
            "after": self.after,
            "patches": self.patches,
        }


def land_run(
    ledger: Ledger,
    run_id: str,
    *,
    ff_only: bool = False,
    gate: bool = True,
    bus: EventBus | None = None,
) -> LandResult:
    """Bring ``uet/<run>`` into the branch checked out in the run's repository.

    Only with a clean working tree (tracked files), on a branch (not a detached HEAD), once no
    live process executes the run, and when the run's branch holds only UET's commits. A
    fast-forward when possible, else a merge commit (refused with ``ff_only``); a merge that
    conflicts changes nothing and names the files. A merge commit is gated first
    (:mod:`core.engine.queue.merge_gate`) unless ``gate`` is False: a blocking gate that does
    not pass on it refuses the landing. A landing a kill interrupted is finished first (see
    the module's docstring).
    """
    run = get_run(ledger, run_id)
    if run["integration_branch"] is None or run["repo"] is None:
        raise LandRefused(run_id, 'it changed no repository (no task had "writes": true)')
    if owner_alive(run):
        raise LandRefused(run_id, f"it is still being executed by pid {run['owner_pid']}")
    git = open_repository(Path(run["repo"]))
    recorder = Recorder(ledger, bus)
    journal_path = Journal.path_for(git, run_id)
    pending = Journal.load(journal_path, run_id)
    if pending is not None:
        return _finish_interrupted(ledger, recorder, git, pending, journal_path)
    interrupted = Journal.unfinished_elsewhere(git, run_id)
    if interrupted:
        other = interrupted[0]
        raise LandRefused(
            run_id, f"landing run {other} was interrupted; finish it first: `uet land {other}`"
        )
    branch = run["integration_branch"]
    tip = git.rev_parse(f"refs/heads/{branch}")
    if tip is None:
        raise LandRefused(run_id, f"its integration branch {branch} no longer exists")
    _check_branch(ledger, git, run, bus)
    current = git.current_branch()
    if current is None:
        raise LandRefused(run_id, "HEAD is detached in the repository; check out a branch first")
    into = current.removeprefix("refs/heads/")
    if into == branch:
        raise LandRefused(run_id, f"{branch} itself is checked out; check out your branch first")
    dirty = git.dirty_paths()
    if dirty:
        raise LandRefused(
            run_id,
            f"the working tree has uncommitted changes ({show(dirty)}); commit or stash them",
        )
    before = git.rev_parse("HEAD") or ""
    committed = len(ledger.list_patches(run_id, state="committed"))
    if git.is_ancestor(tip, before):
        return LandResult(run_id, branch, into, "up-to-date", before, before, committed)
    if git.is_ancestor(before, tip):
        after, mode = tip, "fast-forward"
    elif ff_only:
        raise LandRefused(
            run_id,
            f"{into} has commits {branch} lacks; a merge is needed (drop --ff-only), "
            "or rebase your branch",
        )
    else:
        after, mode = _merge_commit(git, run_id, branch, into, before, tip), "merge"
        if gate:
            _gate(ledger, recorder, run, after, f"merging {branch} into {into}")
        else:
            log.warning("landing run %s with an untested merge commit (--no-gate)", run_id)
    journal = Journal.begin(run_id, branch, current, mode, before, after)
    journal.write(journal_path)
    faults.point("land-journal")
    _update_checkout(git, journal, journal_path)
    faults.point("land-checkout")
    _move_branch(git, journal)
    faults.point("land-branch")
    _record(ledger, recorder, journal, gated=gate or mode != "merge")
    faults.point("land-recorded")
    journal_path.unlink(missing_ok=True)
    return LandResult(run_id, branch, into, mode, before, after, committed)


# -- before anything is written ------------------------------------------------------------------


def _check_branch(ledger: Ledger, git: Git, run: RunRow, bus: EventBus | None) -> None:
    """Refuse a branch holding commits UET did not make (recorded as an event)."""
    branch = IntegrationBranch(
        git,
        run["integration_branch"] or "",
        base=run["base_commit"],
        provenance=LedgerProvenance(ledger, run["run_id"]),
    )
    try:
        branch.verify()
    except IntegrationTampered as exc:
        record_tampered(ledger, exc, bus)
        raise
    finally:
        branch.close()


def _gate(ledger: Ledger, recorder: Recorder, run: RunRow, merge: str, what: str) -> None:
    """Refuse a merge commit on which a blocking gate of the run's patches does not pass."""
    runs = gate_merge(ledger, recorder, run, merge)
    blocked = [r for r in runs if r.decision == "block"]
    if blocked:
        failed = "; ".join(f"gate {r.gate!r} {r.state}: {r.summary}" for r in blocked)
        logs = ", ".join(r.log_path for r in blocked if r.log_path)
        raise LandRefused(
            run["run_id"],
            f"{what} gives a tree that fails its gates ({failed}"
            + (f"; logs: {logs}" if logs else "")
            + "); your branch was not moved. Bring the run onto your branch's new commits "
            "(a new run from it), or land it untested with --no-gate",
        )


def _merge_commit(git: Git, run_id: str, branch: str, into: str, before: str, tip: str) -> str:
    """The merge of ``tip`` into ``before``, made without a checkout; refuses on conflict."""
    merged = git.run(
        "merge-tree", "--write-tree", "--name-only", "--no-messages", before, tip, check=False
    )
    lines = merged.stdout.decode("utf-8", "replace").splitlines()
    if merged.returncode == 1:
        conflicts = list(dict.fromkeys(line for line in lines[1:] if line))
        raise LandRefused(
            run_id,
            f"merging {branch} into {into} conflicts ({show(conflicts)}); nothing was changed",
        )
    if merged.returncode != 0 or not lines:
        why = merged.stderr.decode("utf-8", "replace").strip()
        raise LandRefused(run_id, f"git merge-tree failed ({why}); nothing was changed")
    message = f"Land UET run {run_id} ({branch})\n"
    user = _as_user(git)
    made = user.run(
        "commit-tree", lines[0], "-p", before, "-p", tip, "-F", "-", data=message.encode()
    )
    return made.stdout.decode().strip()


def _as_user(git: Git) -> Git:
    """git acting in the user's branch under their own identity when they configured one (UET's
    fixed identity is only for commits on its integration branches)."""
    if git.run("config", "--get", "user.email", check=False).returncode != 0:
        return git
    env = git_environment()
    for key in IDENTITY:
        if key not in os.environ:
            env.pop(key, None)
    return Git(git.repo, env)


# -- the steps that change the checkout ------------------------------------------------------------


def _update_checkout(git: Git, journal: Journal, journal_path: Path) -> None:
    """Index and working tree from ``before`` to ``after``; git checks everything before it
    writes anything, so a refusal (a file of the user's in the way) leaves them as they were."""
    git.run("update-index", "-q", "--refresh", check=False)  # stat info: read-tree trusts it
    result = git.run("read-tree", "-m", "-u", journal.before, journal.after, check=False)
    if result.returncode == 0:
        return
    why = "; ".join(result.stderr.decode("utf-8", "replace").strip().splitlines()[:4])
    if not git.dirty_paths() and git.rev_parse("HEAD") == journal.before:
        journal_path.unlink(missing_ok=True)  # nothing changed: nothing to finish
        raise LandRefused(
            journal.run_id,
            f"git would not update the working tree ({why}); move the files it names out of "
            "the way and run `uet land` again; nothing was changed",
        )
    raise LandRefused(
        journal.run_id,
        f"git stopped while updating the working tree ({why}); run `uet land` again to finish",
    )


def _move_branch(git: Git, journal: Journal) -> None:
    message = f"uet land: {journal.mode} to {journal.branch}"
    if not git.update_ref(journal.into, journal.after, journal.before, message):
        now = git.rev_parse(journal.into) or "?"
        raise LandRefused(
            journal.run_id,
            f"{journal.branch_name} moved to {now[:12]} while landing (the working tree is at "
            f"{journal.after[:12]} now); run `uet land` again to see what to do",
        )


def _record(
    ledger: Ledger, recorder: Recorder, journal: Journal, *, gated: bool | None = None
) -> None:
    """Record the landing once, however many times a crash makes us get here."""
    for event in ledger.list_events(journal.run_id):
        payload = event["payload"]
        if (
            event["kind"] == "integration.landed"
            and payload.get("before") == journal.before
            and payload.get("after") == journal.after
        ):
            return
    with recorder.transaction() as ch:
        ch.event(
            "integration.landed",
            run_id=journal.run_id,
            payload={
                "branch": journal.branch,
                "into": journal.branch_name,
                "mode": journal.mode,
                "before": journal.before,
                "after": journal.after,
                **({"gated": gated} if gated is not None else {}),
            },
        )


# -- finishing a landing a kill interrupted ------------------------------------------------------


def _finish_interrupted(
    ledger: Ledger, recorder: Recorder, git: Git, journal: Journal, journal_path: Path
) -> LandResult:
    run_id = journal.run_id
    if journal.host != host():
        raise LandRefused(
            run_id,
            f"a landing started on host {journal.host} is unfinished ({journal_path}); "
            "finish it there",
        )
    if journal.pid != os.getpid() and writer_alive(journal.pid, journal.started):
        raise LandRefused(run_id, f"`uet land` (pid {journal.pid}) is landing it right now")
    current = git.current_branch()
    if current != journal.into:
        raise LandRefused(
            run_id,
            f"an interrupted landing into {journal.branch_name} is unfinished; check out "
            f"{journal.branch_name} and run `uet land` again",
        )
    log.warning("finishing the landing of run %s that pid %s began", run_id, journal.pid)
    clear_stale_locks(git, journal, journal_path)
    now = git.rev_parse(journal.into)
    if now == journal.before:
        check_between(git, journal, partial=had_index_lock(journal_path))
        result = git.run("read-tree", "--reset", "-u", journal.after, check=False)
        if result.returncode != 0:
            why = "; ".join(result.stderr.decode("utf-8", "replace").strip().splitlines()[:4])
            raise LandRefused(run_id, f"git could not finish the working tree ({why})")
        _move_branch(git, journal)
    elif now != journal.after:
        raise LandRefused(
            run_id,
            f"an interrupted landing moved {journal.branch_name} from {journal.before[:12]} to "
            f"{journal.after[:12]}, but it is at {(now or '?')[:12]} now; look at `git status`, "
            f"then delete {journal_path} and run `uet land` again",
        )
    _record(ledger, recorder, journal)
    journal_path.unlink(missing_ok=True)
    stale_marker(journal_path).unlink(missing_ok=True)
    committed = len(ledger.list_patches(run_id, state="committed"))
    return LandResult(
        run_id,
        journal.branch,
        journal.branch_name,
        journal.mode,
        journal.before,
        journal.after,
        committed,
    )


__all__ = ["LandResult", "land_run"]
