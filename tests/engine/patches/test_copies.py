"""Where attempts' private copies live, what they share with the user's repository, and how
they go away, on real repositories made in tmp_path."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitrepos import checksum, git

from core.adapters.git import Git
from core.engine.patches.capture import capture
from core.engine.patches.copies import Copies, repo_key

RUN = "01J0000000000000000000RUN1"


def test_a_copy_lives_outside_the_checkout_and_shows_in_it_as_a_link(repo: Git, base: str) -> None:
    copies = Copies(repo, RUN)
    copy = copies.create(copies.path_for("fmt", 1), base)
    home = Path(os.environ["UET_WORKTREES"]).resolve()
    assert copy.path == home / repo_key(repo.repo) / RUN / "fmt-1"
    assert not copy.path.is_relative_to(repo.repo)
    link = repo.repo / ".worktrees" / RUN / "fmt-1"
    assert link.is_symlink()
    assert link.resolve() == copy.path
    assert (link / "README.md").read_text() == "hello\n"
    assert copy.admin.is_dir()
    assert copy.home.is_dir()
    assert not copy.admin.is_relative_to(copy.path), "UET's git directory is beside the copy"
    copies.remove(copy.path)
    assert not copy.path.exists()
    assert not copy.admin.exists()
    assert not copy.home.exists()
    assert not link.is_symlink()
    copies.prune()
    assert not (repo.repo / ".worktrees").exists()
    assert not copy.path.parent.exists()


def test_a_copy_is_a_repository_of_its_own(repo: Git, base: str) -> None:
    """Refs, config, hooks and commits made in the copy stay in the copy; the user's
    repository gets no worktree record, no ref, no object."""
    copies = Copies(repo, RUN)
    objects_before = git(repo.repo, "count-objects", "-v")
    copy = copies.create(copies.path_for("t", 1), base)
    before = checksum(repo.repo)  # with the link in .worktrees/, which a run hides from status
    assert git(copy.path, "rev-parse", "HEAD") == base
    assert git(copy.path, "status", "--porcelain") == "", "the copy's index matches its files"
    git(copy.path, "update-ref", "refs/heads/main", base)
    git(copy.path, "config", "core.sshCommand", "evil")
    (copy.path / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\nexit 1\n")
    (copy.path / "new.txt").write_text("new\n")
    git(copy.path, "add", "-A")
    git(copy.path, "commit", "-q", "--no-verify", "-m", "in the copy")
    assert checksum(repo.repo) == before
    assert git(repo.repo, "count-objects", "-v") == objects_before
    assert git(repo.repo, "worktree", "list").count("\n") == 0
    assert not (repo.common_dir() / "worktrees").exists()
    copies.remove(copy.path)


def test_what_the_tool_does_to_uets_git_directory_is_undone_before_reading(
    repo: Git, base: str
) -> None:
    """Without a sandbox a tool can reach UET's git directory beside its copy: a planted
    config (an fsmonitor command), index or object must not change what UET reads back."""
    copies = Copies(repo, RUN)
    copy = copies.create(copies.path_for("t", 1), base)
    (copy.path / "README.md").write_text("changed\n")
    marker = copy.path.parent / "fsmonitor-ran"
    (copy.admin / "config").write_text(f"[core]\n\tfsmonitor = touch {marker}\n")
    (copy.admin / "index").write_bytes(b"garbage")
    copy.restore_admin()
    patch = capture(repo, copy.path, copy.admin, base)
    assert patch is not None
    assert [f["path"] for f in patch.files] == ["README.md"]
    assert not marker.exists()
    copies.remove(copy.path)


def test_a_shallow_repository_gives_working_copies(tmp_path: Path, repo: Git, base: str) -> None:
    from core.adapters.git import open_repository

    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo.repo}", str(shallow))
    user = open_repository(shallow)
    copies = Copies(user, RUN)
    copy = copies.create(copies.path_for("t", 1), base)
    assert git(copy.path, "log", "--format=%H") == base
    copies.remove(copy.path)


def test_many_copies_made_and_removed_at_once(repo: Git, base: str) -> None:
    before = checksum(repo.repo)
    copies = Copies(repo, "01J0000000000000000000RUN2")

    def cycle(number: int) -> str:
        copy = copies.create(copies.path_for(f"t{number}", 1), base)
        content = (copy.path / "README.md").read_text()
        copies.remove(copy.path)
        return content

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(cycle, range(40))) == ["hello\n"] * 40
    copies.prune()
    assert copies.live() == frozenset()
    assert checksum(repo.repo) == before


def test_a_same_size_edit_right_after_the_copy_is_made_is_seen(repo: Git, base: str) -> None:
    """An edit that keeps a file's size, made within the same clock tick as the checkout,
    leaves its stat data as the index recorded it; git looks at the content only while the
    index is no newer than the entry ("racy" entries), so putting UET's git directory back
    must keep the index's own time."""
    copies = Copies(repo, RUN)
    for tampered in (False, True):
        copy = copies.create(copies.path_for("t", int(tampered)), base)
        (copy.path / "README.md").write_text("HELLO\n")  # same size as "hello\n"
        if tampered:
            (copy.admin / "index").write_bytes(b"garbage")
        copy.restore_admin()
        patch = capture(repo, copy.path, copy.admin, base)
        assert patch is not None
        assert [f["path"] for f in patch.files] == ["README.md"]
        copies.remove(copy.path)


def test_a_sha256_repository_gives_working_copies(tmp_path: Path) -> None:
    from core.adapters.git import open_repository

    project = tmp_path / "sha256"
    project.mkdir()
    git(project, "init", "-q", "--object-format=sha256", "-b", "main")
    (project / "README.md").write_text("hello\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "initial")
    user = open_repository(project)
    head = git(project, "rev-parse", "HEAD")
    assert len(head) == 64
    copies = Copies(user, RUN)
    copy = copies.create(copies.path_for("t", 1), head)
    assert git(copy.path, "rev-parse", "HEAD") == head
    (copy.path / "README.md").write_text("changed\n")
    copy.restore_admin()
    patch = capture(user, copy.path, copy.admin, head)
    assert patch is not None
    assert [f["path"] for f in patch.files] == ["README.md"]
    copies.remove(copy.path)
