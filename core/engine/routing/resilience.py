"""Keeping a broken or busy tool from burning the budget: circuit breakers and rate limits.

Circuit breaker, one per tool, kept in the ledger so every run and worker on it sees the same
state: ``failure_threshold`` consecutive tool failures open it (routing skips the tool); after
``recovery_seconds`` the next dispatch half-opens it and lets ``half_open_probes`` attempts
through; if they succeed it closes, if one fails it opens again. Each change is a
``circuit.<state>`` event. Only the tool's own failures count (crash, non-zero exit, timeout,
missing executable): a patch the gates refuse says nothing about the tool's health.

Rate limit, per tool and per process: a token bucket refilled at ``requests_per_minute / 60``
per second holding at most one second's worth (at least one request), so a burst cannot
exceed the rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from core import clock
from core.engine.lifecycle import CIRCUIT
from core.engine.recorder import Changes
from core.state import CircuitRow, Ledger


class Circuits:
    """The circuit breakers of the tools of one router config."""

    def __init__(self, ledger: Ledger, settings: Mapping[str, Mapping[str, Any]]) -> None:
        self.ledger = ledger
        self.settings = settings  # tool -> failure_threshold, recovery_seconds, half_open_probes

    def unavailable(self) -> dict[str, str]:
        """Tools routing must skip now, with why: open and not yet due for a probe, or half
        open with every probe already out."""
        blocked: dict[str, str] = {}
        for row in self.ledger.list_circuits():
            tool = row["tool"]
            if tool not in self.settings:
                continue
            if row["state"] == "open":
                wait = self._recovery_left(row)
                if wait > 0:
                    blocked[tool] = f"circuit open, probe in {wait:.0f}s"
            elif row["state"] == "half_open" and self._probes_out(row):
                blocked[tool] = "circuit half open, probe running"
        return blocked

    def next_probe_in(self) -> float | None:
        """Seconds until the first open circuit may be probed (None: none is open)."""
        waits = [
            self._recovery_left(row)
            for row in self.ledger.list_circuits()
            if row["state"] == "open" and row["tool"] in self.settings
        ]
        return max(0.0, min(waits)) if waits else None

    def admit(self, ch: Changes, tool: str, run_id: str) -> None:
        """An attempt of ``tool`` is dispatched: an open circuit due for a probe half-opens,
        and a half-open one counts the probe."""
        row = ch.txn.get_circuit(tool)
        if row is None or row["state"] == "closed":
            return
        if row["state"] == "open":
            self._move(ch, row, "probe", run_id, "recovery time over: probing", probes=1)
            return
        # A probe that never reported (its run crashed) stops counting after a recovery time.
        row["probes"] = row["probes"] + 1 if self._probes_out(row) is not None else 1
        row["updated_at"] = ch.now
        ch.txn.put_circuit(row)

    def record(self, ch: Changes, tool: str, ok: bool, run_id: str, why: str | None) -> None:
        """An attempt of ``tool`` ended: count it."""
        row = ch.txn.get_circuit(tool)
        if row is None:
            if ok:
                return  # closed with no failures: nothing to write
            row = _closed(tool, ch.now)
        settings = self.settings.get(tool, {})
        if row["state"] == "closed":
            if ok:
                if row["failures"]:
                    row["failures"] = 0
                    row["updated_at"] = ch.now
                    ch.txn.put_circuit(row)
                return
            row["failures"] += 1
            if row["failures"] >= int(settings.get("failure_threshold", 3)):
                reason = f"{row['failures']} consecutive failures; last: {why}"
                self._move(ch, row, "trip", run_id, reason, opened_at=ch.now)
            else:
                row["updated_at"] = ch.now
                ch.txn.put_circuit(row)
        elif row["state"] == "half_open":
            if not ok:
                self._move(ch, row, "trip", run_id, f"probe failed: {why}", opened_at=ch.now)
                return
            row["successes"] += 1
            if row["successes"] >= self._probes(tool):
                self._move(ch, row, "recover", run_id, "probe succeeded", failures=0)
            else:
                row["updated_at"] = ch.now
                ch.txn.put_circuit(row)
        # open: an attempt that started before the circuit opened; it changes nothing

    def _move(
        self, ch: Changes, row: CircuitRow, trigger: str, run_id: str, reason: str, **fields: Any
    ) -> None:
        before = row["state"]
        row["state"] = CIRCUIT.next(before, trigger, row["tool"])
        row["successes"] = row["probes"] = 0
        row["updated_at"] = ch.now
        row.update(fields)  # type: ignore[typeddict-item]
        ch.txn.put_circuit(row)
        ch.event(
            f"circuit.{row['state']}",
            run_id=run_id,
            subject_id=row["tool"],
            payload={"tool": row["tool"], "from": before, "reason": reason},
        )

    def _probes_out(self, row: CircuitRow) -> bool | None:
        """Whether every probe of a half-open circuit is out (None: the probes are stale)."""
        if clock.seconds_since(row["updated_at"]) > self._recovery(row["tool"]):
            return None
        return row["probes"] >= self._probes(row["tool"])

    def _recovery(self, tool: str) -> float:
        return float(self.settings[tool].get("recovery_seconds", 60.0))

    def _recovery_left(self, row: CircuitRow) -> float:
        opened = row["opened_at"] or row["updated_at"]
        return self._recovery(row["tool"]) - clock.seconds_since(opened)

    def _probes(self, tool: str) -> int:
        return int(self.settings[tool].get("half_open_probes", 1))


def _closed(tool: str, now: str) -> CircuitRow:
    return {
        "tool": tool,
        "state": "closed",
        "failures": 0,
        "successes": 0,
        "probes": 0,
        "opened_at": None,
        "updated_at": now,
    }


class TokenBucket:
    """At most ``per_minute`` requests a minute, with a burst of one second's worth."""

    def __init__(self, per_minute: float, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.tokens = self.capacity
        self._now = now
        self._last = now()

    def _refill(self) -> None:
        current = self._now()
        self.tokens = min(self.capacity, self.tokens + (current - self._last) * self.rate)
        self._last = current

    def take(self) -> bool:
        """Spend one request if one is available now."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_time(self) -> float:
        """Seconds until a request is available."""
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate)
