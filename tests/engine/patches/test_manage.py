"""After a run: rolling a patch back, dropping and requeueing patches, and landing a run's
integration branch into the user's branch. Real repositories in tmp_path, real tools (small
Python programs), a real SQLite ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from gitrepos import branch_log, checksum, commit_all, git, make_repo

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.patches.manage import (
    drop_patch,
    find_patch,
    land_run,
    requeue_patch,
    rollback_patch,
)
from core.engine.runs import run_bundle
from core.errors import IntegrationBranchMissing, LandRefused, PatchNotActionable, PatchNotFound
from core.state import Ledger, PatchRow

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable


def write(path: str, content: str) -> list[str]:
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    return [PY, "-c", code, path, content]


def run(ledger: Ledger, repo: Path, tasks: list[dict[str, Any]], **workstream: Any) -> RunResult:
    document = {"schema_version": "workstream_spec.v1", "workstream_id": "ws", "tasks": tasks}
    document.update(workstream)
    bundle = check_bundle(json.loads(json.dumps(document)))
    return run_bundle(ledger, bundle, RunOptions(parallel=2, repo=repo, handle_signals=False))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n"})


def conflicting_run(ledger: Ledger, repo: Path) -> RunResult:
    """Two tasks changing the same line from the same base: one lands, the other's patch no
    longer applies and, with no attempts left, is quarantined."""
    result = run(
        ledger,
        repo,
        [
            {"task_id": "a", "writes": True, "run": write("a.txt", "from a\n")},
            {"task_id": "b", "writes": True, "run": write("a.txt", "from b\n")},
        ],
    )
    states = sorted(p["state"] for p in ledger.list_patches(result.run_id))
    reasons = {t["task_id"]: t["state_reason"] for t in ledger.list_tasks(result.run_id)}
    assert states == ["committed", "quarantined"], reasons
    return result


def patch_of(ledger: Ledger, run_id: str, task_id: str) -> PatchRow:
    return [p for p in ledger.list_patches(run_id) if p["task_id"] == task_id][-1]


def test_rollback_reverts_the_patch_with_a_new_commit(ledger: Ledger, repo: Path) -> None:
    result = run(
        ledger,
        repo,
        [
            {"task_id": "one", "writes": True, "run": write("a.txt", "A\n")},
            {"task_id": "two", "writes": True, "run": write("b.txt", "B\n"), "depends_on": ["one"]},
        ],
    )
    branch = f"uet/{result.run_id}"
    one = patch_of(ledger, result.run_id, "one")
    before = checksum(repo)
    rolled = rollback_patch(ledger, one["patch_id"][:20])
    assert rolled["state"] == "rolled_back"
    stored = ledger.get_patch(one["patch_id"])
    assert stored is not None
    assert stored["revert_commit"] == git(repo, "rev-parse", branch)
    assert branch_log(repo, branch)[0] == f"uet: revert one (patch {one['patch_id']})"
    assert git(repo, "show", f"{branch}:a.txt") == "a"
    assert git(repo, "show", f"{branch}:b.txt") == "B", "later patches stay"
    assert checksum(repo) == before
    with pytest.raises(PatchNotActionable, match="it is rolled_back"):
        rollback_patch(ledger, one["patch_id"])
    kinds = [e["kind"] for e in ledger.list_events(result.run_id)]
    assert kinds[-1] == "patch.rolled_back"


def test_rollback_is_refused_when_later_commits_changed_the_same_lines(
    ledger: Ledger, repo: Path
) -> None:
    result = run(
        ledger,
        repo,
        [
            {"task_id": "one", "writes": True, "run": write("a.txt", "A\n")},
            {
                "task_id": "two",
                "writes": True,
                "run": write("a.txt", "AA\n"),
                "depends_on": ["one"],
            },
        ],
    )
    one = patch_of(ledger, result.run_id, "one")
    head = git(repo, "rev-parse", f"uet/{result.run_id}")
    with pytest.raises(PatchNotActionable, match="roll those back first"):
        rollback_patch(ledger, one["patch_id"])
    assert git(repo, "rev-parse", f"uet/{result.run_id}") == head
    assert (ledger.get_patch(one["patch_id"]) or {}).get("state") == "committed"


def test_a_quarantined_patch_can_be_requeued_once_it_applies(ledger: Ledger, repo: Path) -> None:
    result = conflicting_run(ledger, repo)
    loser = next(p for p in ledger.list_patches(result.run_id) if p["state"] == "quarantined")
    branch = f"uet/{result.run_id}"
    # It conflicts with what landed: requeueing it now fails to apply again.
    again = requeue_patch(ledger, loser["patch_id"])
    assert again["state"] == "apply_failed"
    # Roll the winner back; now the loser applies, passes (no gates) and lands.
    winner = next(p for p in ledger.list_patches(result.run_id) if p["state"] == "committed")
    rollback_patch(ledger, winner["patch_id"])
    landed = requeue_patch(ledger, loser["patch_id"])
    assert landed["state"] == "committed"
    assert git(repo, "show", f"{branch}:a.txt") == f"from {loser['task_id']}"
    states = [step["state"] for step in landed["history"]]
    assert states[-6:] == [
        "requeued",
        "apply_failed",
        "requeued",
        "applied",
        "verified",
        "committed",
    ]


def test_a_requeued_patch_must_pass_its_gates_again(
    ledger: Ledger, repo: Path, tmp_path: Path
) -> None:
    flag = tmp_path / "gate-fails"
    gate_code = f"import pathlib, sys; sys.exit(pathlib.Path({str(flag)!r}).exists())"
    # "late" writes only once "first" has landed, so it is the one that conflicts.
    wait_then_write = (
        "import os, pathlib, subprocess, time\n"
        "ref = 'refs/heads/uet/' + os.environ['UET_RUN_ID']\n"
        "def head(): return subprocess.run(['git', 'rev-parse', ref], capture_output=True,"
        " text=True).stdout\n"
        "start = head()\n"
        "for _ in range(500):\n"
        "    if head() != start: break\n"
        "    time.sleep(0.02)\n"
        "pathlib.Path('a.txt').write_text('late\\n')\n"
    )
    result = run(
        ledger,
        repo,
        [
            {"task_id": "first", "writes": True, "run": write("a.txt", "first\n")},
            {
                "task_id": "late",
                "writes": True,
                "run": [PY, "-c", wait_then_write],
                "gates": ["check"],
            },
        ],
        gates={"check": {"run": [PY, "-c", gate_code]}},
    )
    late = patch_of(ledger, result.run_id, "late")
    assert late["state"] == "quarantined"
    rollback_patch(ledger, patch_of(ledger, result.run_id, "first")["patch_id"])
    flag.write_text("now the gate fails")
    again = requeue_patch(ledger, late["patch_id"])
    assert again["state"] == "rejected"
    assert again["state_reason"] == "gate 'check' failed"
    gates = ledger.list_gate_results(patch_id=late["patch_id"])
    # Its attempt left the gate to the merge queue (the head had moved), where it did not
    # apply: the requeue's run is its only one.
    assert [g["state"] for g in gates] == ["failed"]
    assert "left to the merge queue" in (late["history"][3]["reason"] or "")
    assert git(repo, "show", f"uet/{result.run_id}:a.txt") == "a", "nothing landed"


def test_drop_gives_up_on_a_patch_that_did_not_land(ledger: Ledger, repo: Path) -> None:
    result = conflicting_run(ledger, repo)
    loser = next(p for p in ledger.list_patches(result.run_id) if p["state"] == "quarantined")
    winner = next(p for p in ledger.list_patches(result.run_id) if p["state"] == "committed")
    dropped = drop_patch(ledger, loser["patch_id"], "superseded")
    assert (dropped["state"], dropped["state_reason"]) == ("dropped", "superseded")
    with pytest.raises(PatchNotActionable, match=r"only .* patches can be"):
        drop_patch(ledger, winner["patch_id"])
    with pytest.raises(PatchNotFound):
        find_patch(ledger, "0000")


def test_a_deleted_integration_branch_with_landed_patches_is_not_silently_remade(
    ledger: Ledger, repo: Path
) -> None:
    result = conflicting_run(ledger, repo)
    loser = next(p for p in ledger.list_patches(result.run_id) if p["state"] == "quarantined")
    git(repo, "branch", "-D", f"uet/{result.run_id}")
    with pytest.raises(IntegrationBranchMissing, match="restore it"):
        requeue_patch(ledger, loser["patch_id"])
    assert git(repo, "branch", "--list", f"uet/{result.run_id}") == ""


def test_land_fast_forwards_a_branch_that_did_not_move(ledger: Ledger, repo: Path) -> None:
    result = run(ledger, repo, [{"task_id": "t", "writes": True, "run": write("a.txt", "A\n")}])
    landed = land_run(ledger, result.run_id)
    assert landed.mode == "fast-forward"
    assert landed.into == "main"
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", f"uet/{result.run_id}")
    assert (repo / "a.txt").read_text() == "A\n"
    assert land_run(ledger, result.run_id).mode == "up-to-date"
    kinds = [e["kind"] for e in ledger.list_events(result.run_id)]
    assert kinds.count("integration.landed") == 1


def test_land_merges_when_the_users_branch_moved(ledger: Ledger, repo: Path) -> None:
    result = run(ledger, repo, [{"task_id": "t", "writes": True, "run": write("a.txt", "A\n")}])
    (repo / "c.txt").write_text("user's change\n")
    commit_all(repo, "user work")
    with pytest.raises(LandRefused, match="a merge is needed"):
        land_run(ledger, result.run_id, ff_only=True)
    landed = land_run(ledger, result.run_id)
    assert landed.mode == "merge"
    assert (
        git(repo, "log", "-1", "--format=%s")
        == f"Land UET run {result.run_id} (uet/{result.run_id})"
    )
    assert (repo / "a.txt").read_text() == "A\n"
    assert (repo / "c.txt").read_text() == "user's change\n"


def test_land_refuses_a_dirty_tree_a_detached_head_and_conflicts(
    ledger: Ledger, repo: Path
) -> None:
    result = run(ledger, repo, [{"task_id": "t", "writes": True, "run": write("a.txt", "A\n")}])
    (repo / "b.txt").write_text("uncommitted\n")
    with pytest.raises(LandRefused, match=r"uncommitted changes \(b.txt\)"):
        land_run(ledger, result.run_id)
    git(repo, "checkout", "-q", "b.txt")
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(LandRefused, match="HEAD is detached"):
        land_run(ledger, result.run_id)
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("mine\n")
    commit_all(repo, "conflicting")
    before = checksum(repo)
    with pytest.raises(LandRefused, match=r"conflicts \(a.txt\); nothing was changed"):
        land_run(ledger, result.run_id)
    assert checksum(repo) == before


def test_land_refuses_a_run_that_changed_no_repository(ledger: Ledger, repo: Path) -> None:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "t", "run": [PY, "-c", "pass"]}],
    }
    result = run_bundle(ledger, check_bundle(document), RunOptions(handle_signals=False))
    with pytest.raises(LandRefused, match="changed no repository"):
        land_run(ledger, result.run_id)
