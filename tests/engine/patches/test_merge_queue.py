"""The merge queue end to end: patches that pass alone and fail together, on real repositories
(tmp_path), real tool and gate processes, a real SQLite ledger.

The rule under test: a commit lands on uet/<run> only once its blocking gates passed on
exactly its tree; `uet verify` reads that back from the ledger.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gitrepos import checksum, git, make_repo

from core.cli import cli
from core.engine.bundle import check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.queue.verify import verify_run
from core.engine.runs import run_bundle
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable
NAMES = ("one", "two", "three", "four", "five")


def write_after(name: str, seconds: float) -> list[str]:
    """A tool that writes ``<name>.txt`` after ``seconds`` (so that the first patch is
    verified first, and the others arrive while it lands)."""
    code = (
        "import pathlib, sys, time; time.sleep(float(sys.argv[2])); "
        "pathlib.Path(sys.argv[1] + '.txt').write_text(sys.argv[1] + '\\n')"
    )
    return [PY, "-c", code, name, str(seconds)]


# Fails when two.txt exists beside any other of the files: "two" passes alone, and every
# other patch passes alone or with the others, but nothing passes together with "two".
EXCLUSIVE = (
    "import pathlib, sys; others = ['one', 'three', 'four', 'five']; "
    "two = pathlib.Path('two.txt').exists(); "
    "sys.exit(1 if two and any(pathlib.Path(n + '.txt').exists() for n in others) else 0)"
)
GATES = {"exclusive": {"run": [PY, "-c", EXCLUSIVE], "type": "unit"}}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    repo = make_repo(tmp_path / "project", {"README.md": "hello\n"})
    before = checksum(repo)
    yield repo
    assert checksum(repo) == before, "the run changed the user's checkout"


def run(
    ledger: Ledger, repo: Path, tasks: list[dict[str, Any]], workers: int, **workstream: Any
) -> RunResult:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": tasks,
        "gates": GATES,
        **workstream,
    }
    bundle = check_bundle(json.loads(json.dumps(document)))
    options = RunOptions(parallel=workers, repo=repo, handle_signals=False, kill_grace_seconds=0.5)
    return run_bundle(ledger, bundle, options)


def five_tasks() -> list[dict[str, Any]]:
    return [
        {
            "task_id": name,
            "writes": True,
            "run": write_after(name, 0 if name == "one" else 1.0),
            "gates": ["exclusive"],
            "max_attempts": 1,
        }
        for name in NAMES
    ]


def landed_files(repo: Path, branch: str) -> set[str]:
    return set(git(repo, "ls-tree", "--name-only", branch).splitlines()) - {"README.md"}


def assert_every_commit_gated_on_its_tree(ledger: Ledger, repo: Path, run_id: str) -> None:
    branch = f"uet/{run_id}"
    base = ledger.get_run(run_id)["base_commit"]  # type: ignore[index]
    commits = git(repo, "rev-list", f"{base}..{branch}").splitlines()
    assert commits
    for commit in commits:
        tree = git(repo, "rev-parse", f"{commit}^{{tree}}")
        patch_id = git(repo, "log", "-1", "--format=%(trailers:key=Uet-Patch,valueonly)", commit)
        results = ledger.list_gate_results(patch_id=patch_id.strip())
        assert any(r["tree_sha"] == tree and r["state"] == "passed" for r in results), commit
        message = git(repo, "log", "-1", "--format=%B", commit)
        assert "Uet-Gates: exclusive=passed" in message
    verification = verify_run(ledger, run_id)
    assert verification.ok, verification.document()
    assert len(verification.commits) == len(commits)


@pytest.mark.parametrize("window", ["adaptive", 1], ids=["speculative", "serial"])
def test_a_patch_that_fails_only_in_combination_is_ejected_and_the_others_land(
    ledger: Ledger, project: Path, window: Any
) -> None:
    result = run(ledger, project, five_tasks(), workers=5, queue={"window": window})
    assert result.state == "failed"  # "two" could not land
    branch = f"uet/{result.run_id}"
    assert landed_files(project, branch) == {"one.txt", "three.txt", "four.txt", "five.txt"}
    tasks = {t["task_id"]: t for t in ledger.list_tasks(result.run_id)}
    assert {name: tasks[name]["state"] for name in NAMES} == {
        "one": "succeeded",
        "two": "failed",
        "three": "succeeded",
        "four": "succeeded",
        "five": "succeeded",
    }
    (two,) = ledger.list_patches(result.run_id, task_id="two")
    assert [step["state"] for step in two["history"]][-2:] == ["verified", "quarantined"]
    assert "on the tree it would land as" in (tasks["two"]["state_reason"] or "")
    assert "gate 'exclusive' failed" in (tasks["two"]["state_reason"] or "")
    kinds = [e["kind"] for e in ledger.list_events(result.run_id)]
    assert kinds.count("queue.entered") == 5
    assert "queue.ejected" in kinds
    gated = [e for e in ledger.list_events(result.run_id) if e["kind"] == "queue.gated"]
    assert any(not e["payload"]["passed"] and e["task_id"] == "two" for e in gated)
    combination = [
        r for r in ledger.list_gate_results(run_id=result.run_id) if r["scope"] == "combination"
    ]
    assert combination, "patches verified on an older head were gated again"
    assert_every_commit_gated_on_its_tree(ledger, project, result.run_id)


def test_two_patches_that_pass_alone_and_fail_together_never_land_together(
    ledger: Ledger, project: Path
) -> None:
    tasks = [
        {
            "task_id": name,
            "writes": True,
            "run": write_after(name, 0),
            "gates": ["exclusive"],
            "max_attempts": 2,
        }
        for name in ("one", "two")
    ]
    result = run(ledger, project, tasks, workers=2)
    branch = f"uet/{result.run_id}"
    files = landed_files(project, branch)
    assert files in ({"one.txt"}, {"two.txt"}), files
    # The loser was gated on the combination and ejected, then failed again on the new head.
    loser = "two" if files == {"one.txt"} else "one"
    task = next(t for t in ledger.list_tasks(result.run_id) if t["task_id"] == loser)
    assert task["state"] == "failed"
    assert result.state == "failed"
    assert_every_commit_gated_on_its_tree(ledger, project, result.run_id)


def test_uet_verify_fails_on_a_commit_whose_tree_no_gate_passed_on(
    ledger: Ledger, project: Path
) -> None:
    result = run(ledger, project, five_tasks()[:1], workers=1)
    assert result.state == "succeeded", result.reason
    runner = CliRunner()
    args = ["--ledger", str(ledger.path), "verify", result.run_id]
    ok = runner.invoke(cli, args)
    assert ok.exit_code == 0, ok.output
    assert "every commit was gated on its exact tree" in ok.output
    # A commit whose tree differs from the gated one, with UET's trailers copied onto it.
    branch = f"uet/{result.run_id}"
    head = git(project, "rev-parse", branch)
    message = git(project, "log", "-1", "--format=%B", head)
    parent = git(project, "rev-parse", f"{head}^")
    tree = git(project, "rev-parse", f"{parent}^{{tree}}")  # the base's tree: never gated
    forged = git(project, "commit-tree", tree, "-p", parent, "-m", message)
    git(project, "update-ref", f"refs/heads/{branch}", forged)
    bad = runner.invoke(cli, [*args, "--json"])
    assert bad.exit_code == 1, bad.output
    document = json.loads(bad.output)
    assert document["ok"] is False
    (check,) = document["commits"]
    assert check["commit"] == forged
    assert check["gates"] == {"exclusive": "missing"}
    assert "no passing result on this tree" in check["problems"][-1]


def test_an_attempt_whose_base_was_superseded_leaves_its_gates_to_the_queue(
    ledger: Ledger, project: Path
) -> None:
    """ "late" writes only once "one" has landed: its copy's tree can never land as it is, so
    its attempt does not gate it; the queue gates it once, on the tree it lands as."""
    wait_then_write = (
        "import os, pathlib, subprocess, time\n"
        "ref = 'refs/heads/uet/' + os.environ['UET_RUN_ID']\n"
        "def head(): return subprocess.run(['git', 'rev-parse', ref], capture_output=True,"
        " text=True).stdout\n"
        "start = head()\n"
        "for _ in range(500):\n"
        "    if head() != start: break\n"
        "    time.sleep(0.02)\n"
        "pathlib.Path('three.txt').write_text('three\\n')\n"
    )
    tasks = [
        {"task_id": "one", "writes": True, "run": write_after("one", 0), "gates": ["exclusive"]},
        {
            "task_id": "late",
            "writes": True,
            "run": [PY, "-c", wait_then_write],
            "gates": ["exclusive"],
        },
    ]
    result = run(ledger, project, tasks, workers=2)
    assert result.state == "succeeded", result.reason
    (late,) = ledger.list_patches(result.run_id, task_id="late")
    rows = ledger.list_gate_results(patch_id=late["patch_id"])
    assert [(r["scope"], r["state"]) for r in rows] == [("combination", "passed")]
    assert "left to the merge queue" in (late["history"][3]["reason"] or "")
    assert_every_commit_gated_on_its_tree(ledger, project, result.run_id)
