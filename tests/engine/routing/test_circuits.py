"""Circuit breakers kept in a real SQLite ledger, and per-tool token-bucket rate limits driven by
an injected clock (never by sleeping).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import clock
from core.engine.recorder import Recorder
from core.engine.routing.resilience import Circuits, TokenBucket
from core.ids import new_id
from core.state import CircuitRow, Ledger, open_ledger

RUN = new_id()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Ledger]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    yield ledger
    ledger.close()


def settings(**overrides: Any) -> dict[str, Any]:
    return {"failure_threshold": 3, "recovery_seconds": 60.0, "half_open_probes": 1, **overrides}


def record(store: Ledger, circuits: Circuits, tool: str, ok: bool, why: str = "exit 1") -> None:
    with Recorder(store).transaction() as ch:
        circuits.record(ch, tool, ok, RUN, None if ok else why)


def admit(store: Ledger, circuits: Circuits, tool: str) -> None:
    with Recorder(store).transaction() as ch:
        circuits.admit(ch, tool, RUN)


def circuit(store: Ledger, tool: str) -> CircuitRow | None:
    rows = {row["tool"]: row for row in store.list_circuits()}
    return rows.get(tool)


def circuit_events(store: Ledger) -> list[tuple[str, str, str]]:
    """(kind, tool, from) of every circuit event, in order."""
    return [
        (e["kind"], e["payload"]["tool"], e["payload"]["from"])
        for e in store.list_events()
        if e["kind"].startswith("circuit.")
    ]


def opened_long_ago(store: Ledger, tool: str, seconds: float = 3600.0) -> None:
    """Move the circuit's opening into the past, as if its recovery time had gone by."""
    row = circuit(store, tool)
    assert row is not None
    row["opened_at"] = clock.after(-seconds)
    with store.transaction() as txn:
        txn.put_circuit(row)


# --- circuits -----------------------------------------------------------------------------------


def test_a_tool_with_no_failures_has_no_circuit_row(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings()})
    record(store, circuits, "a", True)
    admit(store, circuits, "a")
    assert store.list_circuits() == []
    assert circuits.unavailable() == {}
    assert circuits.next_probe_in() is None


def test_the_full_cycle_closed_open_half_open_closed(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(), "b": settings()})
    record(store, circuits, "a", False, "exit 1")
    record(store, circuits, "a", False, "exit 2")
    row = circuit(store, "a")
    assert row is not None
    assert (row["state"], row["failures"]) == ("closed", 2)
    assert circuits.unavailable() == {}

    record(store, circuits, "a", False, "timed out")
    row = circuit(store, "a")
    assert row is not None
    assert row["state"] == "open"
    assert row["opened_at"] is not None
    opened = [e for e in store.list_events() if e["kind"] == "circuit.open"]
    assert len(opened) == 1
    assert opened[0]["subject_id"] == "a"
    assert opened[0]["run_id"] == RUN
    assert opened[0]["payload"]["reason"] == "3 consecutive failures; last: timed out"

    blocked = circuits.unavailable()
    assert list(blocked) == ["a"]
    assert blocked["a"].startswith("circuit open, probe in ")
    wait = circuits.next_probe_in()
    assert wait is not None
    assert 0 < wait <= 60

    opened_long_ago(store, "a")
    assert circuits.unavailable() == {}
    assert circuits.next_probe_in() == 0.0

    admit(store, circuits, "a")
    row = circuit(store, "a")
    assert row is not None
    assert (row["state"], row["probes"]) == ("half_open", 1)
    assert circuits.unavailable() == {"a": "circuit half open, probe running"}
    assert circuits.next_probe_in() is None

    record(store, circuits, "a", True)
    row = circuit(store, "a")
    assert row is not None
    assert (row["state"], row["failures"]) == ("closed", 0)
    assert circuits.unavailable() == {}
    assert circuit_events(store) == [
        ("circuit.open", "a", "closed"),
        ("circuit.half_open", "a", "open"),
        ("circuit.closed", "a", "half_open"),
    ]


def test_a_failed_probe_opens_the_circuit_again(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1)})
    record(store, circuits, "a", False)
    opened_long_ago(store, "a")
    admit(store, circuits, "a")
    record(store, circuits, "a", False, "crashed")
    row = circuit(store, "a")
    assert row is not None
    assert row["state"] == "open"
    assert "a" in circuits.unavailable()  # a fresh recovery time started
    assert circuit_events(store) == [
        ("circuit.open", "a", "closed"),
        ("circuit.half_open", "a", "open"),
        ("circuit.open", "a", "half_open"),
    ]
    last = store.list_events()[-1]
    assert last["payload"]["reason"] == "probe failed: crashed"


def test_recovery_seconds_zero_makes_an_open_circuit_due_at_once(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1, recovery_seconds=0)})
    record(store, circuits, "a", False)
    row = circuit(store, "a")
    assert row is not None
    assert row["state"] == "open"
    assert circuits.unavailable() == {}
    assert circuits.next_probe_in() == 0.0


def test_half_open_lets_through_as_many_probes_as_configured(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1, half_open_probes=2)})
    record(store, circuits, "a", False)
    opened_long_ago(store, "a")
    admit(store, circuits, "a")
    assert circuits.unavailable() == {}  # one of two probes out
    admit(store, circuits, "a")
    assert circuits.unavailable() == {"a": "circuit half open, probe running"}
    record(store, circuits, "a", True)
    row = circuit(store, "a")
    assert row is not None
    assert (row["state"], row["successes"]) == ("half_open", 1)
    record(store, circuits, "a", True)
    row = circuit(store, "a")
    assert row is not None
    assert row["state"] == "closed"


def test_a_second_admit_with_one_probe_makes_the_tool_unavailable(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1)})
    record(store, circuits, "a", False)
    opened_long_ago(store, "a")
    admit(store, circuits, "a")
    admit(store, circuits, "a")
    row = circuit(store, "a")
    assert row is not None
    assert (row["state"], row["probes"]) == ("half_open", 2)
    assert circuits.unavailable() == {"a": "circuit half open, probe running"}


def test_a_success_while_closed_resets_the_failure_count(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings()})
    for ok in (False, False, True, False, False):
        record(store, circuits, "a", ok)
    row = circuit(store, "a")
    assert row is not None
    assert (row["state"], row["failures"]) == ("closed", 2)
    assert circuit_events(store) == []
    record(store, circuits, "a", False)
    row = circuit(store, "a")
    assert row is not None
    assert row["state"] == "open"


def test_circuits_are_per_tool(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=2), "b": settings()})
    record(store, circuits, "a", False)
    record(store, circuits, "b", False)
    record(store, circuits, "a", False)
    assert list(circuits.unavailable()) == ["a"]
    row = circuit(store, "b")
    assert row is not None
    assert (row["state"], row["failures"]) == ("closed", 1)


def test_an_attempt_ending_while_open_changes_nothing(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1)})
    record(store, circuits, "a", False)
    before = circuit(store, "a")
    record(store, circuits, "a", True)  # it started before the circuit opened
    record(store, circuits, "a", False)
    assert circuit(store, "a") == before
    assert len(circuit_events(store)) == 1


def test_circuits_live_in_the_ledger_for_every_reader(store: Ledger, tmp_path: Path) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1)})
    record(store, circuits, "a", False)
    other = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        assert list(Circuits(other, {"a": settings()}).unavailable()) == ["a"]
    finally:
        other.close()


def test_tools_missing_from_the_settings_are_ignored(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1)})
    record(store, circuits, "a", False)
    assert Circuits(store, {"b": settings()}).unavailable() == {}
    assert Circuits(store, {"b": settings()}).next_probe_in() is None


def test_a_probe_lost_a_day_ago_does_not_block_the_tool_forever(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1)})
    record(store, circuits, "a", False)
    opened_long_ago(store, "a")
    admit(store, circuits, "a")  # the probe starts; its run is then killed
    row = circuit(store, "a")
    assert row is not None
    assert row["state"] == "half_open"
    row["opened_at"] = row["updated_at"] = clock.after(-86_400)
    with store.transaction() as txn:
        txn.put_circuit(row)
    assert "a" not in circuits.unavailable()


def test_a_rolled_back_transaction_records_no_circuit_change(store: Ledger) -> None:
    circuits = Circuits(store, {"a": settings(failure_threshold=1)})
    with pytest.raises(RuntimeError), Recorder(store).transaction() as ch:
        circuits.record(ch, "a", False, RUN, "boom")
        raise RuntimeError("the attempt's own bookkeeping failed")
    assert store.list_circuits() == []
    assert circuit_events(store) == []


# --- token buckets ------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.times = [1000.0]

    def __call__(self) -> float:
        return self.times[-1]

    def advance(self, seconds: float) -> None:
        self.times.append(self.times[-1] + seconds)


@pytest.mark.parametrize(("per_minute", "capacity"), [(30, 1.0), (60, 1.0), (600, 10.0)])
def test_the_bucket_holds_one_seconds_worth_and_at_least_one(
    per_minute: float, capacity: float
) -> None:
    bucket = TokenBucket(per_minute, now=FakeClock())
    assert bucket.capacity == capacity
    assert bucket.tokens == capacity


def test_a_bucket_spends_its_burst_then_refills_at_the_rate() -> None:
    now = FakeClock()
    bucket = TokenBucket(480, now=now)  # 8 a second, burst of 8
    assert [bucket.take() for _ in range(9)] == [True] * 8 + [False]
    assert bucket.wait_time() == 0.125
    now.advance(0.0625)
    assert not bucket.take()
    assert bucket.wait_time() == 0.0625
    now.advance(0.0625)
    assert bucket.wait_time() == 0.0
    assert bucket.take()
    assert not bucket.take()


def test_a_slow_bucket_waits_the_full_interval() -> None:
    now = FakeClock()
    bucket = TokenBucket(30, now=now)  # one request every two seconds
    assert bucket.wait_time() == 0.0
    assert bucket.take()
    assert not bucket.take()
    assert bucket.wait_time() == pytest.approx(2.0)
    now.advance(1.5)
    assert bucket.wait_time() == pytest.approx(0.5)
    now.advance(0.5)
    assert bucket.take()


def test_an_idle_bucket_never_holds_more_than_its_capacity() -> None:
    now = FakeClock()
    bucket = TokenBucket(120, now=now)  # 2 a second
    now.advance(3600)
    assert bucket.wait_time() == 0.0
    assert bucket.tokens == 2.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]
