"""The integration branch is UET's: a commit on ``uet/<run>`` that UET did not make (a tool's
``git update-ref``, a person's commit, a reset past UET's work, trailers typed by hand) stops
landing with IntegrationTampered and an ``integration.tampered`` event, during a run, at
``uet resume`` and at ``uet land``, and nothing is ever built on it. Real runs, real git
repositories in tmp_path, real tools (small Python programs), a real SQLite ledger."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from gitrepos import IDENTITY, checksum, children, git, make_repo

from core.engine.options import RunOptions
from core.engine.patches.manage import land_run, rollback_patch
from core.engine.runs import resume_run, retry_task
from core.errors import IntegrationTampered
from core.state import Ledger, PatchRow
from tests.conftest import require_sandbox
from tests.engine.patches.patchruns import run, write

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable

# A writing tool that, before making its own change, forges the run's integration branch in
# the user's repository (argv[1]): a commit on top of the head carrying a forbidden file, and
# trailers copied from the head so it looks like one of UET's.
FORGER = r"""
import os, pathlib, subprocess, sys
repo, marker = sys.argv[1], sys.argv[2]
env = {**os.environ, "GIT_DIR": os.path.join(repo, ".git"), "GIT_INDEX_FILE": marker}
ref = "refs/heads/uet/" + os.environ["UET_RUN_ID"]
def git(*args, data=None):
    out = subprocess.run(["git", *args], input=data, env=env, capture_output=True, check=True)
    return out.stdout.decode().strip()
head = git("rev-parse", ref)
git("read-tree", head)
blob = git("hash-object", "-w", "--stdin", data=b"exfiltrate()\n")
git("update-index", "--add", "--cacheinfo", "100644," + blob + ",.github/workflows/evil.yml")
tree = git("write-tree")
message = "uet: looks legit\n\nUet-Run: " + os.environ["UET_RUN_ID"] + "\nUet-Task: forger\n"
forged = git("commit-tree", tree, "-p", head, "-F", "-", data=message.encode())
git("update-ref", ref, forged, head)
pathlib.Path(marker).unlink(missing_ok=True)
pathlib.Path("forger.txt").write_text("my own change\n")
"""


def forge_on_top(repo: Path, branch: str, message: str, path: str = "evil.txt") -> str:
    """Put a commit UET did not make on ``branch`` (plumbing, as a tool or script would)."""
    head = git(repo, "rev-parse", branch)
    env = {**os.environ, **IDENTITY, "GIT_INDEX_FILE": str(repo.parent / "forger-index")}

    def plumbing(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=repo, env=env, input=data, capture_output=True, check=True
        )
        return done.stdout.decode().strip()

    plumbing("read-tree", head)
    blob = plumbing("hash-object", "-w", "--stdin", data=b"evil\n")
    plumbing("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = plumbing("write-tree")
    forged = plumbing("commit-tree", tree, "-p", head, "-F", "-", data=message.encode())
    plumbing("update-ref", f"refs/heads/{branch}", forged, head)
    return forged


def tampered_events(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in ledger.list_events(run_id) if e["kind"] == "integration.tampered"]


def patch_of(ledger: Ledger, run_id: str, task_id: str) -> PatchRow:
    return next(p for p in ledger.list_patches(run_id) if p["task_id"] == task_id)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The attack needs a tool that can reach the user's repository: no OS sandbox (with one,
    # the user's .git is read-only to the tool and the forge fails before UET sees anything).
    monkeypatch.setenv("UET_SANDBOX", "off")
    return make_repo(tmp_path / "project", {"a.txt": "a\n", "b.txt": "b\n"})


def test_a_tool_that_forges_the_integration_branch_fails_the_run_and_nothing_lands_on_it(
    ledger: Ledger, repo: Path, tmp_path: Path
) -> None:
    before = checksum(repo)
    result = run(
        ledger,
        repo,
        [
            {
                "task_id": "forger",
                "writes": True,
                "run": [PY, "-c", FORGER, str(repo), str(tmp_path / "forger-index")],
            },
            {
                "task_id": "after",
                "writes": True,
                "run": write("b.txt", "B, edited\n"),
                "depends_on": ["forger"],
            },
        ],
    )
    branch = f"uet/{result.run_id}"
    forged = git(repo, "rev-parse", branch)

    assert result.state == "failed"
    assert result.reason is not None
    assert f"holds commit {forged[:12]}, which UET did not make" in result.reason
    assert f"git update-ref refs/heads/{branch}" in result.reason
    events = tampered_events(ledger, result.run_id)
    assert [e["commit"] for e in events] == [forged]
    assert "names no single patch" in events[0]["reason"]
    assert children(repo, forged) == [], "nothing was built on the forged commit"
    tasks = {t["task_id"]: t for t in ledger.list_tasks(result.run_id)}
    assert tasks["forger"]["state"] == "failed"
    assert (tasks["forger"]["state_reason"] or "").startswith("its patch did not land: ")
    assert "does not apply" not in (tasks["forger"]["state_reason"] or ""), "not a conflict"
    assert patch_of(ledger, result.run_id, "forger")["state"] == "verified"
    assert tasks["after"]["state"] == "canceled"
    assert ledger.list_patches(result.run_id, state="committed") == []
    assert checksum(repo) == before


def test_in_the_sandbox_the_same_tool_cannot_reach_the_integration_branch(
    ledger: Ledger, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_sandbox()
    monkeypatch.setenv("UET_SANDBOX", "required")
    before = checksum(repo)
    result = run(
        ledger,
        repo,
        [
            {
                "task_id": "forger",
                "writes": True,
                "run": [PY, "-c", FORGER, str(repo), str(tmp_path / "forger-index")],
            },
            {"task_id": "other", "writes": True, "run": write("b.txt", "B, edited\n")},
        ],
    )
    branch = f"uet/{result.run_id}"
    tasks = {t["task_id"]: t for t in ledger.list_tasks(result.run_id)}
    assert tasks["forger"]["state"] == "failed", "its git writes into .git were refused"
    assert tasks["other"]["state"] == "succeeded"
    assert git(repo, "log", "--format=%s", branch).splitlines()[0] == "uet: other"
    assert tampered_events(ledger, result.run_id) == []
    assert checksum(repo) == before


@pytest.fixture
def paused_run(ledger: Ledger, repo: Path) -> str:
    """A run that landed one patch, then was paused for `uet resume` (a task retried)."""
    result = run(
        ledger,
        repo,
        [
            {"task_id": "one", "writes": True, "run": write("a.txt", "A, edited\n")},
            {"task_id": "flaky", "run": [PY, "-c", "raise SystemExit(1)"], "depends_on": ["one"]},
        ],
    )
    assert result.state == "failed"
    assert retry_task(ledger, result.run_id, "flaky")["state"] == "paused"
    return result.run_id


def test_a_commit_forged_between_runs_is_caught_by_resume_and_by_land(
    ledger: Ledger,
    repo: Path,
    paused_run: str,
    invoke: Callable[..., Result],
) -> None:
    branch = f"uet/{paused_run}"
    good = git(repo, "rev-parse", branch)
    forged = forge_on_top(repo, branch, "a fix\n")
    before = checksum(repo)

    with pytest.raises(IntegrationTampered, match="carries no Uet-Run trailer") as caught:
        resume_run(ledger, paused_run, RunOptions(handle_signals=False))
    assert (caught.value.commit, caught.value.last_good) == (forged, good)
    assert (ledger.get_run(paused_run) or {}).get("state") == "paused", "nothing resumed"
    refused = invoke("land", paused_run)
    assert refused.exit_code == 1
    assert f"git update-ref refs/heads/{branch} {good} {forged}" in refused.output
    assert git(repo, "rev-parse", "HEAD") != forged
    assert [e["commit"] for e in tampered_events(ledger, paused_run)] == [forged, forged]
    assert children(repo, forged) == []
    assert checksum(repo) == before

    # Doing what the message says puts things right.
    git(repo, "update-ref", f"refs/heads/{branch}", good, forged)
    assert land_run(ledger, paused_run).mode == "fast-forward"
    assert git(repo, "rev-parse", "HEAD") == good


def test_a_rollback_is_not_committed_on_top_of_a_forged_commit(
    ledger: Ledger, repo: Path, paused_run: str
) -> None:
    branch = f"uet/{paused_run}"
    forged = forge_on_top(repo, branch, "a fix\n")
    one = patch_of(ledger, paused_run, "one")
    with pytest.raises(IntegrationTampered, match="carries no Uet-Run trailer"):
        rollback_patch(ledger, one["patch_id"])
    assert git(repo, "rev-parse", branch) == forged
    assert children(repo, forged) == []
    assert patch_of(ledger, paused_run, "one")["state"] == "committed"
    assert [e["commit"] for e in tampered_events(ledger, paused_run)] == [forged]


def forged_with_trailers(ledger: Ledger, repo: Path, run_id: str, case: str) -> str:
    branch = f"uet/{run_id}"
    one = patch_of(ledger, run_id, "one")
    if case == "trailers of a landed patch":
        message = f"uet: one\n\nUet-Run: {run_id}\nUet-Task: one\nUet-Patch: {one['patch_id']}\n"
        return forge_on_top(repo, branch, message)
    if case == "trailers of a patch the run does not have":
        unknown = "01J00000000000000000000000"
        message = f"uet: x\n\nUet-Run: {run_id}\nUet-Task: one\nUet-Patch: {unknown}\n"
        return forge_on_top(repo, branch, message)
    if case == "a revert no one asked for":
        trailer = f"Uet-Reverts-Patch: {one['patch_id']}"
        message = f"revert\n\nUet-Run: {run_id}\nUet-Task: one\n{trailer}\n"
        return forge_on_top(repo, branch, message)
    if case == "a user's commit on the branch":
        git(repo, "checkout", "-q", branch)
        (repo / "b.txt").write_text("user edit\n")
        git(repo, "commit", "-qam", "user edit")
        git(repo, "checkout", "-q", "main")
        return git(repo, "rev-parse", branch)
    if case == "the branch put back past UET's commit":
        base = git(repo, "rev-parse", f"{branch}~1")
        git(repo, "update-ref", f"refs/heads/{branch}", base)
        return base
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("trailers of a landed patch", "the ledger does not record it as the landing of patch"),
        ("trailers of a patch the run does not have", "which this run does not have"),
        ("a revert no one asked for", "its tree is not the revert of patch"),
        ("a user's commit on the branch", "carries no Uet-Run trailer"),
        ("the branch put back past UET's commit", "the branch lost commit"),
    ],
)
def test_trailers_alone_never_vouch_for_a_commit(
    ledger: Ledger, repo: Path, paused_run: str, case: str, why: str
) -> None:
    forged = forged_with_trailers(ledger, repo, paused_run, case)
    with pytest.raises(IntegrationTampered, match=why) as caught:
        land_run(ledger, paused_run)
    assert caught.value.head == forged
    with pytest.raises(IntegrationTampered, match=why):
        resume_run(ledger, paused_run, RunOptions(handle_signals=False))
    assert len(tampered_events(ledger, paused_run)) == 2


def test_a_rollback_between_runs_is_uets_own_commit(ledger: Ledger, repo: Path) -> None:
    result = run(
        ledger,
        repo,
        [
            {"task_id": "one", "writes": True, "run": write("a.txt", "A, edited\n")},
            {
                "task_id": "two",
                "writes": True,
                "run": write("b.txt", "B, edited\n"),
                "depends_on": ["one"],
            },
        ],
    )
    assert result.state == "succeeded", result.reason
    rollback_patch(ledger, patch_of(ledger, result.run_id, "one")["patch_id"])
    landed = land_run(ledger, result.run_id)
    assert landed.mode == "fast-forward"
    assert (repo / "a.txt").read_text() == "a\n"
    assert (repo / "b.txt").read_text() == "B, edited\n"
    assert tampered_events(ledger, result.run_id) == []
