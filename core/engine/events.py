"""The event bus: events are rows of the ledger first, notifications second.

Writers add events to the transaction that makes the change they report (see
:mod:`core.engine.recorder`); only after that transaction commits does the bus hand them to
subscribers, so a subscriber never sees an event the ledger might still roll back. A failing
subscriber is logged and skipped: watching a run can never break it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from core import clock
from core.ids import new_id
from core.state import EventRow

log = logging.getLogger(__name__)

Subscriber = Callable[[EventRow], None]


def make_event(
    kind: str,
    *,
    run_id: str | None = None,
    task_id: str | None = None,
    attempt_id: str | None = None,
    subject_id: str | None = None,
    payload: dict[str, Any] | None = None,
    ts: str | None = None,
) -> EventRow:
    return {
        "seq": None,
        "event_id": new_id(),
        "kind": kind,
        "run_id": run_id,
        "task_id": task_id,
        "attempt_id": attempt_id,
        "subject_id": subject_id,
        "payload": payload or {},
        "ts": ts or clock.now(),
    }


class EventBus:
    """In-process publish/subscribe over committed events."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[Subscriber, frozenset[str] | None]] = []

    def subscribe(
        self, subscriber: Subscriber, kinds: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call ``subscriber`` for each committed event (of ``kinds``, if given).

        Returns a function that unsubscribes.
        """
        entry = (subscriber, frozenset(kinds) if kinds is not None else None)
        self._subscribers.append(entry)
        return lambda: self._subscribers.remove(entry)

    def publish(self, events: Sequence[EventRow]) -> None:
        if not self._subscribers:
            return
        for event in events:
            for subscriber, kinds in tuple(self._subscribers):
                if kinds is not None and event["kind"] not in kinds:
                    continue
                try:
                    subscriber(event)
                except Exception:
                    log.exception("event subscriber %r failed on %s", subscriber, event["kind"])
