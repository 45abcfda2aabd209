"""One exception hierarchy for UET.

Every error carries a stable ``code`` (for scripts and docs) and the process ``exit_code`` the
CLI maps it to: 2 for invalid input, 1 for everything else. Each subclass takes the ids involved
and builds its own message, and pickles back to an equal error (``__reduce__`` replays the
constructor arguments), so errors can cross process boundaries.

Control-flow signals (a run asked to stop, for instance) are not errors and do not live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a document: where (a JSON path such as ``$.tasks[2].run``) and what."""

    path: str
    message: str
    source: str = ""  # the file the document came from, when there is one

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.path}: {self.message}"


class UetError(Exception):
    """Base class of every error UET raises on purpose."""

    code = "UET000"
    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message,))

    def __str__(self) -> str:
        return self.message


# --- invalid input (exit 2) -------------------------------------------------------------------


class InvalidInput(UetError):
    """The user gave UET something it cannot accept; nothing was written."""

    code = "UET100"
    exit_code = EXIT_INVALID


class DocumentInvalid(InvalidInput):
    """A document (bundle, config) failed validation; ``issues`` lists every problem, ranked."""

    code = "UET101"

    def __init__(self, source: str, issues: Sequence[Issue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{source}: {count} {noun}"]
        lines += [f"  {issue.path}: {issue.message}" for issue in self.issues]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.source, self.issues))


class UnknownSchema(InvalidInput):
    code = "UET102"

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        self.known = tuple(known)
        hint = f" (known: {', '.join(self.known)})" if self.known else ""
        super().__init__(f"unknown schema {name!r}{hint}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.name, self.known))


class DependencyCycle(InvalidInput):
    """The task graph has a cycle; ``cycle`` names it, first node repeated at the end."""

    code = "UET103"

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__(f"dependency cycle: {' -> '.join(self.cycle)}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.cycle,))


class UnknownDependency(InvalidInput):
    code = "UET104"

    def __init__(self, task_id: str, dependency: str) -> None:
        self.task_id = task_id
        self.dependency = dependency
        super().__init__(f"task {task_id!r} depends on unknown task {dependency!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.task_id, self.dependency))


class InvalidLedgerURL(InvalidInput):
    code = "UET105"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"invalid ledger URL {url!r}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.url, self.reason))


class NotARepository(InvalidInput):
    """A run with writing tasks (or ``uet land``) was pointed at something that is not git."""

    code = "UET106"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"{path} is not a git repository ({reason}); patch-first runs need one: "
            "pass --repo PATH, or `git init` and commit first"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.path, self.reason))


class RepositoryEmpty(InvalidInput):
    code = "UET107"

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"repository {path} has no commits yet; patches need a base commit: "
            "make a first commit (git commit --allow-empty -m init)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.path,))


# --- not found (exit 1) -----------------------------------------------------------------------


class SandboxUnavailable(InvalidInput):
    """``sandbox: required`` was asked for and this machine cannot give one."""

    code = "UET108"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"the sandbox is required but unavailable: {reason}; nothing was run "
            "(or set sandbox to auto to run without it, with a warning)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.reason,))


class NotFound(UetError):
    code = "UET200"


class RunNotFound(NotFound):
    code = "UET201"

    def __init__(self, run_id: str, candidates: Sequence[str] = ()) -> None:
        self.run_id = run_id
        self.candidates = tuple(candidates)
        if self.candidates:
            shown = ", ".join(self.candidates[:5])
            message = f"run id {run_id!r} is ambiguous: it matches {shown}"
        else:
            message = f"no run {run_id!r} in this ledger (list runs with `uet runs`)"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.candidates))


class PatchNotFound(NotFound):
    code = "UET203"

    def __init__(self, patch_id: str, candidates: Sequence[str] = ()) -> None:
        self.patch_id = patch_id
        self.candidates = tuple(candidates)
        if self.candidates:
            message = f"patch id {patch_id!r} is ambiguous: it matches {', '.join(candidates[:5])}"
        else:
            message = f"no patch {patch_id!r} in this ledger (list them with `uet patches`)"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.patch_id, self.candidates))


class LedgerNotFound(NotFound):
    code = "UET202"

    def __init__(self, location: str) -> None:
        self.location = location
        super().__init__(
            f"no ledger at {location}; a ledger is created by the first `uet run` "
            "(or `uet db migrate`)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location,))


# --- lifecycle ----------------------------------------------------------------------------------


class IllegalTransition(UetError):
    """A record was asked to move along an edge its state machine does not have."""

    code = "UET300"

    def __init__(self, machine: str, record_id: str, state: str, trigger: str) -> None:
        self.machine = machine
        self.record_id = record_id
        self.state = state
        self.trigger = trigger
        super().__init__(
            f"illegal {machine} transition: {record_id} is {state!r}, cannot {trigger!r}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.machine, self.record_id, self.state, self.trigger))


class ConcurrentUpdate(UetError):
    """A record was not in the state the writer expected: someone else moved it first."""

    code = "UET301"

    def __init__(self, kind: str, record_id: str, expected: str) -> None:
        self.kind = kind
        self.record_id = record_id
        self.expected = expected
        super().__init__(
            f"{kind} {record_id} is no longer {expected!r}; another process changed it"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.kind, self.record_id, self.expected))


class RunNotResumable(UetError):
    code = "UET302"

    def __init__(self, run_id: str, state: str) -> None:
        self.run_id = run_id
        self.state = state
        super().__init__(f"run {run_id} is {state}; only pending, running or paused runs resume")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.state))


class TaskNotFound(UetError):
    code = "UET310"

    def __init__(self, run_id: str, task_id: str, known: Sequence[str] = ()) -> None:
        self.run_id = run_id
        self.task_id = task_id
        self.known = tuple(known)
        listed = ", ".join(self.known[:10]) + (" ..." if len(self.known) > 10 else "")
        super().__init__(f"run {run_id} has no task {task_id!r} (tasks: {listed or 'none'})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.task_id, self.known))


class TaskNotFailed(UetError):
    code = "UET311"

    def __init__(self, run_id: str, task_id: str, state: str) -> None:
        self.run_id = run_id
        self.task_id = task_id
        self.state = state
        super().__init__(
            f"task {task_id} of run {run_id} is {state}; only failed tasks are retried"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.task_id, self.state))


class RunOwned(UetError):
    """The run is being executed by a live process; resuming it too would run tasks twice."""

    code = "UET303"

    def __init__(self, run_id: str, host: str, pid: int) -> None:
        self.run_id = run_id
        self.host = host
        self.pid = pid
        super().__init__(
            f"run {run_id} is being executed by pid {pid} on {host}; "
            "stop that process first (or pass --force if it is gone)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.host, self.pid))


class RunFinished(UetError):
    """Cancel (or another change) was asked of a run that has already ended."""

    code = "UET304"

    def __init__(self, run_id: str, state: str) -> None:
        self.run_id = run_id
        self.state = state
        super().__init__(f"run {run_id} already {state}; nothing to cancel")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.state))


class PatchNotActionable(UetError):
    """A patch command does not apply to the patch as it stands (state, or a live run)."""

    code = "UET305"

    def __init__(self, patch_id: str, action: str, reason: str) -> None:
        self.patch_id = patch_id
        self.action = action
        self.reason = reason
        super().__init__(f"cannot {action} patch {patch_id}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.patch_id, self.action, self.reason))


class LandRefused(UetError):
    """``uet land`` will not touch the user's checkout as it stands; the message says why."""

    code = "UET306"

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"cannot land run {run_id}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.reason))


class IntegrationBranchMissing(UetError):
    """A run's integration branch was deleted after patches landed on it."""

    code = "UET307"

    def __init__(self, run_id: str, branch: str, committed: int) -> None:
        self.run_id = run_id
        self.branch = branch
        self.committed = committed
        super().__init__(
            f"run {run_id}: its integration branch {branch} is gone, with the {committed} "
            "patch(es) that landed on it; restore it (git reflog, or `git branch "
            f"{branch} <commit>`) before resuming"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.run_id, self.branch, self.committed))


class IntegrationTampered(UetError):
    """A run's integration branch holds a commit UET did not make (a tool or a person moved
    ``uet/<run>``); nothing lands on it until it is put back."""

    code = "UET308"

    def __init__(
        self, run_id: str, branch: str, commit: str, reason: str, last_good: str, head: str
    ) -> None:
        self.run_id = run_id
        self.branch = branch
        self.commit = commit
        self.reason = reason
        self.last_good = last_good
        self.head = head
        super().__init__(
            f"run {run_id}: its integration branch {branch} holds commit {commit[:12]}, which "
            f"UET did not make ({reason}); nothing lands on it. Look at what is there "
            f"(`git log {last_good[:12]}..{head[:12]}`), then put the branch back to the last "
            f"commit UET made: `git update-ref refs/heads/{branch} {last_good} {head}`"
        )

    def payload(self) -> dict[str, str]:
        """What the ``integration.tampered`` event records."""
        return {
            "branch": self.branch,
            "commit": self.commit,
            "reason": self.reason,
            "last_good": self.last_good,
            "head": self.head,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            self.__class__,
            (self.run_id, self.branch, self.commit, self.reason, self.last_good, self.head),
        )


# --- git ----------------------------------------------------------------------------------------


class GitFailed(UetError):
    """A git command UET relies on failed; its arguments and stderr say what happened."""

    code = "UET500"

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.args_ = tuple(args)
        self.returncode = returncode
        self.stderr = stderr
        last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {returncode}"
        super().__init__(f"git {' '.join(self.args_[:3])} failed: {last}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.args_, self.returncode, self.stderr))


# --- ledger -------------------------------------------------------------------------------------


class LedgerError(UetError):
    code = "UET400"


class LedgerOutdated(LedgerError):
    code = "UET401"

    def __init__(self, location: str, pending: Sequence[str]) -> None:
        self.location = location
        self.pending = tuple(pending)
        super().__init__(
            f"ledger {location} lacks {len(self.pending)} migration(s) "
            f"({', '.join(self.pending)}); run `uet db migrate`"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location, self.pending))


class LedgerTooNew(LedgerError):
    code = "UET402"

    def __init__(self, location: str, version: int, known: int) -> None:
        self.location = location
        self.version = version
        self.known = known
        super().__init__(
            f"ledger {location} is at migration {version} but this uet knows only {known}; "
            "upgrade uet"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location, self.version, self.known))


class MigrationTampered(LedgerError):
    code = "UET403"

    def __init__(self, location: str, version: int, name: str) -> None:
        self.location = location
        self.version = version
        self.name = name
        super().__init__(
            f"ledger {location}: applied migration {version:04d} ({name}) no longer matches "
            "its file; migrations are append-only, add a new one instead of editing"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location, self.version, self.name))


class LedgerBusy(LedgerError):
    code = "UET404"

    def __init__(self, location: str, waited_seconds: float) -> None:
        self.location = location
        self.waited_seconds = waited_seconds
        super().__init__(
            f"ledger {location} stayed locked by another writer for {waited_seconds:.1f}s"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.location, self.waited_seconds))


__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_OK",
    "ConcurrentUpdate",
    "DependencyCycle",
    "DocumentInvalid",
    "GitFailed",
    "IllegalTransition",
    "IntegrationBranchMissing",
    "IntegrationTampered",
    "InvalidInput",
    "InvalidLedgerURL",
    "Issue",
    "LandRefused",
    "LedgerBusy",
    "LedgerError",
    "LedgerNotFound",
    "LedgerOutdated",
    "LedgerTooNew",
    "MigrationTampered",
    "NotARepository",
    "NotFound",
    "PatchNotActionable",
    "PatchNotFound",
    "RepositoryEmpty",
    "RunFinished",
    "RunNotFound",
    "RunNotResumable",
    "RunOwned",
    "SandboxUnavailable",
    "UetError",
    "UnknownDependency",
    "UnknownSchema",
]
