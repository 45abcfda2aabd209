"""Following a run's events as they are committed (``uet events --follow``).

Readers poll the ledger by ``seq``: cheap with WAL (never blocking the writer), ordered, and
resumable from any point. Following ends once the run is no longer pending or running (it
ended, or it paused and waits for ``uet resume``) and its last events are read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from core.state import EventRow, Ledger


def follow_events(
    ledger: Ledger,
    run_id: str,
    *,
    after_seq: int = 0,
    poll_seconds: float = 0.5,
    batch: int = 1000,
    until_final: bool = True,
) -> Iterator[EventRow]:
    seq = after_seq
    while True:
        events = ledger.list_events(run_id, after_seq=seq, limit=batch)
        for event in events:
            seq = event["seq"] or seq
            yield event
        if len(events) == batch:
            continue
        run = ledger.get_run(run_id)
        if until_final and (run is None or run["state"] not in ("pending", "running")):
            # One more read: events committed with the final transition.
            for event in ledger.list_events(run_id, after_seq=seq):
                seq = event["seq"] or seq
                yield event
            return
        time.sleep(poll_seconds)
