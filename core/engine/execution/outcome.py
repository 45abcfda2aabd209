"""What an attempt's execution reports back to the orchestrator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LogFile:
    path: str
    bytes: int  # bytes the tool wrote, kept or not
    truncated: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one execution ended. ``state`` is an attempt state: succeeded, failed, timed_out."""

    state: str
    duration_seconds: float
    exit_code: int | None = None
    error: str | None = None
    retryable: bool = True
    output: Any = None
    stdout: LogFile | None = None
    stderr: LogFile | None = None
    patch: Any = None  # writing tasks: the PatchOutcome of core.engine.patches.attempt

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"
