"""The ledger contract, run against every backend (SQLite today).

Each test states one guarantee of :class:`core.state.Ledger` / ``LedgerTxn``; a new backend
(PostgreSQL) is added to ``BACKENDS`` and must pass the same file.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import clock
from core.ids import new_id
from core.state import EventRow, Ledger, RunRow, TaskRow, attempt_row, open_ledger

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract.db'}"
    raise AssertionError(request.param)


@pytest.fixture
def store(backend_url: str) -> Iterator[Ledger]:
    ledger = open_ledger(backend_url)
    yield ledger
    ledger.close()


def make_run(run_id: str | None = None, state: str = "pending") -> RunRow:
    now = clock.now()
    return {
        "run_id": run_id or new_id(),
        "name": "contract",
        "state": state,
        "state_reason": None,
        "bundle_path": "/tmp/b.json",
        "bundle_sha256": "a" * 64,
        "workstreams": [
            {"workstream_id": "ws", "max_parallel": None, "on_task_failure": "continue"}
        ],
        "workdir": "/tmp",
        "repo": None,
        "base_commit": None,
        "integration_branch": None,
        "parallel": 2,
        "budget": {"max_usd": 1.5},
        "router": None,
        "owner_host": None,
        "owner_pid": None,
        "heartbeat_at": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "updated_at": now,
    }


def make_task(run_id: str, task_id: str, seq: int = 0) -> TaskRow:
    now = clock.now()
    return {
        "run_id": run_id,
        "task_id": task_id,
        "workstream_id": "ws",
        "seq": seq,
        "state": "pending",
        "state_reason": None,
        "priority": 0,
        "attempts": 0,
        "max_attempts": 2,
        "request": {"depends_on": [], "argv": ["echo", "ünïcode"]},
        "output": None,
        "not_before": None,
        "spec_hash": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "updated_at": now,
    }


def make_event(run_id: str, kind: str = "run.pending") -> EventRow:
    return {
        "seq": None,
        "event_id": new_id(),
        "kind": kind,
        "run_id": run_id,
        "task_id": None,
        "attempt_id": None,
        "subject_id": None,
        "payload": {"n": 1},
        "ts": clock.now(),
    }


def test_run_and_tasks_round_trip(store: Ledger) -> None:
    run = make_run()
    tasks = [make_task(run["run_id"], f"t{i}", i) for i in range(3)]
    with store.transaction() as txn:
        txn.insert_run(run, '{"bundle": true}')
        txn.insert_tasks(tasks)
    assert store.get_run(run["run_id"]) == run
    assert store.list_tasks(run["run_id"]) == tasks
    assert store.get_bundle_text(run["run_id"]) == '{"bundle": true}'
    assert store.task_counts(run["run_id"]).by_state == {"pending": 3}


def test_conditional_update_only_from_the_expected_state(store: Ledger) -> None:
    run = make_run()
    with store.transaction() as txn:
        txn.insert_run(run, "{}")
        assert txn.update_run(run["run_id"], "pending", state="running") is True
        assert txn.update_run(run["run_id"], "pending", state="canceled") is False
    stored = store.get_run(run["run_id"])
    assert stored is not None
    assert stored["state"] == "running"


def test_update_rejects_unknown_fields(store: Ledger) -> None:
    run = make_run()
    with store.transaction() as txn:
        txn.insert_run(run, "{}")
        with pytest.raises(ValueError, match="no updatable field"):
            txn.update_run(run["run_id"], None, **{"state; DROP TABLE runs": "x"})


def test_failed_transaction_writes_nothing(store: Ledger) -> None:
    run = make_run()
    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.insert_run(run, "{}")
        txn.append_events([make_event(run["run_id"])])
        raise RuntimeError("boom")
    assert store.get_run(run["run_id"]) is None
    assert store.list_events() == []


def test_nested_transaction_rolls_back_alone(store: Ledger) -> None:
    first, second = make_run(), make_run()
    with store.transaction() as txn:
        txn.insert_run(first, "{}")
        with pytest.raises(RuntimeError), store.transaction() as inner:
            inner.insert_run(second, "{}")
            raise RuntimeError("inner fails")
    assert store.get_run(first["run_id"]) is not None
    assert store.get_run(second["run_id"]) is None


def test_events_are_ordered_and_filterable(store: Ledger) -> None:
    a, b = make_run(), make_run()
    with store.transaction() as txn:
        txn.insert_run(a, "{}")
        txn.insert_run(b, "{}")
        txn.append_events(
            [
                make_event(a["run_id"]),
                make_event(b["run_id"]),
                make_event(a["run_id"], "run.running"),
            ]
        )
    everything = store.list_events()
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)
    only_a = store.list_events(a["run_id"])
    assert [e["kind"] for e in only_a] == ["run.pending", "run.running"]
    after = store.list_events(a["run_id"], after_seq=only_a[0]["seq"] or 0)
    assert [e["kind"] for e in after] == ["run.running"]
    assert store.list_events(limit=1) == everything[:1]
    assert only_a[0]["payload"] == {"n": 1}


def test_events_are_append_only(store: Ledger, backend_url: str) -> None:
    run = make_run()
    with store.transaction() as txn:
        txn.insert_run(run, "{}")
        txn.append_events([make_event(run["run_id"])])
    path = backend_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET kind = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
    conn.close()


def test_attempt_numbers_are_unique_per_task(store: Ledger) -> None:
    run = make_run()
    with store.transaction() as txn:
        txn.insert_run(run, "{}")
        txn.insert_tasks([make_task(run["run_id"], "t")])
    attempt = attempt_row(
        attempt_id=new_id(),
        run_id=run["run_id"],
        task_id="t",
        attempt_no=1,
        state="running",
        action="command",
        argv=["true"],
        started_at=clock.now(),
    )
    with store.transaction() as txn:
        txn.insert_attempt(attempt)
    replay = attempt_row(**{**attempt, "attempt_id": new_id()})
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as txn:
        txn.insert_attempt(replay)
    assert [a["attempt_id"] for a in store.list_attempts(run["run_id"])] == [attempt["attempt_id"]]
    assert store.list_attempts(run["run_id"], state="running")[0]["argv"] == ["true"]


def test_run_lookup_by_prefix_and_latest(store: Ledger) -> None:
    ids = ["01JD3Q8X0V5W2Y7Z9A1B2C3D4E", "01JD3Q8X0V5W2Y7Z9A1B2C3D4F", "01JD3Q9AAAAAAAAAAAAAAAAAAA"]
    with store.transaction() as txn:
        for run_id in ids:
            txn.insert_run(make_run(run_id), "{}")
    assert store.find_run_ids("01jd3q8x0v5w2y7z9a1b2c3d4e") == ids[:1]  # case-insensitive
    assert store.find_run_ids("01JD3Q8") == ids[:2]
    assert store.find_run_ids("01JD3Q") == ids
    assert store.find_run_ids("ZZZZ") == []
    assert store.find_run_ids("%") == []  # LIKE wildcards are not patterns here
    assert store.latest_run_id() in ids
    assert len(store.list_runs(limit=2)) == 2


def _hammer(url: str, worker: int, count: int) -> None:
    ledger = open_ledger(url)
    run = make_run()
    with ledger.transaction() as txn:
        txn.insert_run(run, "{}")
    for index in range(count):
        with ledger.transaction() as txn:
            txn.append_events([make_event(run["run_id"], "run.running")])
            txn.update_run(run["run_id"], None, state_reason=f"{worker}:{index}")
    ledger.close()


def test_concurrent_writers_never_see_database_locked(backend_url: str) -> None:
    open_ledger(backend_url).close()
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_hammer, args=(backend_url, n, 150)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    ledger = open_ledger(backend_url)
    assert len(ledger.list_events()) == 4 * 150
    ledger.close()
