"""What a ``call`` task prints goes to its attempt's logs, not to the terminal.

A ``call`` runs in a worker thread of the UET process, and ``sys.stdout``/``sys.stderr`` are
process-global: several calls run at once, next to the orchestrator's own output. While at
least one call runs, both are replaced by a router that looks up the *current thread*: a
thread inside :func:`captured` writes to its own sinks (redacting, capped: see
:class:`~core.engine.execution.sinks.Sink`), every other thread to the streams that were
there before. When the last call ends, those streams are put back (unless someone replaced
the router meanwhile, in which case theirs stays).

Not captured: writes to file descriptors 1 and 2 themselves (``os.write``, child processes
the call starts, C extensions), threads the call starts, and logging handlers that hold a
reference to the old stream; ``warnings`` and ``print`` are captured.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO, cast

from core.engine.execution.sinks import Sink

_local = threading.local()
_lock = threading.Lock()
_active = 0  # calls inside captured(), all threads
_routers: tuple[_Router, _Router] | None = None


class _Router:
    """A text stream that writes to the current thread's sink, else to ``fallback``."""

    def __init__(self, stream: str, fallback: TextIO) -> None:
        self._stream = stream
        self.fallback = fallback

    def _sink(self) -> Sink | None:
        sink: Sink | None = getattr(_local, self._stream, None)
        return sink

    def write(self, text: str) -> int:
        sink = self._sink()
        if sink is None:
            return self.fallback.write(text)
        sink.feed(text.encode("utf-8", "replace"))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._sink() is None:
            self.fallback.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno...: the real stream's
        return getattr(self.fallback, name)


class captured:  # used like a function: ``with captured(out, err):``
    """Inside: what this thread writes to ``sys.stdout``/``sys.stderr`` goes to the sinks.
    (A class, not a generator context manager: it runs around every call task.)"""

    __slots__ = ("_stderr", "_stdout")

    def __init__(self, stdout: Sink, stderr: Sink) -> None:
        self._stdout, self._stderr = stdout, stderr

    def __enter__(self) -> None:
        _enter()
        _local.stdout, _local.stderr = self._stdout, self._stderr

    def __exit__(self, *exc: object) -> None:
        _local.stdout = _local.stderr = None
        _leave()


def _enter() -> None:
    global _active, _routers
    with _lock:
        if _routers is None or sys.stdout is not _routers[0] or sys.stderr is not _routers[1]:
            _routers = (_Router("stdout", _real(sys.stdout)), _Router("stderr", _real(sys.stderr)))
            sys.stdout, sys.stderr = cast(TextIO, _routers[0]), cast(TextIO, _routers[1])
        _active += 1


def _real(stream: Any) -> TextIO:
    return cast(TextIO, stream.fallback if isinstance(stream, _Router) else stream)


def _leave() -> None:
    global _active, _routers
    with _lock:
        _active -= 1
        if _active or _routers is None:
            return
        out, err = _routers
        if sys.stdout is out:
            sys.stdout = out.fallback
        if sys.stderr is err:
            sys.stderr = err.fallback
        _routers = None
