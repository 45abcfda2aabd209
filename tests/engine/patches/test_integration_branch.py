"""The integration branch: landing patches as commits through git plumbing, on a real git
repository made in tmp_path. Patches are captured from real worktrees, as a run makes them; the
user's checkout (HEAD, branch, index, working tree) must be left exactly as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gitrepos
import pytest

from core.adapters.git import Git, trailers
from core.engine.patches.capture import capture
from core.engine.patches.copies import admin_dir
from core.engine.patches.integration import (
    PATCH_TRAILER,
    RUN_TRAILER,
    TASK_TRAILER,
    IntegrationBranch,
    Landing,
    branch_name,
    commit_message,
    landed_patches,
)
from core.engine.patches.provenance import RecordedPatch
from core.errors import IntegrationTampered
from core.ids import new_id

RUN = "01J0000000000000000000RUN0"
NewWorktree = Callable[..., Path]  # the conftest's new_worktree(commit=None)
MakePatch = Callable[..., Path]


@pytest.fixture
def branch(repo: Git, base: str) -> Iterator[IntegrationBranch]:
    made = IntegrationBranch(repo, branch_name(RUN))
    made.create(base)
    yield made
    made.close()


@pytest.fixture
def make_patch(repo: Git, base: str, new_worktree: NewWorktree, tmp_path: Path) -> MakePatch:
    """``make_patch({path: text or None (delete)}, start=base) -> diff file``, captured from a
    fresh worktree at ``start`` the way a writing attempt captures it."""
    folder = tmp_path / "patches"
    folder.mkdir()

    def make(changes: dict[str, str | None], start: str | None = None) -> Path:
        start = start or base
        worktree = new_worktree(start)
        for name, text in changes.items():
            target = worktree / name
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        admin = admin_dir(worktree)
        assert admin is not None
        patch = capture(repo, worktree, admin, start)
        assert patch is not None
        path = folder / f"{patch.sha256[:16]}-{len(list(folder.iterdir()))}.diff"
        path.write_bytes(patch.diff)
        return path

    return make


class KnownPatches:
    """A run's patches as its ledger knows them in the crash window: verified, not yet recorded
    as landed, so a commit of one is UET's when its tree is that patch applied to its parent
    (a :class:`~core.engine.patches.provenance.Provenance` without a database)."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id
        self.patches: dict[str, RecordedPatch] = {}

    @property
    def run_id(self) -> str:
        return self._run_id

    def add(self, task_id: str, diff: Path, patch_id: str | None = None) -> str:
        patch_id = patch_id or new_id()
        self.patches[patch_id] = RecordedPatch(patch_id, task_id, "verified", None, None, str(diff))
        return patch_id

    def patch(self, patch_id: str) -> RecordedPatch | None:
        return self.patches.get(patch_id)

    def landed_commits(self) -> dict[str, str]:
        return {}


def app_with(replacements: dict[int, str]) -> str:
    lines = [f"line {number}" for number in range(1, 21)]
    for number, text in replacements.items():
        lines[number - 1] = text
    return "\n".join(lines) + "\n"


def show(git: Git, commit: str, path: str) -> str | None:
    result = git.run("show", f"{commit}:{path}", check=False)
    return result.stdout.decode() if result.returncode == 0 else None


def checkout_state(git: Git) -> dict[str, object]:
    """Everything of the user's checkout a landing must not touch."""
    common = git.common_dir()
    files = {
        path.relative_to(git.repo).as_posix(): path.read_bytes()
        for path in git.repo.rglob("*")
        if path.is_file() and path.relative_to(git.repo).parts[0] not in (".git", ".worktrees")
    }
    return {
        "HEAD": git.rev_parse("HEAD"),
        "branch": git.current_branch(),
        "main": git.rev_parse("refs/heads/main"),
        "status": git.text("status", "--porcelain", "--untracked-files=all"),
        "index": hashlib.sha256((common / "index").read_bytes()).hexdigest(),
        "files": files,
    }


def private_files(git: Git) -> list[str]:
    """Temporary files UET leaves in the git directory (private indexes, reverse diffs)."""
    common = git.common_dir()
    return sorted(
        p.name for p in common.iterdir() if p.name.startswith("uet-index") or p.suffix == ".diff"
    )


# -- creating the branch ----------------------------------------------------------------------


def test_create_refuses_an_existing_branch(repo: Git, base: str) -> None:
    made = IntegrationBranch(repo, "uet/x")
    made.create(base)
    assert repo.rev_parse("refs/heads/uet/x") == base
    assert made.head() == base
    with pytest.raises(ValueError, match="already exists"):
        made.create(base)
    with pytest.raises(ValueError, match="already exists"):
        IntegrationBranch(repo, "uet/x").create(base)


def test_ensure_creates_a_missing_branch_and_leaves_an_existing_one(
    repo: Git, base: str, commit_all: Callable[..., str]
) -> None:
    made = IntegrationBranch(repo, "uet/y")
    with pytest.raises(ValueError, match="missing"):
        made.head()
    assert made.ensure(base) is True
    assert made.head() == base
    (repo.repo / "README.md").write_text("later\n", encoding="utf-8")
    later = commit_all(repo, "later")
    assert made.ensure(later) is False
    assert made.head() == base, "an existing branch keeps what it holds"


def test_branch_name() -> None:
    assert branch_name(RUN) == f"uet/{RUN}"


# -- landing ----------------------------------------------------------------------------------


def test_land_commits_on_the_branch_only(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch
) -> None:
    diff = make_patch({"src/app.py": app_with({3: "three"}), "src/new.py": "new = True\n"})
    (repo.repo / "scratch.txt").write_text("the user's own work\n", encoding="utf-8")
    (repo.repo / "README.md").write_text("edited by the user\n", encoding="utf-8")
    before = checkout_state(repo)

    landing = branch.land(diff, commit_message("uet: task", RUN, "task", new_id()))

    assert landing.landed
    assert landing.conflict is None
    assert landing.head == base
    assert landing.commit is not None
    assert repo.rev_parse(f"refs/heads/{branch.branch}") == landing.commit
    assert branch.head() == landing.commit
    assert repo.text("rev-parse", f"{landing.commit}^") == base
    assert show(repo, landing.commit, "src/app.py") == app_with({3: "three"})
    assert show(repo, landing.commit, "src/new.py") == "new = True\n"
    assert show(repo, landing.commit, "README.md") == "hello\n", "the user's edit is not landed"
    assert show(repo, landing.commit, "scratch.txt") is None
    assert checkout_state(repo) == before
    branch.close()
    assert private_files(repo) == []


def test_commit_message_trailers_and_landed_patches(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch
) -> None:
    first, second = new_id(), new_id()
    message = commit_message("uet: write docs", RUN, "docs-task", first, body="Why: it helps.")
    assert message == (
        "uet: write docs\n\nWhy: it helps.\n\n"
        f"Uet-Run: {RUN}\nUet-Task: docs-task\nUet-Patch: {first}\n"
    )
    assert trailers(message) == {RUN_TRAILER: RUN, TASK_TRAILER: "docs-task", PATCH_TRAILER: first}

    one = branch.land(make_patch({"docs/readme.md": "docs one\n"}), message)
    two = branch.land(
        make_patch({"src/new.py": "x = 2\n"}), commit_message("uet: code", RUN, "code", second)
    )
    assert one.commit is not None
    assert two.commit is not None
    body = repo.text("log", "-1", "--format=%B", one.commit)
    assert trailers(body) == {RUN_TRAILER: RUN, TASK_TRAILER: "docs-task", PATCH_TRAILER: first}
    assert repo.text("log", "-1", "--format=%s", two.commit) == "uet: code"
    assert landed_patches(repo, branch.branch, base) == {first: one.commit, second: two.commit}
    assert landed_patches(repo, branch.branch, one.commit) == {second: two.commit}
    assert landed_patches(repo, branch.branch, None) == {first: one.commit, second: two.commit}
    assert landed_patches(repo, "uet/no-such-branch", base) == {}
    assert landed_patches(repo, "main", base) == {}


def test_patches_on_different_files_both_land(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch
) -> None:
    docs = make_patch({"docs/readme.md": "new docs\n"})
    code = make_patch({"src/app.py": app_with({1: "one"}), "tests/test_app.py": None})
    first = branch.land(docs, "docs")
    second = branch.land(code, "code")
    assert second.head == first.commit
    assert second.commit is not None
    assert show(repo, second.commit, "docs/readme.md") == "new docs\n"
    assert show(repo, second.commit, "src/app.py") == app_with({1: "one"})
    assert show(repo, second.commit, "tests/test_app.py") is None


def test_nearby_changes_to_one_file_land_by_three_way_merge(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch, tmp_path: Path
) -> None:
    five = make_patch({"src/app.py": app_with({5: "five"})})
    seven = make_patch({"src/app.py": app_with({7: "seven"})})
    first = branch.land(five, "five")
    assert first.commit is not None
    # Applied as a plain patch, 'seven' no longer fits: its context still says 'line 5'.
    index = {"GIT_INDEX_FILE": str(tmp_path / "probe-index")}
    repo.run("read-tree", first.commit, env=index)
    plain = repo.run("apply", "--cached", "--check", str(seven), env=index, check=False)
    assert plain.returncode != 0
    second = branch.land(seven, "seven")
    assert second.commit is not None
    assert show(repo, second.commit, "src/app.py") == app_with({5: "five", 7: "seven"})


def test_a_conflicting_patch_does_not_move_the_branch(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch
) -> None:
    ours = make_patch({"src/app.py": app_with({5: "ours"})})
    theirs = make_patch({"src/app.py": app_with({5: "theirs"})})
    later = make_patch({"docs/readme.md": "unrelated\n"})
    landed = branch.land(ours, "ours")
    assert landed.commit is not None

    conflict = branch.land(theirs, "theirs")
    assert conflict == Landing(commit=None, head=landed.commit, conflict=conflict.conflict)
    assert not conflict.landed
    assert conflict.conflict is not None
    assert "src/app.py" in conflict.conflict
    assert branch.head() == landed.commit

    # The half-applied conflict does not leak into the next landing.
    after = branch.land(later, "later")
    assert after.commit is not None
    assert after.head == landed.commit
    assert show(repo, after.commit, "src/app.py") == app_with({5: "ours"})
    assert show(repo, after.commit, "docs/readme.md") == "unrelated\n"
    changed = repo.text("diff-tree", "--no-commit-id", "--name-only", "-r", after.commit)
    assert changed.splitlines() == ["docs/readme.md"]


def test_a_patch_that_does_not_apply_at_all_is_a_conflict(
    repo: Git, branch: IntegrationBranch, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.diff"
    garbage.write_bytes(b"this is not a patch\n")
    landing = branch.land(garbage, "garbage")
    assert landing.commit is None
    assert landing.conflict
    assert branch.head() == landing.head


def test_binary_and_renamed_files_land(
    repo: Git, base: str, branch: IntegrationBranch, new_worktree: NewWorktree, tmp_path: Path
) -> None:
    worktree = new_worktree()
    blob = bytes(range(256)) + b"\0\0"
    (worktree / "blob.bin").write_bytes(blob)
    (worktree / "docs/readme.md").rename(worktree / "docs/guide.md")
    (worktree / "src/app.py").chmod(0o755)
    admin = admin_dir(worktree)
    assert admin is not None
    patch = capture(repo, worktree, admin, base)
    assert patch is not None
    diff = tmp_path / "p.diff"
    diff.write_bytes(patch.diff)
    landing = branch.land(diff, "binary, rename, mode")
    assert landing.commit is not None
    assert repo.run("show", f"{landing.commit}:blob.bin").stdout == blob
    assert show(repo, landing.commit, "docs/guide.md") == "the docs\n"
    assert show(repo, landing.commit, "docs/readme.md") is None
    mode = repo.text("ls-tree", landing.commit, "src/app.py").split()[0]
    assert mode == "100755"


# -- reverting --------------------------------------------------------------------------------


def test_revert_undoes_a_landed_patch(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch
) -> None:
    before = checkout_state(repo)
    first = branch.land(make_patch({"src/app.py": app_with({2: "two"})}), "first")
    second = branch.land(make_patch({"docs/readme.md": "second\n"}), "second")
    assert first.commit is not None
    assert second.commit is not None

    undone = branch.revert(first.commit, "revert first")
    assert undone.commit is not None
    assert undone.head == second.commit
    assert branch.head() == undone.commit
    assert repo.text("rev-parse", f"{undone.commit}^") == second.commit
    assert show(repo, undone.commit, "src/app.py") == app_with({})
    assert show(repo, undone.commit, "docs/readme.md") == "second\n"
    assert repo.text("log", "-1", "--format=%s", undone.commit) == "revert first"

    # Reverting the other one too brings the tree back to the base's.
    again = branch.revert(second.commit, "revert second")
    assert again.commit is not None
    assert repo.text("rev-parse", f"{again.commit}^{{tree}}") == repo.text(
        "rev-parse", f"{base}^{{tree}}"
    )
    assert checkout_state(repo) == before
    branch.close()
    assert private_files(repo) == []


def test_revert_of_a_later_rewritten_change_conflicts(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch
) -> None:
    first = branch.land(make_patch({"src/app.py": app_with({2: "two"})}), "first")
    assert first.commit is not None
    second = branch.land(make_patch({"src/app.py": app_with({2: "TWO"})}, first.commit), "2nd")
    assert second.commit is not None
    undone = branch.revert(first.commit, "revert first")
    assert undone.commit is None
    assert undone.conflict
    assert branch.head() == second.commit
    branch.close()
    assert private_files(repo) == []


# -- the branch moving underneath -------------------------------------------------------------


def commit_on_top(git: Git, parent: str, path: str, text: str, tmp_path: Path) -> str:
    """A commit adding ``path`` on top of ``parent``, made with plumbing only (another writer)."""
    env = {"GIT_INDEX_FILE": str(tmp_path / f"other-index-{parent[:8]}")}
    git.run("read-tree", parent, env=env)
    blob = git.run("hash-object", "-w", "--stdin", data=text.encode()).stdout.decode().strip()
    git.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = git.text("write-tree", env=env)
    return git.run("commit-tree", tree, "-p", parent, "-m", "other writer").stdout.decode().strip()


def test_a_branch_moved_by_anything_else_is_foreign_and_nothing_lands_on_it(
    repo: Git, base: str, branch: IntegrationBranch, make_patch: MakePatch, tmp_path: Path
) -> None:
    first = branch.land(make_patch({"src/app.py": app_with({4: "four"})}), "first")
    assert first.commit is not None
    # Someone else moves the branch with update-ref: this object made no such commit.
    other = commit_on_top(repo, first.commit, "other.txt", "from elsewhere\n", tmp_path)
    repo.run("update-ref", branch.ref, other, first.commit)

    with pytest.raises(IntegrationTampered, match="outside this process") as caught:
        branch.land(make_patch({"docs/readme.md": "second\n"}), "second")
    assert (caught.value.commit, caught.value.last_good) == (other, first.commit)
    assert f"git update-ref {branch.ref} {first.commit} {other}" in str(caught.value)
    assert branch.head() == other, "nothing landed on top of it"
    assert gitrepos.children(repo.repo, other) == [], "no commit was made on top of it"


def test_a_branch_moved_by_a_commit_the_ledger_vouches_for_loses_nothing(
    repo: Git, base: str, make_patch: MakePatch
) -> None:
    """A rollback or another UET process moves the branch between two landings: its commit
    is one the run's ledger knows (here: a verified patch whose diff gives exactly its tree),
    so the next landing goes on top of it."""
    known = KnownPatches(RUN)
    mine = IntegrationBranch(repo, branch_name(RUN), base=base, provenance=known)
    other = IntegrationBranch(repo, branch_name(RUN), base=base, provenance=known)
    mine.create(base)

    def land(branch: IntegrationBranch, task: str, changes: dict[str, str | None]) -> Landing:
        diff = make_patch(changes)
        patch_id = known.add(task, diff)
        return branch.land(diff, commit_message(f"uet: {task}", RUN, task, patch_id))

    try:
        first = land(mine, "t1", {"src/app.py": app_with({4: "four"})})
        assert first.commit is not None
        elsewhere = land(other, "t2", {"other.txt": "elsewhere\n"})
        assert elsewhere.commit is not None

        second = land(mine, "t3", {"docs/readme.md": "second\n"})
        assert second.commit is not None
        assert second.head == elsewhere.commit
        # The tree holds all three changes: the stale private index was not reused.
        assert show(repo, second.commit, "other.txt") == "elsewhere\n"
        assert show(repo, second.commit, "src/app.py") == app_with({4: "four"})
        assert show(repo, second.commit, "docs/readme.md") == "second\n"
    finally:
        mine.close()
        other.close()


def test_two_writers_landing_at_once_lose_no_commit(
    repo: Git, base: str, make_patch: MakePatch
) -> None:
    """Two IntegrationBranch objects (two processes, in effect) land on the same branch at the
    same time; the compare-and-swap on the ref makes every landing end up on the branch."""
    count = 6
    patches = {
        writer: [
            (new_id(), make_patch({f"{writer}/{n}.txt": f"{writer} {n}\n"})) for n in range(count)
        ]
        for writer in ("left", "right")
    }
    IntegrationBranch(repo, "uet/shared").create(base)
    known = KnownPatches(RUN)
    for writer, items in patches.items():
        for patch_id, diff in items:
            known.add(writer, diff, patch_id)

    def land_all(writer: str) -> list[str]:
        mine = IntegrationBranch(repo, "uet/shared", base=base, provenance=known)
        commits = []
        try:
            for patch_id, diff in patches[writer]:
                message = commit_message(f"uet: {writer}", RUN, writer, patch_id)
                for _ in range(20):  # "kept moving": the caller tries again
                    try:
                        landing = mine.land(diff, message)
                    except RuntimeError:
                        continue
                    assert landing.commit is not None, landing.conflict
                    commits.append(landing.commit)
                    break
                else:
                    raise AssertionError("never landed")
        finally:
            mine.close()
        return commits

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(land_all, ["left", "right"]))

    head = repo.rev_parse("refs/heads/uet/shared")
    assert head is not None
    history = repo.text("rev-list", f"{base}..{head}").splitlines()
    assert len(history) == 2 * count
    assert {commit for commits in results for commit in commits} == set(history)
    expected = {patch_id for items in patches.values() for patch_id, _ in items}
    assert set(landed_patches(repo, "uet/shared", base)) == expected
    files = repo.text("ls-tree", "-r", "--name-only", head).splitlines()
    for writer in ("left", "right"):
        assert sorted(f for f in files if f.startswith(f"{writer}/")) == sorted(
            f"{writer}/{n}.txt" for n in range(count)
        )
    assert private_files(repo) == []
