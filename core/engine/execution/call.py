"""``call`` tasks: import ``module:attribute`` and call it with the task's JSON params.

The callable runs in the worker thread, so it shares the process with the orchestrator: it
should be quick or release the GIL. Its return value must be JSON-serialisable; it becomes the
task's output. Exceptions fail the attempt (and may be retried).

What the callable prints (``print``, ``sys.stdout``/``sys.stderr`` writes, warnings) goes to
the attempt's stdout and stderr logs, never to the terminal, and so does the traceback of an
exception (in the stderr log): all through redacting sinks, so no log holds a secret (see
:mod:`core.engine.execution.thread_output` for what cannot be captured).
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.engine.execution.outcome import Outcome
from core.engine.execution.sinks import Sink
from core.engine.execution.thread_output import captured
from core.secrets import Redactor

_PATH_LOCK = threading.Lock()


class CallNotFound(Exception):
    """The reference does not name an importable callable; message says why."""


def _extend_path(search_paths: Sequence[str]) -> None:
    with _PATH_LOCK:
        for entry in reversed(search_paths):
            if entry not in sys.path:
                sys.path.insert(0, entry)


def resolve_callable(ref: str, search_paths: Sequence[str] = ()) -> Callable[..., Any]:
    """Import ``package.module:attr.path`` (``search_paths`` first) and return the callable."""
    return _resolve(ref, tuple(search_paths))


@functools.lru_cache(maxsize=4096)  # failures raise, so only successes are remembered
def _resolve(ref: str, search_paths: tuple[str, ...]) -> Callable[..., Any]:
    module_name, _, attr_path = ref.partition(":")
    if not module_name or not attr_path:
        raise CallNotFound(f"{ref!r} is not of the form 'package.module:function'")
    _extend_path(search_paths)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise CallNotFound(f"cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # the module itself raised while importing
        raise CallNotFound(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise CallNotFound(f"{module_name!r} has no attribute {attr_path!r}") from None
    if not callable(target):
        raise CallNotFound(f"{ref!r} is not callable")
    return target  # type: ignore[no-any-return]


def run_call(
    ref: str,
    params: dict[str, Any],
    search_paths: Sequence[str],
    *,
    stdout_path: Path,
    stderr_path: Path,
    cap: int,
    redact: Redactor | None = None,
) -> Outcome:
    """Call ``ref`` with ``params``; its output and traceback go to the two logs (created
    only if something is written), redacted by ``redact``."""
    started = time.monotonic()

    def finish(state: str, **fields: Any) -> Outcome:
        return Outcome(state=state, duration_seconds=time.monotonic() - started, **fields)

    try:
        function = resolve_callable(ref, search_paths)
    except CallNotFound as exc:
        return finish("failed", error=str(exc), retryable=False)
    stdout, stderr = Sink(stdout_path, cap, redact), Sink(stderr_path, cap, redact)
    failure: str | None = None
    try:
        with captured(stdout, stderr):
            result = function(**params)
    except Exception as exc:
        stderr.feed(traceback.format_exc().encode("utf-8", "replace"))
        failure = f"{type(exc).__name__}: {exc}"
    finally:  # SystemExit and KeyboardInterrupt pass through, with the logs complete
        logs = {"stdout": stdout.close(), "stderr": stderr.close()}
    if failure is not None:
        return finish("failed", error=failure, **logs)
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return finish(
            "failed",
            error=f"result of {ref} is not JSON-serialisable: {exc}",
            retryable=False,
            **logs,
        )
    return finish("succeeded", output=result, **logs)
