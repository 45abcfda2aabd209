"""``run`` tasks: execute an argv list (never through a shell) with bounded output capture.

- The child gets its own session, hence its own process group: a timeout, a cancel or Ctrl-C
  kills the whole group (SIGTERM, then SIGKILL after a grace period), grandchildren included,
  and the terminal's Ctrl-C reaches UET only, which then decides what to stop.
- stdout and stderr are read through pipes and written to log files, up to ``cap`` bytes each;
  the rest is counted and dropped, so a flooding tool cannot fill the disk. Files are created
  on the first byte only: most tasks print nothing and pay nothing.
- When the main process exits, anything left in its group is killed: an attempt never leaks
  processes into the next one.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.engine.execution.outcome import Outcome
from core.engine.execution.sinks import Sink
from core.secrets import Redactor

_READ_CHUNK = 64 * 1024
_EXIT_DRAIN_SECONDS = 1.0  # how long to wait for grandchildren holding the pipes open
_POLL_SECONDS = 0.25


@dataclass
class ProcessTable:
    """The process groups of running attempts, so the orchestrator can stop them all."""

    _groups: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
    redact: Redactor | None = None,
) -> Outcome:
    """Run ``argv``; ``stderr_path=None`` merges stderr into the stdout log (gates use it, so
    their log reads in the order the tool wrote it). The logs are written with the secrets
    of ``redact`` replaced (see :class:`Sink`)."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_path is not None else subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(
            state="failed",
            duration_seconds=time.monotonic() - started,
            error=_spawn_error(argv, cwd, exc),
            retryable=False,
        )
    processes.add(key, proc.pid)
    sinks = {"stdout": Sink(stdout_path, cap, redact)}
    if stderr_path is not None:
        sinks["stderr"] = Sink(stderr_path, cap, redact)
    try:
        timed_out = _pump(proc, sinks, started, timeout, kill_grace)
        cpu = _reap(proc)
    finally:
        processes.discard(key)
        logs = {name: sink.close() for name, sink in sinks.items()}
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
    if code == 0:
        return Outcome(state="succeeded", **common)
    last_words = sinks.get("stderr") or sinks["stdout"]
    return Outcome(state="failed", error=_failure_text(code, last_words), **common)


def _failure_text(code: int, stderr: Sink) -> str:
    if code < 0:
        try:
            what = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"killed by signal {-code}"
    else:
        what = f"exited with code {code}"
    last = stderr.last_line()
    return f"{what}: {last}" if last else what


def _pump(
    proc: subprocess.Popen[bytes],
    sinks: dict[str, Sink],
    started: float,
    timeout: float | None,
    kill_grace: float,
) -> bool:
    """Copy the pipes into the sinks until both close; enforce the timeout. True if timed out.

    ``select.poll`` on the two descriptors: no selector object to build per attempt, and the
    exit check (a syscall) runs only when the pipes stay quiet, not on every chunk.
    """
    pipes = [(proc.stdout, sinks["stdout"])]
    if "stderr" in sinks:
        pipes.append((proc.stderr, sinks["stderr"]))
    open_fds: dict[int, Sink] = {}
    for pipe, sink in pipes:
        if pipe is None:  # Popen was given PIPE for every sink
            raise RuntimeError("child pipes missing")
        open_fds[pipe.fileno()] = sink
    poller = select.poll()
    for fd in open_fds:
        poller.register(fd, select.POLLIN)
    deadline = None if timeout is None else started + timeout
    kill_at: float | None = None  # when SIGKILL follows the SIGTERM of a timeout
    exited_at: float | None = None
    timed_out = False
    while open_fds:
        wait = _POLL_SECONDS
        if deadline is not None or kill_at is not None:
            now = time.monotonic()
            for limit in (deadline if not timed_out else None, kill_at):
                if limit is not None:
                    wait = max(0.0, min(wait, limit - now))
        ready = poller.poll(wait * 1000)
        for fd, _ in ready:
            data = os.read(fd, _READ_CHUNK)
            if data:
                open_fds[fd].feed(data)
            else:
                poller.unregister(fd)
                del open_fds[fd]
        if ready and deadline is None:
            continue  # output or EOF: keep reading; nothing is due
        now = time.monotonic()
        if deadline is not None and now >= deadline and not timed_out:
            timed_out = True
            _kill_group(proc.pid, signal.SIGTERM)
            kill_at = now + kill_grace
        if kill_at is not None and now >= kill_at:
            _kill_group(proc.pid, signal.SIGKILL)
            kill_at = None
        if not ready:
            if exited_at is None and _has_exited(proc.pid):
                exited_at = now
            if exited_at is not None and now - exited_at >= _EXIT_DRAIN_SECONDS:
                break  # the main process is gone; something it left behind holds the pipes
    for pipe, _ in pipes:
        if pipe is not None:
            pipe.close()
    return timed_out


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
