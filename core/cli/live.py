"""Live output of `uet run` / `uet resume`: one line per finished task, and a progress bar.

It listens to the event bus (events arrive after they are committed) and writes to stderr, so
stdout stays clean for the final summary or ``--json``. The bar is drawn only on a terminal.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType

import click

from core.cli.output import STATE_MARKS, duration, progress_bar, styled_state
from core.engine.events import EventBus
from core.engine.monitoring import Progress
from core.state import EventRow, Ledger

_FINAL = {"task.succeeded", "task.failed", "task.skipped", "task.canceled"}
_REDRAW_SECONDS = 0.1


class LiveReporter:
    def __init__(self, ledger: Ledger, run_id: str, bus: EventBus, *, enabled: bool) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.bus = bus
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.total = 0
        self.done = 0
        self.running = 0
        self.started = time.monotonic()
        self._durations: dict[str, float] = {}
        self._unsubscribe: object = None
        self._bar_shown = False
        self._last_draw = 0.0
        self.pad = 0  # task ids are padded to this width so columns line up

    def __enter__(self) -> LiveReporter:
        if self.enabled:
            tasks = self.ledger.list_tasks(self.run_id)
            self.pad = min(40, max((len(t["task_id"]) for t in tasks), default=0))
            counts = self.ledger.task_counts(self.run_id)
            self.total = counts.total
            self.done = sum(
                counts.by_state.get(s, 0) for s in ("succeeded", "failed", "skipped", "canceled")
            )
            self._unsubscribe = self.bus.subscribe(self.on_event)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if callable(self._unsubscribe):
            self._unsubscribe()
        self._clear_bar()

    def on_event(self, event: EventRow) -> None:
        kind = event["kind"]
        payload = event["payload"]
        task_id = event["task_id"] or ""
        if kind == "task.running":
            self.running += 1
        elif payload.get("from") == "running" and kind.startswith("task."):
            self.running -= 1
        if kind.startswith("attempt.") and "duration_seconds" in payload:
            self._durations[task_id] = float(payload["duration_seconds"])
        if kind in _FINAL:
            self.done += 1
        line = self._line(kind, task_id, payload)
        if line:
            self._clear_bar()
            click.echo(line, err=True)
        self._draw_bar()

    def _line(self, kind: str, task_id: str, payload: dict[str, object]) -> str | None:
        state = kind.partition(".")[2]
        reason = payload.get("reason")
        name = task_id.ljust(self.pad)
        mark = STATE_MARKS.get(state, " ")
        if kind == "task.succeeded":
            took = duration(self._durations.get(task_id))
            return f"  {click.style(mark, fg='green')} {name}  {took}"
        if kind in ("task.failed", "task.skipped", "task.canceled"):
            return f"  {mark} {name}  {styled_state(state)}: {reason}"
        if kind == "task.retrying":
            delay = payload.get("delay_seconds")
            nxt = payload.get("next_attempt")
            return f"  {mark} {name}  {reason}; attempt {nxt} in {delay}s"
        if kind == "run.paused":
            return f"{styled_state('paused')}: {reason}"
        return None

    def _draw_bar(self) -> None:
        if not self.tty or not self.total:
            return
        now = time.monotonic()
        if now - self._last_draw < _REDRAW_SECONDS and self.done < self.total:
            return
        self._last_draw = now
        elapsed = now - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        bar = progress_bar(Progress(self.total, self.done, self.running, {}, elapsed, eta))
        sys.stderr.write("\r\x1b[2K" + bar)
        sys.stderr.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self._bar_shown = False
