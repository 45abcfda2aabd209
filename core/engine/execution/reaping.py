"""Every process an attempt started dies with the attempt, sandbox or not.

In the sandbox the PID namespace does this (see :mod:`core.engine.execution.sandbox`). Without
one, a tool that forks twice and calls ``setsid`` leaves the process group UET kills, and an
ordinary Unix process would then belong to init, beyond anyone's reach. So on Linux UET makes
itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``): such orphans become UET's own
children instead. While a tool runs, its descendants are noted from ``/proc`` each time its
pipes go quiet; when its attempt ends, those still alive, and any orphan that has become UET's
child, are killed and reaped. An orphan whose environment names another live attempt is left
to that attempt.

What is noted goes to a journal too (``<logs>/<run>/.processes``), so that ``uet resume``
after a crash of UET itself can kill what the crash left behind, even a process that dropped
UET's variables from its environment (see :func:`core.engine.recovery.kill_orphans`).

Orphans are told from UET's own children by their session: every process UET starts itself
either shares UET's session (git, probes) or is registered in the :class:`ProcessTable` while
it runs (tools and gates, started in their own session). A ``call`` task's own code that
starts a process in a session of its own looks like an orphan too, and is killed when an
attempt ends: call tasks are UET's in-process extension point, their subprocesses belong in
``run`` tasks. The same holds for a program that embeds UET's API and starts such processes
itself while a run works: without a sandbox, UET takes the process it runs in as its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

_PR_SET_CHILD_SUBREAPER = 36
_PROC = "/proc"
_GONE_SECONDS = 10.0  # how long the kernel may take to empty a killed sandbox
Process = tuple[int, int]  # (pid, start time in clock ticks): a pid is reused, the pair is not


@functools.lru_cache(maxsize=1)
def become_subreaper() -> bool:
    """Adopt the orphans of the processes this one starts (Linux only); True if it did."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):  # no prctl here
        return False


@dataclass(frozen=True, slots=True)
class _Stat:
    parent: int
    session: int
    start: int
    zombie: bool


def _stat(pid: int) -> _Stat | None:
    """What ``/proc/<pid>/stat`` says of ``pid``, or None when it is gone."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold anything: split after the last one.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return _Stat(int(fields[1]), int(fields[3]), int(fields[19]), fields[0] == b"Z")
    except (IndexError, ValueError):
        return None


def _all_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:
        return []


def descendants(root: int) -> set[Process]:
    """Every live process below ``root`` (not ``root`` itself)."""
    children: dict[int, list[tuple[int, int]]] = {}
    for pid in _all_pids():
        info = _stat(pid)
        if info is not None:
            children.setdefault(info.parent, []).append((pid, info.start))
    found: set[Process] = set()
    stack = [root]
    while stack:
        for pid, start in children.get(stack.pop(), ()):
            if (pid, start) not in found:
                found.add((pid, start))
                stack.append(pid)
    return found


def _attempt_of(pid: int) -> str | None:
    try:
        with open(f"{_PROC}/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return None
    for item in environ.split(b"\0"):
        if item.startswith(b"UET_ATTEMPT_ID="):
            return item.partition(b"=")[2].decode("ascii", "replace")
    return None


def orphans(
    live_leaders: Iterable[int],
    live_attempts: Callable[[], frozenset[str]],
    newer_than: int = 0,
) -> set[Process]:
    """Processes that became this process's children by being orphaned: not in its session,
    not a tool or gate it runs now, not belonging to another live attempt. ``newer_than``
    looks only at pids above it (those of a tool's descendants, started after it, unless
    pids wrapped around meanwhile: a sweep without it, at the end of a run, finds those)."""
    me, session = os.getpid(), os.getsid(0)
    leaders = set(live_leaders)
    found: set[Process] = set()
    for pid in _all_pids():
        if pid <= newer_than:
            continue
        info = _stat(pid)
        if info is None or info.parent != me or info.session == session or pid in leaders:
            continue
        owner = _attempt_of(pid)
        if owner is not None and owner in live_attempts():
            continue
        found.add((pid, info.start))
    return found


def kill(processes: Iterable[Process]) -> int:
    """SIGKILL each process that is still the one noted (same start time), and reap those
    that are this process's children; how many were killed."""
    killed = 0
    me = os.getpid()
    for pid, start in processes:
        info = _stat(pid)
        if info is None or info.start != start:
            continue  # gone, or the pid now names another process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
        if info.parent == me:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    # Tracked descendants killed above may have left children of their own to us.
    if killed:
        log.info("killed %d process(es) left behind by an attempt", killed)
    return killed


def wait_gone(processes: Iterable[Process], limit: float = _GONE_SECONDS) -> bool:
    """Wait until none of ``processes`` is alive (gone, a zombie, or its pid reused), as
    when a killed sandbox's PID namespace is being emptied; False if some outlived
    ``limit`` seconds."""
    pending = set(processes)
    deadline = time.monotonic() + limit
    while pending:
        pending = {p for p in pending if alive(p)}
        if not pending:
            break
        if time.monotonic() >= deadline:
            log.warning("%d process(es) of a killed sandbox still alive", len(pending))
            return False
        time.sleep(0.005)
    return True


def alive(process: Process) -> bool:
    """Whether ``process`` still runs: not gone, not a zombie, its pid not reused."""
    info = _stat(process[0])
    return info is not None and not info.zombie and info.start == process[1]


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when it is gone."""
    info = _stat(pid)
    return None if info is None else info.start


class Journal:
    """An append-only file of the processes an attempt was seen to start, one ``pid start``
    per line; a crashed UET's successor reads it back with :func:`journaled`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._noted: set[Process] = set()
        self._lock = threading.Lock()
        self._file: TextIO | None = None

    def note(self, processes: Iterable[Process]) -> None:
        with self._lock:
            new = set(processes) - self._noted
            if not new:
                return
            self._noted |= new
            if self._file is None:  # opened once, on the first process: most runs have one
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="ascii")
            self._file.write("".join(f"{pid} {start}\n" for pid, start in sorted(new)))
            self._file.flush()  # in the file before anything could crash

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def journaled(path: Path) -> set[Process]:
    """The processes a journal at ``path`` noted (none if there is no journal)."""
    found: set[Process] = set()
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return found
    for line in text.splitlines():
        pid, _, start = line.partition(" ")
        if pid.isdigit() and start.isdigit():
            found.add((int(pid), int(start)))
    return found
