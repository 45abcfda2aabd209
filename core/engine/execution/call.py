"""``call`` tasks: import ``module:attribute`` and call it with the task's JSON params.

The callable runs in the worker thread, so it shares the process with the orchestrator: it
should be quick or release the GIL. Its return value must be JSON-serialisable; it becomes the
task's output. Exceptions fail the attempt (and may be retried); the traceback goes to the
attempt's stderr log.
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

from core.engine.execution.outcome import LogFile, Outcome

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
    ref: str, params: dict[str, Any], search_paths: Sequence[str], stderr_path: Path
) -> Outcome:
    started = time.monotonic()

    def finish(state: str, **fields: Any) -> Outcome:
        return Outcome(state=state, duration_seconds=time.monotonic() - started, **fields)

    try:
        function = resolve_callable(ref, search_paths)
    except CallNotFound as exc:
        return finish("failed", error=str(exc), retryable=False)
    try:
        result = function(**params)
    except Exception as exc:
        log = _write_traceback(stderr_path)
        return finish("failed", error=f"{type(exc).__name__}: {exc}", stderr=log)
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return finish(
            "failed", error=f"result of {ref} is not JSON-serialisable: {exc}", retryable=False
        )
    return finish("succeeded", output=result)


def _write_traceback(path: Path) -> LogFile:
    text = traceback.format_exc().encode("utf-8", "replace")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    return LogFile(str(path), len(text), False)
