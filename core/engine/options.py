"""Options of a run, and how it ended: the values the run API takes and returns."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LOG_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class RunOptions:
    parallel: int | None = None  # worker threads; default: CPU count
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES  # per stream, per attempt
    kill_grace_seconds: float = 3.0  # SIGTERM -> SIGKILL
    handle_signals: bool = True  # install SIGINT/SIGTERM handlers (main thread only)
    poll_seconds: float = 0.5  # how often to look for an outside cancel
    heartbeat_seconds: float = 2.0
    keep_worktrees: bool = False  # keep the worktrees of failed writing attempts
    repo: Path | None = None  # the repository writing tasks change (default: the workdir's)
    budget: Mapping[str, float] | None = None  # the run's max_usd / max_tokens / max_wall_seconds
    reuse_results: bool = False  # skip tasks whose identical spec succeeded on the same base

    @property
    def workers(self) -> int:
        return max(1, self.parallel or os.cpu_count() or 1)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    state: str
    reason: str | None
    counts: Mapping[str, int]

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"
