"""`uet run --repo`, `uet patches`, `uet patch ...` and `uet land` through the real CLI, on
real repositories in tmp_path, with JSON output checked against the schemas."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from gitrepos import checksum, git, make_repo

from core.contracts import issues

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable
Invoke = Callable[..., Result]


def write(path: str, content: str) -> list[str]:
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    return [PY, "-c", code, path, content]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"a.txt": "a\n", "b.txt": "b\n"})


@pytest.fixture
def conflicting(write_bundle: Callable[..., Path]) -> Path:
    """Two writing tasks changing the same line: one lands, one is quarantined."""
    return write_bundle(
        [
            {"task_id": "one", "writes": True, "run": write("a.txt", "one\n"), "gates": ["ok"]},
            {"task_id": "two", "writes": True, "run": write("a.txt", "two\n"), "gates": ["ok"]},
        ],
        gates={"ok": {"run": [PY, "-c", "pass"], "type": "custom"}},
    )


def run_json(invoke: Invoke, bundle: Path, repo: Path) -> dict[str, Any]:
    result = invoke("run", str(bundle), "--repo", str(repo), "--json")
    return dict(json.loads(result.output))


def test_run_reports_the_integration_branch_and_its_patches(
    invoke: Invoke, write_bundle: Callable[..., Path], repo: Path
) -> None:
    bundle = write_bundle([{"task_id": "t", "writes": True, "run": write("a.txt", "A\n")}])
    before = checksum(repo)
    result = invoke("run", str(bundle), "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "1 patch(es) landed on uet/" in result.output
    assert "uet land" in result.output
    report = run_json(invoke, bundle, repo)
    assert report["integration_branch"] == f"uet/{report['run_id']}"
    assert report["patches"] == {"committed": 1}
    assert checksum(repo) == before


def test_run_says_uncommitted_changes_are_not_part_of_it(
    invoke: Invoke, write_bundle: Callable[..., Path], repo: Path
) -> None:
    (repo / "a.txt").write_text("work in progress\n")
    bundle = write_bundle([{"task_id": "t", "writes": True, "run": write("b.txt", "B\n")}])
    result = invoke("run", str(bundle), "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "note: 1 uncommitted change(s)" in result.output
    assert "worktrees start from HEAD" in result.output
    assert (repo / "a.txt").read_text() == "work in progress\n"


def test_run_of_writing_tasks_outside_a_repository_is_invalid_and_writes_nothing(
    invoke: Invoke, write_bundle: Callable[..., Path], tmp_path: Path, ledger_url: str
) -> None:
    bundle = write_bundle([{"task_id": "t", "writes": True, "run": write("a.txt", "A\n")}])
    plain = tmp_path / "plain"
    plain.mkdir()
    result = invoke("run", str(bundle), "--repo", str(plain))
    assert result.exit_code == 2
    assert "is not a git repository" in result.output
    assert not Path(ledger_url.removeprefix("sqlite:///")).exists(), "no ledger was created"


def test_an_invalid_project_profile_is_refused_with_its_json_path(
    invoke: Invoke, write_bundle: Callable[..., Path], repo: Path, ledger_url: str
) -> None:
    (repo / ".uet").mkdir()
    (repo / ".uet" / "project_profile.json").write_text(
        json.dumps({"schema_version": "project_profile.v1", "constraints": {"max_files": -1}})
    )
    bundle = write_bundle([{"task_id": "t", "writes": True, "run": write("a.txt", "A\n")}])
    result = invoke("run", str(bundle), "--repo", str(repo))
    assert result.exit_code == 2
    assert "project_profile.json" in result.output
    assert "$.constraints.max_files" in result.output
    assert not Path(ledger_url.removeprefix("sqlite:///")).exists(), "no ledger was created"


def test_patches_lists_and_prints_schema_valid_documents(
    invoke: Invoke, conflicting: Path, repo: Path
) -> None:
    report = run_json(invoke, conflicting, repo)
    assert report["state"] == "failed"
    table = invoke("patches").output
    assert "committed" in table
    assert "quarantined" in table
    assert "does not apply" in table or "no attempts left" in table
    documents = json.loads(invoke("patches", report["run_id"][:14], "--json").output)
    assert len(documents) == 2
    for document in documents:
        assert issues(document["artifact"], "patch_artifact.v1") == []
        assert issues(document["entry"], "patch_ledger_entry.v1") == []
        for gate in document["gate_results"]:
            assert issues(gate, "gate_result.v1") == []
    only = json.loads(invoke("patches", "--state", "quarantined", "--json").output)
    assert [d["entry"]["state"] for d in only] == ["quarantined"]


def test_patch_show_has_history_gates_and_the_diff(
    invoke: Invoke, conflicting: Path, repo: Path
) -> None:
    run_json(invoke, conflicting, repo)
    committed = json.loads(invoke("patches", "--state", "committed", "--json").output)[0]
    patch_id = committed["entry"]["patch_id"]
    shown = invoke("patch", "show", patch_id[:20]).output
    assert f"patch {patch_id}" in shown
    assert "history:" in shown
    assert "committed" in shown
    assert "ok           passed" in shown
    assert "+++ b/a.txt" in shown
    assert "\n-a" in shown
    stat = invoke("patch", "show", patch_id, "--stat").output
    assert "+++ b/a.txt" not in stat
    colored = invoke("patch", "show", patch_id, "--color").output
    assert "\x1b[32m+" in colored
    assert (
        json.loads(invoke("patch", "show", patch_id, "--json").output)["entry"]
        == committed["entry"]
    )


def test_patch_commands_change_state_or_explain_why_not(
    invoke: Invoke, conflicting: Path, repo: Path
) -> None:
    run_id = run_json(invoke, conflicting, repo)["run_id"]
    documents = json.loads(invoke("patches", "--json").output)
    by_state = {d["entry"]["state"]: d["entry"]["patch_id"] for d in documents}
    refused = invoke("patch", "drop", by_state["committed"])
    assert refused.exit_code == 1
    assert "cannot drop patch" in refused.output
    assert "it is committed" in refused.output
    requeued = invoke("patch", "requeue", by_state["quarantined"])
    assert requeued.exit_code == 1
    assert "apply_failed" in requeued.output
    rolled = invoke("patch", "rollback", by_state["committed"], "--json")
    assert rolled.exit_code == 0
    assert json.loads(rolled.output)["entry"]["state"] == "rolled_back"
    landed = invoke("patch", "requeue", by_state["quarantined"])
    assert landed.exit_code == 0, landed.output
    assert "committed" in landed.output
    assert git(repo, "show", f"uet/{run_id}:a.txt") in ("one", "two")
    missing = invoke("patch", "show", "ZZZZ")
    assert missing.exit_code == 1
    assert "no patch 'ZZZZ'" in missing.output


def test_land_takes_the_run_into_the_checked_out_branch(
    invoke: Invoke, write_bundle: Callable[..., Path], repo: Path
) -> None:
    bundle = write_bundle([{"task_id": "t", "writes": True, "run": write("b.txt", "B\n")}])
    run_id = run_json(invoke, bundle, repo)["run_id"]
    (repo / "a.txt").write_text("dirty\n")
    refused = invoke("land", run_id)
    assert refused.exit_code == 1
    assert "uncommitted changes (a.txt)" in refused.output
    git(repo, "checkout", "-q", "a.txt")
    landed = json.loads(invoke("land", run_id, "--json").output)
    assert (landed["mode"], landed["into"], landed["patches"]) == ("fast-forward", "main", 1)
    assert (repo / "b.txt").read_text() == "B\n"
    assert "already has everything" in invoke("land", run_id).output


# Fails when both one.txt and two.txt exist: a run adding two.txt passes alone, and so does a
# commit of the user's adding one.txt, but not their merge.
NOT_BOTH = (
    "import pathlib, sys; "
    "sys.exit(1 if pathlib.Path('one.txt').exists() and pathlib.Path('two.txt').exists() else 0)"
)


def test_land_gates_the_merge_when_your_branch_moved_and_refuses_a_failing_one(
    invoke: Invoke, write_bundle: Callable[..., Path], repo: Path, ledger_url: str
) -> None:
    bundle = write_bundle(
        [{"task_id": "t", "writes": True, "run": write("two.txt", "2\n"), "gates": ["both"]}],
        gates={"both": {"run": [PY, "-c", NOT_BOTH], "type": "unit"}},
    )
    run_id = run_json(invoke, bundle, repo)["run_id"]
    (repo / "one.txt").write_text("1\n")
    git(repo, "add", "one.txt")
    git(repo, "commit", "-q", "-m", "mine")
    mine = git(repo, "rev-parse", "HEAD")
    before = checksum(repo)
    refused = invoke("land", run_id)
    assert refused.exit_code == 1, refused.output
    assert "fails its gates (gate 'both' failed" in refused.output
    assert "your branch was not moved" in refused.output
    assert git(repo, "rev-parse", "HEAD") == mine
    assert checksum(repo) == before
    results = json.loads(invoke("gate", "results", run_id, "--json").output)
    landing = [r for r in results if r.get("scope") == "land"]
    assert [(r["gate"], r["state"]) for r in landing] == [("both", "failed")]
    # --no-gate lands it anyway, and says so in the ledger.
    forced = invoke("land", run_id, "--no-gate", "--json")
    assert forced.exit_code == 0, forced.output
    assert "without its gates" in forced.stderr
    assert json.loads(forced.stdout)["mode"] == "merge"
    lines = invoke("events", run_id, "--json").output.splitlines()
    events = [json.loads(line) for line in lines]
    landed = [e for e in events if e["kind"] == "integration.landed"]
    assert landed[-1]["payload"]["gated"] is False


def test_land_merges_when_the_gates_pass_on_the_merge(
    invoke: Invoke, write_bundle: Callable[..., Path], repo: Path
) -> None:
    bundle = write_bundle(
        [{"task_id": "t", "writes": True, "run": write("two.txt", "2\n"), "gates": ["both"]}],
        gates={"both": {"run": [PY, "-c", NOT_BOTH], "type": "unit"}},
    )
    run_id = run_json(invoke, bundle, repo)["run_id"]
    (repo / "a.txt").write_text("mine\n")
    git(repo, "commit", "-q", "-am", "mine")
    landed = invoke("land", run_id, "--json")
    assert landed.exit_code == 0, landed.output
    document = json.loads(landed.output)
    assert document["mode"] == "merge"
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    results = json.loads(invoke("gate", "results", run_id, "--json").output)
    assert [(r["state"], r["tree_sha"]) for r in results if r.get("scope") == "land"] == [
        ("passed", tree)
    ]
    assert (repo / "two.txt").read_text() == "2\n"
