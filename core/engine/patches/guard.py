"""Watching what a tool or gate could reach around to, and undoing it.

An attempt works in a private copy (:mod:`core.engine.patches.copies`): the repository's refs,
config and hooks are not shared with it, and in the OS sandbox nothing outside the copy is
writable at all. Without a sandbox a process can still write wherever the user can, and two
places are within easy reach:

- **the user's repository**: its config and hooks (a ``git -C <repo> config`` or a new
  ``.git/hooks/pre-commit``, which would run on the user's next commit);
- **UET's own folders around the copy**: a careless ``../x`` lands next to the copy, in the
  run's folder or above it.

Before a tool runs, and before each gate, the guard snapshots the config and hooks and lists
the folders around the copy; afterwards it compares. Config and hooks go back to their
snapshot; whatever appeared around the copy and is not UET's is deleted (those folders are
UET's alone). Either fails the attempt (or the gate), with the paths named.

HEAD and branch refs are not watched: the user may commit or switch branches in their own
checkout while a run works, and that is not the tool's doing (the integration branch is
checked on its own before each landing). Nor is the user's checkout: a check after the fact
cannot tell a tool's write there from the user's own edit made meanwhile, and undoing the
user's edit would be the worst outcome of all. Against writes to absolute paths only the
sandbox holds.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_DIRNAME = ".cache"  # in UET's home: the package caches setup steps share

_RUN_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_REPO_KEY = re.compile(r"^.+-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Snapshot:
    files: dict[Path, bytes | None]  # config and hooks; None: the file did not exist
    around: dict[Path, frozenset[str]]  # folder around the copy -> its entries


@dataclass(frozen=True)
class Breach:
    """What a tool changed outside its copy; all of it was undone."""

    repository: list[str]  # .git files (config, hooks/...), restored
    strays: list[str]  # paths written around the copy, deleted

    def __bool__(self) -> bool:
        return bool(self.repository or self.strays)

    def reasons(self) -> list[str]:
        return [f"changed .git/{name} (restored)" for name in self.repository] + [
            f"wrote {path} outside its copy (deleted)" for path in self.strays
        ]

    def describe(self) -> str:
        return "the tool reached outside its copy: " + "; ".join(self.reasons())


class RepoGuard:
    """One per run: ``snapshot()`` before a tool runs, ``check(before)`` after it.

    ``run_folder`` holds the run's copies, inside UET's folder ``home``; ``live`` names the
    entries of the copies that exist (made, not yet removed) at the moment it is asked.
    """

    def __init__(
        self,
        common_dir: Path,
        home: Path,
        run_folder: Path,
        live: Callable[[], frozenset[str]],
    ) -> None:
        self.common_dir = common_dir
        self._live = live
        # Each folder from the run's up to UET's home, and which new entries are UET's own.
        self._around: dict[Path, Callable[[str], bool]] = {
            run_folder: lambda name: name in self._live(),
            run_folder.parent: lambda name: bool(_RUN_ID.match(name)),  # another run starting
            # another repository's run, or the package caches setup steps share
            home: lambda name: bool(_REPO_KEY.match(name)) or name == CACHE_DIRNAME,
        }

    def snapshot(self) -> Snapshot:
        files: dict[Path, bytes | None] = {}
        for path in self._watched():
            try:
                files[path] = path.read_bytes()
            except OSError:
                files[path] = None
        return Snapshot(files, {folder: _entries(folder) for folder in self._around})

    def check(self, before: Snapshot) -> Breach:
        """Compare with ``before``, undo what changed, and say what it was."""
        repository = self._restore_files(before)
        strays: list[str] = []
        for folder, ours in self._around.items():
            for name in sorted(_entries(folder) - before.around.get(folder, frozenset())):
                if not ours(name):
                    strays.append(str(folder / name))
                    _delete(folder / name)
        if strays:
            log.warning("deleted %d path(s) a tool wrote outside its copy", len(strays))
        return Breach(repository, strays)

    # -- the repository's shared files ---------------------------------------------------------

    def _watched(self) -> list[Path]:
        watched = [self.common_dir / "config"]
        hooks = self.common_dir / "hooks"
        with contextlib.suppress(OSError):
            watched += sorted(p for p in hooks.iterdir() if p.is_file())
        return watched

    def _restore_files(self, before: Snapshot) -> list[str]:
        changed: list[str] = []
        for path in sorted({*self._watched(), *before.files}):
            old = before.files.get(path)
            try:
                now: bytes | None = path.read_bytes()
            except OSError:
                now = None
            if now == old:
                continue
            changed.append(path.relative_to(self.common_dir).as_posix())
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(old)
        return changed


def _entries(folder: Path) -> frozenset[str]:
    try:
        return frozenset(entry.name for entry in folder.iterdir())
    except OSError:
        return frozenset()


def _delete(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
