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

A `uet land` that finds a journal finishes that landing first. It checks that every difference
from ``before`` in the checkout is a path the landing changes and already holds its ``after``
content (tracked or not), or shows git stopped while writing it (absent, or a prefix of it,
with git's own stale ``index.lock`` left behind); removes lock files only when they are
provably UET's (the journal's pid is dead, the lock is newer than the journal and no process
has it open); then ``read-tree --reset -u after`` and the same compare-and-swap. Anything else
refuses, naming the files and the commands that settle them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.adapters.git import IDENTITY, Git, git_environment, open_repository
from core.engine import faults
from core.engine.events import EventBus
from core.engine.patches.integration import IntegrationBranch, integration_folder
from core.engine.patches.provenance import LedgerProvenance, record_tampered
from core.engine.recorder import Recorder
from core.engine.recovery import owner_alive
from core.engine.runs import get_run
from core.errors import IntegrationTampered, LandRefused
from core.state import Ledger, RunRow

log = logging.getLogger(__name__)

JOURNAL_NAME = "land.json"
_SHOWN = 5


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


@dataclass(frozen=True)
class Journal:
    """What a `uet land` in progress is doing, written before it touches the checkout."""

    run_id: str
    branch: str  # uet/<run>
    into: str  # refs/heads/<the user's branch>
    mode: str
    before: str
    after: str
    pid: int
    host: str
    started: str | None  # the process's start time (Linux), so a reused pid is not taken for it

    @staticmethod
    def path_for(git: Git, run_id: str) -> Path:
        return integration_folder(git.repo, run_id) / JOURNAL_NAME

    @classmethod
    def load(cls, path: Path, run_id: str) -> Journal | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LandRefused(
                run_id,
                f"its landing journal {path} cannot be read ({exc}); look at `git status`, "
                "then delete the file and run `uet land` again",
            ) from exc

    def write(self, path: Path) -> None:
        """Write atomically and durably: a kill -9 leaves the old file or the new, never half."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_folder(path.parent)

    @property
    def branch_name(self) -> str:
        return self.into.removeprefix("refs/heads/")


def land_run(
    ledger: Ledger, run_id: str, *, ff_only: bool = False, bus: EventBus | None = None
) -> LandResult:
    """Bring ``uet/<run>`` into the branch checked out in the run's repository.

    Only with a clean working tree (tracked files), on a branch (not a detached HEAD), once no
    live process executes the run, and when the run's branch holds only UET's commits. A
    fast-forward when possible, else a merge commit (refused with ``ff_only``); a merge that
    conflicts changes nothing and names the files. A landing a kill interrupted is finished
    first (see the module's docstring).
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
            f"the working tree has uncommitted changes ({_show(dirty)}); commit or stash them",
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
    me = os.getpid()
    journal = Journal(run_id, branch, current, mode, before, after, me, _host(), _started(me))
    journal.write(journal_path)
    faults.point("land-journal")
    _update_checkout(git, journal, journal_path)
    faults.point("land-checkout")
    _move_branch(git, journal)
    faults.point("land-branch")
    _record(ledger, recorder, journal)
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
            f"merging {branch} into {into} conflicts ({_show(conflicts)}); nothing was changed",
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


def _record(ledger: Ledger, recorder: Recorder, journal: Journal) -> None:
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
            },
        )


# -- finishing a landing a kill interrupted ------------------------------------------------------


def _finish_interrupted(
    ledger: Ledger, recorder: Recorder, git: Git, journal: Journal, journal_path: Path
) -> LandResult:
    run_id = journal.run_id
    if journal.host != _host():
        raise LandRefused(
            run_id,
            f"a landing started on host {journal.host} is unfinished ({journal_path}); "
            "finish it there",
        )
    if journal.pid != os.getpid() and _alive(journal.pid, journal.started):
        raise LandRefused(run_id, f"`uet land` (pid {journal.pid}) is landing it right now")
    current = git.current_branch()
    if current != journal.into:
        raise LandRefused(
            run_id,
            f"an interrupted landing into {journal.branch_name} is unfinished; check out "
            f"{journal.branch_name} and run `uet land` again",
        )
    log.warning("finishing the landing of run %s that pid %s began", run_id, journal.pid)
    _clear_stale_locks(git, journal, journal_path)
    now = git.rev_parse(journal.into)
    if now == journal.before:
        _check_between(git, journal, partial=_had_index_lock(git, journal_path))
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
    _stale_marker(journal_path).unlink(missing_ok=True)
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


def _check_between(git: Git, journal: Journal, *, partial: bool) -> None:
    """Refuse unless the checkout is ``before`` with some of the landing's paths at ``after``:
    then finishing overwrites nothing but what the landing itself wrote."""
    changed = _changed_paths(git, journal.before, journal.after)
    git.run("update-index", "-q", "--refresh", check=False)
    touched = _split(git.run("diff-index", "--name-only", "-z", journal.before).stdout)
    staged = _split(git.run("diff-index", "--cached", "--name-only", "-z", journal.before).stdout)
    outside = sorted((touched | staged) - changed)
    if outside:
        raise LandRefused(
            journal.run_id,
            f"a landing into {journal.branch_name} was interrupted and files it does not touch "
            f"have changed since ({_show(outside)}); save your edits elsewhere, put them back "
            f"(`git checkout {journal.before[:12]} -- {' '.join(outside[:_SHOWN])}`) and run "
            "`uet land` again",
        )
    before = _entries(git, journal.before, changed)
    after = _entries(git, journal.after, changed)
    neither = [
        path
        for path in sorted(changed)
        if not _holds(git, path, (before.get(path), after.get(path)), after.get(path), partial)
    ]
    if neither:
        raise LandRefused(
            journal.run_id,
            f"a landing into {journal.branch_name} ({journal.before[:12]} -> "
            f"{journal.after[:12]}) was interrupted and these files hold neither version: "
            f"{_show(neither)}; save your edits to them elsewhere, then "
            f"`git checkout {journal.after[:12]} -- {' '.join(neither[:_SHOWN])}` and run "
            "`uet land` again",
        )


def _changed_paths(git: Git, before: str, after: str) -> set[str]:
    out = git.run("diff-tree", "-r", "-z", "--no-renames", "--name-only", before, after).stdout
    return _split(out)


def _entries(git: Git, commit: str, paths: Iterable[str]) -> dict[str, tuple[str, str]]:
    """``{path: (mode, blob)}`` of ``commit`` for those of ``paths`` it has."""
    wanted = sorted(paths)
    if not wanted:
        return {}
    out = git.run("ls-tree", "-r", "-z", "--full-tree", commit, "--", *wanted).stdout
    found: dict[str, tuple[str, str]] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, _kind, oid = meta.decode().split()
        found[name.decode("utf-8", "surrogateescape")] = (mode, oid)
    return found


def _holds(
    git: Git,
    path: str,
    versions: tuple[tuple[str, str] | None, tuple[str, str] | None],
    after: tuple[str, str] | None,
    partial: bool,
) -> bool:
    """Whether the working tree's ``path`` is one of ``versions`` (None: no file there), or,
    when git was stopped mid-checkout (``partial``), a file it had not finished writing."""
    target = git.repo / path
    try:
        info: os.stat_result | None = target.lstat()
    except (FileNotFoundError, NotADirectoryError):  # a file where a folder of it was
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        info = None  # a folder where one version has a file: that version's file is not there
    if info is None:
        return None in versions or (partial and after is not None)
    if any(version is not None and version[0] == "160000" for version in versions):
        return True  # a submodule: its own checkout, not ours to judge
    if stat.S_ISLNK(info.st_mode):
        link = os.readlink(target).encode("utf-8", "surrogateescape")
        blob = git.run("hash-object", "--stdin", "--no-filters", data=link).stdout.decode()
        state = ("120000", blob.strip())
    else:
        blob = git.run("hash-object", "--", path).stdout.decode().strip()
        executable = bool(info.st_mode & stat.S_IXUSR)
        state = ("100755" if executable else "100644", blob)
    if state in versions or (state[1] in {v[1] for v in versions if v} and not _file_mode(git)):
        return True
    if partial and after is not None and after[0] != "120000" and info.st_size == 0:
        return True  # created, not yet written: git opens the file, then writes it whole
    if partial and after is not None and after[0] != "120000":
        content = target.read_bytes()
        return bool(content) and git.run("cat-file", "blob", after[1]).stdout.startswith(content)
    return False


def _file_mode(git: Git) -> bool:
    result = git.run("config", "--type=bool", "core.fileMode", check=False)
    return result.stdout.decode().strip() != "false"


# -- lock files ----------------------------------------------------------------------------------


def _lock_files(git: Git, journal: Journal) -> list[Path]:
    """The locks git takes while landing: the index and HEAD (per checkout), the branch."""
    git_dir = Path(git.text("rev-parse", "--absolute-git-dir"))
    common = git.common_dir()
    return [git_dir / "index.lock", git_dir / "HEAD.lock", common / f"{journal.into}.lock"]


def _clear_stale_locks(git: Git, journal: Journal, journal_path: Path) -> None:
    """Remove git's lock files a killed landing left, only when they are provably its own."""
    since = journal_path.stat().st_mtime_ns
    for lock in _lock_files(git, journal):
        try:
            made = lock.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        holder = _held_open_by(lock)
        if made < since or holder is not None:
            who = f"held open by pid {holder}" if holder else "older than the landing"
            raise LandRefused(
                journal.run_id,
                f"{lock} exists and is not UET's ({who}); once no git command is running in "
                "the repository, remove it and run `uet land` again",
            )
        if lock.name == "index.lock":  # remember it: git stopped in the middle of the checkout
            _stale_marker(journal_path).touch()
        lock.unlink()
        log.warning("removed %s, left by the interrupted landing (pid %s)", lock, journal.pid)


def _stale_marker(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".index-lock")


def _had_index_lock(git: Git, journal_path: Path) -> bool:
    return _stale_marker(journal_path).exists()


def _held_open_by(path: Path) -> int | None:
    """A live process with ``path`` open (Linux: its /proc fd links), if any."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    wanted = str(path)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == wanted:
                        return int(entry.name)
    return None


# -- small helpers ---------------------------------------------------------------------------------


def _alive(pid: int, started: str | None) -> bool:
    """Whether the process that wrote a journal still runs (a zombie, or a new process that
    got its pid, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    now = _started(pid)
    return now is None or started is None or now == started


def _started(pid: int) -> str | None:
    """The start time of ``pid`` from /proc (None elsewhere, or for a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the command name may hold spaces
    if not fields or fields[0] == "Z":
        return None if not fields else "zombie"
    return fields[19] if len(fields) > 19 else None


def _host() -> str:
    return socket.gethostname()


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _split(out: bytes) -> set[str]:
    return {name.decode("utf-8", "surrogateescape") for name in out.split(b"\0") if name}


def _show(paths: list[str]) -> str:
    return ", ".join(paths[:_SHOWN]) + (" ..." if len(paths) > _SHOWN else "")


__all__ = ["Journal", "LandResult", "land_run"]
