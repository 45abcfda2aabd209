"""The journal of a `uet land` in progress, and how to tell what an interrupted one left.

`uet land` writes the journal (run, branch, before, after, its pid, host and start time) to
UET's folder for the run before it touches the user's checkout, and deletes it once the
landing is recorded. A `uet land` that finds one finishes that landing, but only when what it
would overwrite is provably the interrupted landing's own doing:

- every difference from ``before`` in the checkout is a path the landing changes, and that path
  holds its ``before`` or ``after`` version (tracked or untracked); when git itself was stopped
  mid-checkout (it left its ``index.lock``), a path may also be missing or hold the start of its
  ``after`` version, since git removes a file, then writes the new one whole;
- a lock file git left (``index.lock``, ``HEAD.lock``, ``refs/heads/<branch>.lock``) is removed
  only when the journal's process is gone, the lock is newer than the journal, and no process
  has it open (Linux: /proc).

Anything else is refused with the files named and the command that settles them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from core.adapters.git import Git
from core.engine.execution import reaping
from core.engine.patches.integration import integration_folder
from core.errors import LandRefused

log = logging.getLogger(__name__)

Version = tuple[str, str]  # (mode, blob) of a path in a commit or the working tree
JOURNAL_NAME = "land.json"
SHOWN = 5


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

    @classmethod
    def begin(
        cls, run_id: str, branch: str, into: str, mode: str, before: str, after: str
    ) -> Journal:
        """The journal of a landing this process is about to make."""
        me = os.getpid()
        return cls(run_id, branch, into, mode, before, after, me, host(), _started(me))

    @staticmethod
    def path_for(git: Git, run_id: str) -> Path:
        return integration_folder(git.repo, run_id) / JOURNAL_NAME

    @staticmethod
    def unfinished_elsewhere(git: Git, run_id: str) -> list[str]:
        """Runs of this repository, other than ``run_id``, with an interrupted landing."""
        mine = Journal.path_for(git, run_id)
        repository = mine.parent.parent.parent  # <home>/<repo-key>
        pattern = f"*/{mine.parent.name}/{mine.name}"
        return sorted(p.parent.parent.name for p in repository.glob(pattern) if p != mine)

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


def check_between(git: Git, journal: Journal, *, partial: bool) -> None:
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
            f"have changed since ({show(outside)}); save your edits elsewhere, put them back "
            f"(`git checkout {journal.before[:12]} -- {' '.join(outside[:SHOWN])}`) and run "
            "`uet land` again",
        )
    before = _entries(git, journal.before, changed)
    after = _entries(git, journal.after, changed)
    now = _working_versions(git, changed)
    exact = _file_mode(git)
    neither = [
        path
        for path in sorted(changed)
        if not _settled(git, path, now[path], before.get(path), after.get(path), exact, partial)
    ]
    if neither:
        raise LandRefused(
            journal.run_id,
            f"a landing into {journal.branch_name} ({journal.before[:12]} -> "
            f"{journal.after[:12]}) was interrupted and these files hold neither version: "
            f"{show(neither)}; save your edits to them elsewhere, then "
            f"`git checkout {journal.after[:12]} -- {' '.join(neither[:SHOWN])}` and run "
            "`uet land` again",
        )


def _changed_paths(git: Git, before: str, after: str) -> set[str]:
    out = git.run("diff-tree", "-r", "-z", "--no-renames", "--name-only", before, after).stdout
    return _split(out)


def _entries(git: Git, commit: str, paths: set[str]) -> dict[str, Version]:
    """``{path: (mode, blob)}`` of ``commit`` for those of ``paths`` it has."""
    out = git.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout
    found: dict[str, Version] = {}
    for record in out.split(b"\0"):
        meta, _, raw = record.partition(b"\t")
        name = raw.decode("utf-8", "surrogateescape")
        if name in paths:
            mode, _kind, oid = meta.decode().split()
            found[name] = (mode, oid)
    return found


def _working_versions(git: Git, paths: set[str]) -> dict[str, Version | None]:
    """What the working tree holds at each of ``paths``, as git would stage it (filters
    applied); None where there is no file."""
    found: dict[str, Version | None] = {}
    regular: dict[str, str] = {}  # path -> mode
    for path in sorted(paths):
        target = git.repo / path
        try:
            info = target.lstat()
        except (FileNotFoundError, NotADirectoryError):  # a file where a folder of it was
            found[path] = None
            continue
        if stat.S_ISDIR(info.st_mode):  # a folder where one version has a file
            found[path] = None
        elif stat.S_ISLNK(info.st_mode):
            link = os.readlink(target).encode("utf-8", "surrogateescape")
            hashed = git.run("hash-object", "--stdin", "--no-filters", data=link).stdout
            found[path] = ("120000", hashed.decode().strip())
        else:
            regular[path] = "100755" if info.st_mode & stat.S_IXUSR else "100644"
    batch = [path for path in regular if "\n" not in path]
    if batch:
        out = git.run("hash-object", "--stdin-paths", data="\n".join(batch).encode()).stdout
        for path, blob in zip(batch, out.decode().split(), strict=True):
            found[path] = (regular[path], blob)
    for path in regular.keys() - set(batch):
        blob = git.run("hash-object", "--", path).stdout.decode().strip()
        found[path] = (regular[path], blob)
    return found


def _settled(
    git: Git,
    path: str,
    now: Version | None,
    before: Version | None,
    after: Version | None,
    exact: bool,
    partial: bool,
) -> bool:
    """Whether ``path`` holds its ``before`` or ``after`` version (None: no file), or, when git
    was stopped mid-checkout (``partial``), shows git had not finished writing ``after``."""
    if any(version is not None and version[0] == "160000" for version in (before, after)):
        return True  # a submodule: its own checkout, not ours to judge
    if now in (before, after):
        return True
    if now is not None and not exact and now[1] in {v[1] for v in (before, after) if v}:
        return True  # core.fileMode=false: the executable bit means nothing here
    if not partial or after is None or after[0] == "120000":
        return False
    if now is None:
        return True  # git removes the old file before it writes the new one
    content = (git.repo / path).read_bytes()  # git writes a file whole once it opens it
    return git.run("cat-file", "blob", after[1]).stdout.startswith(content)


def _file_mode(git: Git) -> bool:
    result = git.run("config", "--type=bool", "core.fileMode", check=False)
    return result.stdout.decode().strip() != "false"


# -- lock files ----------------------------------------------------------------------------------


def _lock_files(git: Git, journal: Journal) -> list[Path]:
    """The locks git takes while landing: the index and HEAD (per checkout), the branch."""
    git_dir = Path(git.text("rev-parse", "--absolute-git-dir"))
    common = git.common_dir()
    return [git_dir / "index.lock", git_dir / "HEAD.lock", common / f"{journal.into}.lock"]


def clear_stale_locks(git: Git, journal: Journal, journal_path: Path) -> None:
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
            stale_marker(journal_path).touch()
        lock.unlink()
        log.warning("removed %s, left by the interrupted landing (pid %s)", lock, journal.pid)


def stale_marker(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".index-lock")


def had_index_lock(journal_path: Path) -> bool:
    """Whether git was stopped mid-checkout (its index.lock was found and removed)."""
    return stale_marker(journal_path).exists()


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


def writer_alive(pid: int, started: str | None) -> bool:
    """Whether the process that wrote a journal still runs (a zombie, or a new process that
    got its pid, does not count)."""
    if started is not None and started.isdigit():
        return reaping.alive((pid, int(started)))
    try:  # no start time recorded (not Linux): the pid alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return True


def _started(pid: int) -> str | None:
    """The start time of ``pid`` as the journal keeps it (None where /proc is not)."""
    start = reaping.start_time(pid)
    return None if start is None else str(start)


def host() -> str:
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


def show(paths: list[str]) -> str:
    return ", ".join(paths[:SHOWN]) + (" ..." if len(paths) > SHOWN else "")


__all__ = [
    "Journal",
    "check_between",
    "clear_stale_locks",
    "had_index_lock",
    "host",
    "show",
    "stale_marker",
    "writer_alive",
]
