"""The state machines (run, task, attempt, patch, gate): every illegal edge refused, nothing
written."""

from __future__ import annotations

import pickle

import pytest

from core import clock
from core.engine.lifecycle import ATTEMPT, GATE, LIFECYCLES, PATCH, RUN, TASK, Lifecycle
from core.engine.recorder import Recorder
from core.errors import ConcurrentUpdate, IllegalTransition
from core.state import Ledger

ILLEGAL = [
    (machine.name, state, trigger)
    for machine in LIFECYCLES.values()
    for state, trigger in machine.illegal()
]


def test_machines_match_the_design() -> None:
    assert RUN.table[("pending", "start")] == "running"
    assert RUN.table[("running", "pause")] == "paused"
    assert RUN.table[("paused", "resume")] == "running"
    assert TASK.table[("running", "retry")] == "retrying"
    assert TASK.table[("retrying", "release")] == "ready"
    assert TASK.final_states == {"succeeded", "failed", "skipped", "canceled"}
    assert RUN.final_states == {"succeeded", "failed", "canceled"}
    assert ATTEMPT.final_states == {"succeeded", "failed", "timed_out", "interrupted", "canceled"}
    # patch: created -> validated -> applied -> verified -> committed, and the side roads
    path = ["created"]
    for trigger in ("validate", "apply", "verify", "commit", "roll_back"):
        path.append(PATCH.next(path[-1], trigger))
    assert path == ["created", "validated", "applied", "verified", "committed", "rolled_back"]
    assert PATCH.next("created", "reject") == "rejected"
    assert PATCH.next("applied", "reject") == "rejected"  # a blocking gate failed
    assert PATCH.next("verified", "fail_apply") == "apply_failed"
    assert PATCH.next("apply_failed", "quarantine") == "quarantined"
    assert PATCH.next("quarantined", "requeue") == "requeued"
    assert PATCH.next("requeued", "apply") == "applied"
    assert PATCH.next("quarantined", "drop") == "dropped"
    assert PATCH.final_states == {"rejected", "rolled_back", "dropped"}
    assert GATE.final_states == {"passed", "failed", "error", "skipped"}


def test_every_machine_has_illegal_edges_to_check() -> None:
    by_machine = {name for name, _, _ in ILLEGAL}
    assert by_machine == {"run", "task", "attempt", "patch", "gate", "worker", "circuit"}
    # every final state refuses every trigger but a reopening by hand
    for machine in LIFECYCLES.values():
        for state in machine.final_states:
            allowed = {t for t in machine.triggers if machine.can(state, t)}
            assert allowed <= {"reopen"}


@pytest.mark.parametrize(("machine_name", "state", "trigger"), ILLEGAL)
def test_illegal_transition_is_refused(machine_name: str, state: str, trigger: str) -> None:
    machine = LIFECYCLES[machine_name]
    with pytest.raises(IllegalTransition) as caught:
        machine.next(state, trigger, "rec-1")
    error = caught.value
    assert (error.machine, error.state, error.trigger, error.record_id) == (
        machine_name,
        state,
        trigger,
        "rec-1",
    )
    assert pickle.loads(pickle.dumps(error)).message == error.message


def test_declaring_a_machine_builds_one_lookup_table() -> None:
    door = Lifecycle.declare(
        "door", ["open", "shut"], "shut", [("open", "shut", "open"), ("close", "open", "shut")]
    )
    assert door.next("shut", "open") == "open"
    assert list(door.illegal()) == [("open", "open"), ("shut", "close")]


def _seed(ledger: Ledger) -> None:
    now = clock.now()
    with ledger.transaction() as txn:
        txn.insert_run(
            {
                "run_id": "01JD3Q8X0V5W2Y7Z9A1B2C3D4E",
                "name": "t",
                "state": "running",
                "state_reason": None,
                "bundle_path": None,
                "bundle_sha256": "0" * 64,
                "workstreams": [{"workstream_id": "ws"}],
                "workdir": "/",
                "repo": None,
                "base_commit": None,
                "integration_branch": None,
                "parallel": 1,
                "budget": None,
                "router": None,
                "owner_host": None,
                "owner_pid": None,
                "heartbeat_at": None,
                "created_at": now,
                "started_at": now,
                "finished_at": None,
                "updated_at": now,
            },
            "{}",
        )
        txn.insert_tasks(
            [
                {
                    "run_id": "01JD3Q8X0V5W2Y7Z9A1B2C3D4E",
                    "task_id": "a",
                    "workstream_id": "ws",
                    "seq": 0,
                    "state": "succeeded",
                    "state_reason": None,
                    "priority": 0,
                    "attempts": 1,
                    "max_attempts": 1,
                    "request": {},
                    "output": None,
                    "not_before": None,
                    "spec_hash": None,
                    "created_at": now,
                    "started_at": now,
                    "finished_at": now,
                    "updated_at": now,
                }
            ]
        )


def _snapshot(ledger: Ledger) -> tuple[object, ...]:
    run = ledger.get_run("01JD3Q8X0V5W2Y7Z9A1B2C3D4E")
    tasks = ledger.list_tasks("01JD3Q8X0V5W2Y7Z9A1B2C3D4E")
    return (run, tasks, len(ledger.list_events()))


def test_illegal_transition_through_the_recorder_writes_nothing(ledger: Ledger) -> None:
    _seed(ledger)
    before = _snapshot(ledger)
    recorder = Recorder(ledger)
    with pytest.raises(IllegalTransition), recorder.transaction() as ch:
        # a legal change first, in the same transaction: it must be rolled back too
        ch.run("01JD3Q8X0V5W2Y7Z9A1B2C3D4E", "running", "pause", reason="test")
        ch.task("01JD3Q8X0V5W2Y7Z9A1B2C3D4E", "a", "succeeded", "start")
    assert _snapshot(ledger) == before


def test_stale_state_is_refused_and_rolled_back(ledger: Ledger) -> None:
    _seed(ledger)
    before = _snapshot(ledger)
    with pytest.raises(ConcurrentUpdate), Recorder(ledger).transaction() as ch:
        ch.run("01JD3Q8X0V5W2Y7Z9A1B2C3D4E", "running", "pause")
        ch.task(
            "01JD3Q8X0V5W2Y7Z9A1B2C3D4E", "a", "running", "succeed"
        )  # it is succeeded, not running
    assert _snapshot(ledger) == before


def test_transition_and_event_commit_together(ledger: Ledger) -> None:
    _seed(ledger)
    seen: list[str] = []
    recorder = Recorder(ledger)
    recorder.bus.subscribe(lambda event: seen.append(event["kind"]))
    with recorder.transaction() as ch:
        ch.run("01JD3Q8X0V5W2Y7Z9A1B2C3D4E", "running", "pause", reason="budget")
    run = ledger.get_run("01JD3Q8X0V5W2Y7Z9A1B2C3D4E")
    assert run is not None
    assert run["state"] == "paused"
    assert run["state_reason"] == "budget"
    events = ledger.list_events("01JD3Q8X0V5W2Y7Z9A1B2C3D4E")
    assert [(e["kind"], e["payload"]) for e in events] == [
        ("run.paused", {"from": "running", "reason": "budget"})
    ]
    assert seen == ["run.paused"]
