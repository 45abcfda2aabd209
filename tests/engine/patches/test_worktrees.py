"""Where attempt worktrees live and how they go away, on real repositories made in tmp_path."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitrepos import checksum

from core.adapters.git import Git
from core.engine.patches.worktrees import Worktrees, admin_dir, repo_key


def test_a_worktree_lives_outside_the_checkout_and_shows_in_it_as_a_link(
    repo: Git, base: str
) -> None:
    worktrees = Worktrees(repo, "01J0000000000000000000RUN1")
    path = worktrees.create(worktrees.path_for("fmt", 1), base)
    home = Path(os.environ["UET_WORKTREES"]).resolve()
    assert path == home / repo_key(repo.repo) / "01J0000000000000000000RUN1" / "fmt-1"
    assert not path.is_relative_to(repo.repo)
    link = repo.repo / ".worktrees" / "01J0000000000000000000RUN1" / "fmt-1"
    assert link.is_symlink()
    assert link.resolve() == path
    assert (link / "README.md").read_text() == "hello\n"
    admin = admin_dir(path)
    assert admin is not None
    assert admin.is_dir()
    worktrees.remove(path, admin)
    assert not path.exists()
    assert not link.is_symlink()
    assert not admin.exists(), "git's record goes with it"
    worktrees.prune()
    assert not (repo.repo / ".worktrees").exists()
    assert not path.parent.exists()


def test_many_worktrees_made_and_removed_at_once(repo: Git, base: str) -> None:
    """Attempts run in parallel threads; `git worktree add` reads the records the others are
    writing, which must not make any of them fail."""
    before = checksum(repo.repo)
    worktrees = Worktrees(repo, "01J0000000000000000000RUN2")

    def cycle(number: int) -> str:
        path = worktrees.create(worktrees.path_for(f"t{number}", 1), base)
        admin = admin_dir(path)
        content = (path / "README.md").read_text()
        worktrees.remove(path, admin)
        return content

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(cycle, range(40))) == ["hello\n"] * 40
    worktrees.prune()
    assert repo.text("worktree", "list").count("\n") == 0, "only the main checkout is left"
    assert worktrees.live() == frozenset()
    assert checksum(repo.repo) == before
