"""SIGINT/SIGTERM for the processes that execute attempts (`uet run`, `uet worker`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def on_stop_signals(handle: Callable[[str], None], enabled: bool = True) -> Iterator[None]:
    """Call ``handle(signal name)`` on SIGINT and SIGTERM while inside; the previous handlers
    come back on leaving. Only the main thread can install handlers: elsewhere, nothing."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handle(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
