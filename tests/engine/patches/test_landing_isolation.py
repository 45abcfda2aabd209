"""Landing on the integration branch is pure plumbing: whatever sits in the user's checkout
(an untracked file, an edited tracked file) neither changes nor stops it, and nothing of UET's
is left in the user's ``.git``. Real runs on real repositories in tmp_path, real tools (small
Python programs), a real SQLite ledger; the checksum of the user's repository is the judge."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from gitrepos import checksum, git, make_repo

from core.adapters.git import open_repository
from core.engine.patches.integration import IntegrationBranch, integration_folder
from core.state import Ledger
from tests.engine.patches.patchruns import run, write

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable
# What UET may leave in the user's .git: objects, and its own refs (with their reflogs).
UET_MAY_WRITE = ("objects/", "refs/heads/uet/", "logs/refs/heads/uet/")


def git_dir_files(repo: Path) -> set[str]:
    """Every file in the repository's ``.git`` but the ones UET may write."""
    common = repo / ".git"
    return {
        path.relative_to(common).as_posix()
        for path in common.rglob("*")
        if path.is_file() and not path.relative_to(common).as_posix().startswith(UET_MAY_WRITE)
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"README.md": "hello\n", "src/app.py": "x = 1\n"})


@pytest.mark.parametrize(
    "checkout",
    ["clean", "untracked file of that name", "untracked file and an edited tracked file"],
)
@pytest.mark.parametrize("same_content", [False, True], ids=["different", "identical"])
def test_two_patches_creating_the_same_file_never_reach_the_users_checkout(
    ledger: Ledger, repo: Path, checkout: str, same_content: bool
) -> None:
    if checkout != "clean":
        (repo / "new.txt").write_text("the user's own new.txt\n")
    if checkout.endswith("edited tracked file"):
        (repo / "README.md").write_text("edited by the user, not committed\n")
    before = checksum(repo)
    files_before = git_dir_files(repo)

    result = run(
        ledger,
        repo,
        [
            {"task_id": "a", "writes": True, "run": write("new.txt", "from a\n")},
            {
                "task_id": "b",
                "writes": True,
                "run": write("new.txt", "from a\n" if same_content else "from b\n"),
            },
        ],
    )

    patches = {p["task_id"]: p for p in ledger.list_patches(result.run_id)}
    branch = f"uet/{result.run_id}"
    if same_content:  # the second one merges cleanly: nothing to add
        assert result.state == "succeeded", result.reason
        assert git(repo, "show", f"{branch}:new.txt") == "from a"
    else:  # both added it from the same base: the second one conflicts, as a conflict
        states = sorted(p["state"] for p in patches.values())
        assert states == ["committed", "quarantined"]
        loser = next(p for p in patches.values() if p["state"] == "quarantined")
        assert "new.txt" in json.dumps(loser["history"])
        winner = next(p for p in patches.values() if p["state"] == "committed")
        assert git(repo, "show", f"{branch}:new.txt") == f"from {winner['task_id']}"
    assert checksum(repo) == before, "the user's checkout, index, refs, config and hooks"
    assert git_dir_files(repo) - files_before <= {"info/exclude"}, "nothing new in .git"
    assert [p for p in (repo / ".git").rglob("*") if "uet-index" in p.name] == []
    if checkout != "clean":
        assert (repo / "new.txt").read_text() == "the user's own new.txt\n"


def test_the_private_index_and_scratch_tree_live_in_uets_folder_and_go_with_the_branch(
    repo: Path, tmp_path: Path
) -> None:
    project = open_repository(repo)
    head = project.rev_parse("HEAD")
    assert head is not None
    branch = IntegrationBranch(project, "uet/01J0000000000000000000RUN1")
    branch.create(head)
    diff = tmp_path / "p.diff"
    diff.write_text(
        "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n"
        "@@ -0,0 +1 @@\n+new\n"
    )
    landed = branch.land(diff, "one")
    assert landed.commit is not None
    folder = integration_folder(project.repo, "01J0000000000000000000RUN1")
    assert branch.folder == folder
    assert folder.is_relative_to(tmp_path / "uet-worktrees"), "UET's folder, not the project"
    made = sorted(p.name.split("-")[0] for p in folder.iterdir())
    assert made == ["index", "work"]
    assert list(folder.glob("work-*/*")) == [], "the scratch tree stays empty"
    branch.close()
    assert not folder.exists()
    assert [p for p in (repo / ".git").iterdir() if p.name.startswith("uet-")] == []
