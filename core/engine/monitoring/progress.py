"""Progress of a run: how much is done, what is running, and when it should end.

The ETA extrapolates the run's own pace (finished tasks per second of running time) over the
tasks left; it needs at least one finished task and says nothing (None) before that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from core import clock
from core.engine.lifecycle import TASK
from core.state import RunRow, TaskCounts


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    done: int
    running: int
    by_state: Mapping[str, int]
    elapsed_seconds: float | None
    eta_seconds: float | None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "done": self.done,
            "running": self.running,
            "percent": round(100 * self.fraction, 1),
            "elapsed_seconds": self.elapsed_seconds,
            "eta_seconds": self.eta_seconds,
            "by_state": dict(self.by_state),
        }


def measure(run: RunRow, counts: TaskCounts, now: datetime | None = None) -> Progress:
    done = sum(n for state, n in counts.by_state.items() if state in TASK.final_states)
    elapsed = None
    if run["started_at"]:
        end = clock.parse(run["finished_at"]) if run["finished_at"] else (now or datetime.now(UTC))
        elapsed = max(0.0, (end - clock.parse(run["started_at"])).total_seconds())
    eta = None
    if run["state"] == "running" and elapsed and done:
        eta = elapsed / done * (counts.total - done)
    return Progress(
        total=counts.total,
        done=done,
        running=counts.by_state.get("running", 0),
        by_state=dict(counts.by_state),
        elapsed_seconds=elapsed,
        eta_seconds=eta,
    )
