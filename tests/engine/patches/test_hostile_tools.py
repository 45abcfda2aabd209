"""Hostile and broken tools: each is rejected or failed with its reason, nothing it did is
applied to the integration branch, and the user's checkout (working tree, HEAD, branch,
config, hooks) has the same checksum after the run as before.

The tools are small Python programs run as real processes in real worktrees of a real
repository made in tmp_path.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from gitrepos import checksum, git, make_repo

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions
from core.engine.runs import run_bundle
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable


def hostile(
    ledger: Ledger, repo: Path, code: str, args: list[str] | None = None, **task: Any
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Run one writing task whose tool is ``code``; return its task row, its patches and the
    failure reason. Asserts the checkout's checksum and the branch are unchanged."""
    before = checksum(repo)
    base = git(repo, "rev-parse", "HEAD")
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [
            {"task_id": "evil", "writes": True, "run": [PY, "-c", code, *(args or [])], **task}
        ],
    }
    options = RunOptions(parallel=1, repo=repo, handle_signals=False, kill_grace_seconds=0.3)
    result = run_bundle(ledger, check_bundle(json.loads(json.dumps(document))), options)
    assert result.state == "failed", "a hostile tool must not succeed"
    assert checksum(repo) == before, "the run changed the user's checkout"
    assert git(repo, "rev-parse", f"uet/{result.run_id}") == base, "nothing may land"
    (task,) = ledger.list_tasks(result.run_id)
    patches = [dict(p) for p in ledger.list_patches(result.run_id)]
    return dict(task), patches, task["state_reason"] or ""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "project",
        {"README.md": "hello\n", "src/app.py": "VALUE = 1\n", "docs/guide.md": "guide\n"},
    )


def test_writing_outside_its_write_scope(ledger: Ledger, repo: Path) -> None:
    code = "import pathlib; pathlib.Path('docs/guide.md').write_text('mine\\n')"
    _, (patch,), reason = hostile(ledger, repo, code, scope={"write": ["src/**"]})
    assert patch["state"] == "rejected"
    assert patch["validation"]["reasons"] == ["docs/guide.md: outside the write scope (src/**)"]
    assert "patch rejected" in reason


def test_writing_outside_its_worktree_through_dot_dot(ledger: Ledger, repo: Path) -> None:
    # Worktrees live in UET's folder, <home>/<repo-key>/<run>/<task>-1, not in the checkout:
    # climbing out lands next to the worktree, in the run's folder or in UET's home.
    code = (
        "import pathlib; pathlib.Path('../next-door.txt').write_text('x'); "
        "pathlib.Path('../../../src').mkdir(); "
        "pathlib.Path('../../../src/app.py').write_text('VALUE = 666\\n')"
    )
    _, patches, reason = hostile(ledger, repo, code)
    assert patches == []
    assert reason.startswith("the tool reached outside its copy: wrote ")
    assert "next-door.txt outside its copy (deleted)" in reason
    assert f"{os.sep}src outside its copy (deleted)" in reason
    home = Path(os.environ["UET_WORKTREES"])
    assert not (home / "src").exists()
    assert [p.name for p in home.rglob("next-door.txt")] == []
    assert (repo / "src" / "app.py").read_text() == "VALUE = 1\n"


def test_a_symlink_that_points_out_of_the_repository(ledger: Ledger, repo: Path) -> None:
    code = "import os; os.symlink('/etc/passwd', 'passwd'); os.symlink('../../../..', 'src/up')"
    _, (patch,), _ = hostile(ledger, repo, code)
    assert patch["state"] == "rejected"
    reasons = patch["validation"]["reasons"]
    assert "passwd: symlink points outside the repository (/etc/passwd)" in reasons
    assert "src/up: symlink points outside the repository (../../../..)" in reasons


def test_editing_the_user_repository_config(ledger: Ledger, repo: Path, level: str) -> None:
    code = (
        "import subprocess, sys; subprocess.run(['git', '-C', sys.argv[1], 'config', "
        "'core.sshCommand', 'evil'], check=True)"
    )
    _, patches, reason = hostile(ledger, repo, code, args=[str(repo)])
    assert patches == []
    if level == "processes":
        assert "changed .git/config (restored)" in reason
    else:
        assert "exited with code 1" in reason  # the user's repository is read-only
    assert git(repo, "config", "--get", "core.sshCommand", check=False) == ""


def test_installing_a_hook_in_the_user_repository(ledger: Ledger, repo: Path, level: str) -> None:
    code = (
        "import pathlib, sys; hook = pathlib.Path(sys.argv[1]) / '.git' / 'hooks' / "
        "'pre-commit'; hook.write_text('#!/bin/sh\\n'); hook.chmod(0o755)"
    )
    _, _patches, reason = hostile(ledger, repo, code, args=[str(repo)])
    if level == "processes":
        assert "changed .git/hooks/pre-commit (restored)" in reason
    else:
        assert "Read-only file system" in reason
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_refs_config_and_hooks_a_tool_sets_stay_in_its_copy(
    ledger: Ledger, repo: Path, level: str
) -> None:
    """The copy is a repository of its own: moving `main` there, configuring it and
    installing hooks in it is the tool's business and reaches nothing of the user's."""
    before = checksum(repo)
    forged = git(repo, "commit-tree", "-m", "forged", git(repo, "rev-parse", "HEAD^{tree}"))
    code = (
        "import pathlib, subprocess, sys\n"
        "subprocess.run(['git', 'update-ref', 'refs/heads/main', sys.argv[1]], check=True)\n"
        "subprocess.run(['git', 'config', 'core.hooksPath', '/tmp/evil'], check=True)\n"
        "pathlib.Path('.git/hooks/pre-commit').write_text('#!/bin/sh\\n')\n"
    )
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "t", "writes": True, "run": [PY, "-c", code, forged]}],
    }
    options = RunOptions(parallel=1, repo=repo, handle_signals=False, kill_grace_seconds=0.3)
    result = run_bundle(ledger, check_bundle(document), options)
    assert result.state == "succeeded", result.reason
    assert checksum(repo) == before
    assert git(repo, "rev-parse", "main") != forged


def test_adding_a_binary_file_when_binaries_are_forbidden(ledger: Ledger, repo: Path) -> None:
    code = "import pathlib; pathlib.Path('blob.bin').write_bytes(bytes(range(256)))"
    _, (patch,), _ = hostile(ledger, repo, code, patch_policy={"allow_binary": False})
    assert patch["state"] == "rejected"
    assert patch["validation"]["reasons"] == [
        "blob.bin: binary file (the policy forbids binary files)"
    ]
    assert patch["files"][0]["binary"] is True


def test_exceeding_the_size_limits(ledger: Ledger, repo: Path) -> None:
    code = (
        "import pathlib\nfor i in range(3): pathlib.Path(f'gen{i}.txt').write_text('line\\n' * 50)"
    )
    policy = {"max_files": 2, "max_changed_lines": 100}
    _, (patch,), _ = hostile(ledger, repo, code, patch_policy=policy)
    assert patch["validation"]["reasons"] == [
        "changes 3 files; the policy allows at most 2",
        "changes 150 lines; the policy allows at most 100",
    ]


def test_deleting_its_own_worktree(ledger: Ledger, repo: Path) -> None:
    code = "import os, shutil; shutil.rmtree(os.environ['UET_WORKTREE'])"
    _task, patches, reason = hostile(ledger, repo, code)
    assert patches == []
    assert "worktree" in reason
    assert "gone" in reason


def test_pointing_the_copy_git_at_the_main_repository(ledger: Ledger, repo: Path) -> None:
    code = (
        "import pathlib, shutil, sys; pathlib.Path('src/app.py').write_text('VALUE = 5\\n'); "
        "shutil.rmtree('.git'); "
        "pathlib.Path('.git').write_text(f'gitdir: {sys.argv[1]}/.git\\n')"
    )
    _, patches, _ = hostile(ledger, repo, code, args=[str(repo)], scope={"write": ["docs/**"]})
    # Read back through UET's own git directory beside the copy, so the change is seen for
    # what it is and judged by the policy; the main index is never used.
    (patch,) = patches
    assert [f["path"] for f in patch["files"]] == ["src/app.py"]
    assert patch["state"] == "rejected"


def test_a_tool_that_hangs_is_killed_at_its_timeout(ledger: Ledger, repo: Path) -> None:
    code = "import pathlib, time; pathlib.Path('half.txt').write_text('x'); time.sleep(60)"
    _task, patches, reason = hostile(ledger, repo, code, timeout_seconds=0.5)
    assert patches == []
    assert reason.startswith("timed out after 0.5s")


def test_a_tool_that_waits_for_input_fails_instead_of_hanging(ledger: Ledger, repo: Path) -> None:
    code = "import pathlib, sys; answer = sys.stdin.readline(); assert answer, 'no input'"
    _, patches, reason = hostile(ledger, repo, code, timeout_seconds=10)
    assert patches == []
    assert "no input" in reason


def test_edits_to_the_checkout_during_a_run_are_never_undone(ledger: Ledger, repo: Path) -> None:
    """The user keeps working while tools run: what happens in the checkout is theirs. (The
    tool stands in for the user's editor here, writing by absolute path.)"""
    target = repo / "docs" / "guide.md"
    code = (
        f"import pathlib; pathlib.Path({str(target)!r}).write_text('edited meanwhile\\n'); "
        "pathlib.Path('new.txt').write_text('n\\n')"
    )
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "ok", "writes": True, "run": [PY, "-c", code]}],
    }
    options = RunOptions(parallel=1, repo=repo, handle_signals=False)
    result = run_bundle(ledger, check_bundle(document), options)
    assert result.state == "succeeded", result.reason
    assert target.read_text() == "edited meanwhile\n"
    (patch,) = ledger.list_patches(result.run_id)
    assert [f["path"] for f in patch["files"]] == ["new.txt"]


def test_the_users_own_uncommitted_work_is_left_alone(ledger: Ledger, repo: Path) -> None:
    (repo / "src" / "app.py").write_text("VALUE = 'mine, not committed'\n")
    (repo / "notes.txt").write_text("my untracked notes\n")
    code = "import pathlib; pathlib.Path('src/app.py').write_text('VALUE = 2\\n')"
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "ok", "writes": True, "run": [PY, "-c", code]}],
    }
    before = checksum(repo)
    options = RunOptions(parallel=1, repo=repo, handle_signals=False)
    result = run_bundle(ledger, check_bundle(document), options)
    assert result.state == "succeeded", result.reason
    assert checksum(repo) == before
    assert git(repo, "show", f"uet/{result.run_id}:src/app.py") == "VALUE = 2"
