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
    usage: Any = None  # tool tasks: the Usage the tool reported (core.engine.routing.usage)
    cpu_seconds: float | None = None  # CPU time of the tool's processes (user + system)

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"

    @property
    def tool_failed(self) -> bool:
        """The tool itself failed (crashed, exited non-zero, timed out, is missing), as
        opposed to a patch it made being refused: what circuit breakers count."""
        return self.state in ("failed", "timed_out") and self.patch is None
