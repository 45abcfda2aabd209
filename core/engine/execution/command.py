"""``run`` tasks: execute an argv list (never through a shell) with bounded output capture.

- The child gets its own session, hence its own process group: a timeout, a cancel or Ctrl-C
  kills the whole group (SIGTERM, then SIGKILL after a grace period), grandchildren included,
  and the terminal's Ctrl-C reaches UET only, which then decides what to stop.
- The timeout is wall clock, whatever the tool does with its pipes: the exit of the main
  process is watched through a pidfd beside the pipes, so a tool that closes its stdout and
  stderr and sleeps is still stopped on time.
- stdout and stderr are read through pipes and written to log files, up to ``cap`` bytes each;
  the rest is counted and dropped, so a flooding tool cannot fill the disk. Files are created
  on the first byte only: most tasks print nothing and pay nothing.
- A :class:`~core.engine.execution.sandbox.Confinement` runs the command in the OS sandbox
  when there is one (:mod:`core.engine.execution.sandbox`).
- When the main process exits, everything it started is killed, in its group or not (the
  sandbox's PID namespace, else :mod:`core.engine.execution.reaping`): an attempt never leaks
  processes into the next one, nor past the end of the run.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.engine.execution import reaping
from core.engine.execution.outcome import Outcome
from core.engine.execution.sandbox import Confinement, Isolation
from core.engine.execution.sinks import Sink
from core.secrets import Redactor

_READ_CHUNK = 64 * 1024
_EXIT_DRAIN_SECONDS = 1.0  # how long to wait for grandchildren holding the pipes open
_POLL_SECONDS = 0.25


# Held while a tool is started and entered in its ProcessTable, and while orphans are looked
# for: a tool just started is never taken for an orphan.
_SPAWNING = threading.Lock()


@dataclass
class ProcessTable:
    """The process groups of running attempts, so the orchestrator can stop them all.

    Keys are attempt ids (a gate's key starts with its attempt's id and ``:``)."""

    _groups: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    journal: reaping.Journal | None = None  # where the processes seen are noted (a run's)

    def leaders(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._groups.values())

    def attempts(self) -> frozenset[str]:
        with self._lock:
            return frozenset(key.partition(":")[0] for key in self._groups)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    def watch(self, leader: int) -> set[reaping.Process]:
        """The processes below ``leader`` and the orphans adopted so far, noted in the
        journal."""
        found = reaping.descendants(leader)
        with _SPAWNING:
            found |= reaping.orphans(self.leaders(), self.attempts)
        if self.journal is not None:
            self.journal.note(found)
        return found

    def sweep(self, newer_than: int = 0) -> int:
        """Kill the orphans of finished tools (see :mod:`core.engine.execution.reaping`),
        leaving those whose environment names a live attempt (and, with ``newer_than``, those
        whose pid is not above it); how many were killed."""
        with _SPAWNING:
            found = reaping.orphans(self.leaders(), self.attempts, newer_than)
        return reaping.kill(found)

    def add(self, key: str, pgid: int) -> None:
        with self._lock:
            self._groups[key] = pgid

    def discard(self, key: str) -> None:
        with self._lock:
            self._groups.pop(key, None)

    def kill(self, key: str) -> None:
        with self._lock:
            pgid = self._groups.get(key)
        if pgid is not None:
            _kill_group(pgid, signal.SIGKILL)

    def signal_all(self, signum: int) -> int:
        with self._lock:
            groups = list(self._groups.values())
        for pgid in groups:
            _kill_group(pgid, signum)
        return len(groups)


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _spawn_error(argv: Sequence[str], cwd: str, exc: OSError) -> str:
    if not Path(cwd).is_dir():
        return f"working directory does not exist: {cwd}"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {argv[0]}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {argv[0]}"
    return f"cannot start {argv[0]}: {exc}"


def run_command(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout: float | None,
    stdout_path: Path,
    stderr_path: Path | None,
    cap: int,
    processes: ProcessTable,
    key: str,
    kill_grace: float = 3.0,
    isolation: Isolation | None = None,
    confinement: Confinement | None = None,
    redact: Redactor | None = None,
    ok_exit_codes: Collection[int] = (0,),
) -> Outcome:
    """Run ``argv``; ``stderr_path=None`` merges stderr into the stdout log (gates use it, so
    their log reads in the order the tool wrote it). With a ``confinement`` it runs under
    ``isolation`` (the sandbox when there is one); ``redact`` scrubs secrets from the logs as
    they are written; an exit code in ``ok_exit_codes`` is a success."""
    started = time.monotonic()
    spawn = list(argv)
    environment = dict(env)
    sandboxed = isolation is not None and isolation.sandboxed and confinement is not None
    if isolation is not None and confinement is not None:
        if sandboxed:
            # Inside the sandbox a missing program is bwrap's error: say it the usual way.
            missing = _spawn_check(argv, cwd, environment)
            if missing is not None:
                return Outcome("failed", time.monotonic() - started, error=missing, retryable=False)
        spawn, environment = isolation.wrap(argv, cwd, environment, confinement)
    # Orphans become UET's children, the sandbox's init among them once bwrap has exited.
    reaping.become_subreaper()
    try:
        with _SPAWNING:
            proc = subprocess.Popen(
                spawn,
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if stderr_path is not None else subprocess.STDOUT,
                start_new_session=True,
            )
            processes.add(key, proc.pid)
        if processes.journal is not None:
            start = reaping.start_time(proc.pid)
            if start is not None:
                processes.journal.note([(proc.pid, start)])
    except OSError as exc:
        return Outcome(
            state="failed",
            duration_seconds=time.monotonic() - started,
            error=_spawn_error(argv, cwd, exc),
            retryable=False,
        )
    sinks = {"stdout": Sink(stdout_path, cap, redact)}
    if stderr_path is not None:
        sinks["stderr"] = Sink(stderr_path, cap, redact)
    # The tool's descendants: without a PID namespace, noted while it runs, to kill them
    # after; in the sandbox, noted when it is killed, to wait for the namespace to go.
    family: set[reaping.Process] = set()
    try:
        watch = None if sandboxed else lambda: processes.watch(proc.pid)
        timed_out = _pump(proc, sinks, started, timeout, kill_grace, family, watch)
        cpu = _reap(proc)
    finally:
        processes.discard(key)
        logs = {name: sink.close() for name, sink in sinks.items()}
        if sandboxed:
            reaping.wait_gone(family)
        else:
            reaping.kill(family)
        # Reaping the sandbox's init waits for its PID namespace to be empty.
        processes.sweep(newer_than=proc.pid)
    duration = time.monotonic() - started
    code = proc.returncode
    common: dict[str, Any] = {
        "duration_seconds": duration,
        "exit_code": code,
        "stdout": logs["stdout"],
        "stderr": logs.get("stderr"),
        "cpu_seconds": cpu,
    }
    if timed_out:
        return Outcome(state="timed_out", error=f"timed out after {timeout:g}s", **common)
    if code is not None and code in ok_exit_codes:
        return Outcome(state="succeeded", **common)
    stderr = sinks.get("stderr")
    last_words = stderr if stderr is not None and stderr.tail else sinks["stdout"]
    return Outcome(state="failed", error=_failure_text(code, last_words), **common)


def _spawn_check(argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> str | None:
    """Why ``argv`` cannot start in ``cwd``, found before it is handed to the sandbox."""
    if not Path(cwd).is_dir():
        return f"working directory does not exist: {cwd}"
    program = argv[0] if argv else ""
    if "/" in program:
        target = Path(cwd, program)
        if not target.exists():
            return f"command not found: {program}"
        if not os.access(target, os.X_OK) or target.is_dir():
            return f"permission denied: {program}"
        return None
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        return f"command not found: {program}"
    return None


def _failure_text(code: int, output: Sink) -> str:
    """Why a tool failed: how it ended, its last lines of output, and where the whole log is."""
    if code < 0:
        try:
            what = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"killed by signal {-code}"
    else:
        what = f"exited with code {code}"
    last = " | ".join(output.last_lines())
    text = f"{what}: {last}" if last else what
    return f"{text} (log: {output.path})" if output.kept else text


def _pump(
    proc: subprocess.Popen[bytes],
    sinks: dict[str, Sink],
    started: float,
    timeout: float | None,
    kill_grace: float,
    family: set[reaping.Process],
    watch: Callable[[], set[reaping.Process]] | None,
) -> bool:
    """Copy the pipes into the sinks until the main process has exited and the pipes are
    closed; enforce the timeout meanwhile, by the clock alone. True if it timed out.

    ``select.poll`` on the pipes and on a pidfd of the main process (readable once it exits):
    no selector object to build per attempt, no exit polling while output flows, and the
    timeout holds even when the tool closes its pipes. Where there is no pidfd, the exit is
    checked each time the pipes stay quiet. ``family`` collects the main process's
    descendants when it is killed, and what ``watch`` finds each time it is quiet.
    """
    open_fds: dict[int, Sink] = {}
    for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        if name in sinks:
            if pipe is None:  # Popen was given PIPE for every sink
                raise RuntimeError("child pipes missing")
            open_fds[pipe.fileno()] = sinks[name]
    poller = select.poll()
    for fd in open_fds:
        poller.register(fd, select.POLLIN)
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    deadline = None if timeout is None else started + timeout
    kill_at: float | None = None  # when SIGKILL follows the SIGTERM of a timeout
    exited_at: float | None = None
    timed_out = False
    try:
        while True:
            now = time.monotonic()
            if exited_at is not None and (not open_fds or now - exited_at >= _EXIT_DRAIN_SECONDS):
                break  # done; or something the tool left behind holds the pipes
            wait = _POLL_SECONDS
            for limit in (
                None if timed_out else deadline,
                kill_at,
                None if exited_at is None else exited_at + _EXIT_DRAIN_SECONDS,
            ):
                if limit is not None:
                    wait = max(0.0, min(wait, limit - now))
            ready = poller.poll(wait * 1000)
            for fd, _ in ready:
                if fd == pidfd:
                    poller.unregister(fd)
                    exited_at = time.monotonic()
                    continue
                data = os.read(fd, _READ_CHUNK)
                if data:
                    open_fds[fd].feed(data)
                else:
                    poller.unregister(fd)
                    del open_fds[fd]
            if ready and deadline is None and kill_at is None:
                continue  # output or EOF: keep reading; nothing is due
            now = time.monotonic()
            if deadline is not None and now >= deadline and not timed_out and exited_at is None:
                timed_out = True
                family |= reaping.descendants(proc.pid)
                _kill_group(proc.pid, signal.SIGTERM)
                kill_at = now + kill_grace
            if kill_at is not None and now >= kill_at:
                _kill_group(proc.pid, signal.SIGKILL)
                kill_at = None
            if not ready:
                if pidfd is None and exited_at is None and _has_exited(proc.pid):
                    exited_at = now
                if watch is not None and exited_at is None:
                    family |= watch()
    finally:
        if pidfd is not None:
            os.close(pidfd)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    return timed_out


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux 5.3+), else None."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


def _has_exited(pid: int) -> bool:
    """Whether ``pid`` has exited, without reaping it (see :func:`_reap`)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _reap(proc: subprocess.Popen[bytes]) -> float | None:
    """Wait for the main process, then kill whatever is left in its group, then reap it;
    return the CPU seconds it (and the children it waited for) used.

    Killing the group before reaping the leader matters: while the leader is a zombie its pid
    (and so the group id) cannot be reused, so the SIGKILL cannot hit an unrelated process.
    """
    if proc.returncode is not None:
        return None
    with contextlib.suppress(ChildProcessError):
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    _kill_group(proc.pid, signal.SIGKILL)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:
        proc.wait()
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime
