"""Real git repositories for the patch tests: made in tmp_path with the real `git`, opened with
`open_repository`, with private copies made by UET's own `Copies`.

Fixtures:

- ``repo``: a repository with a few committed files (``BASE_FILES``), as a ``Git``;
- ``base``: the commit ``repo``'s HEAD points at;
- ``commit_all``: ``commit_all(git, message, cwd=None) -> sha`` stages everything and commits
  (in the main checkout, or in a worktree when ``cwd`` names one);
- ``new_worktree``: ``new_worktree(commit=None) -> Path``, a fresh private copy at
  ``commit`` (the base by default), as a writing attempt gets one.

A developer's global git configuration is kept out (``GIT_CONFIG_GLOBAL`` points at an empty
file) so settings such as ``diff.noprefix`` or ``core.autocrlf`` cannot change what is tested.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import gitrepos
import pytest

from core.adapters.git import Git, open_repository
from core.engine.patches.copies import Copies, exclude_from_status

APP_LINES = [f"line {number}" for number in range(1, 21)]
BASE_FILES: dict[str, str] = {
    ".gitignore": "*.log\nbuild/\n",
    "README.md": "hello\n",
    "src/app.py": "\n".join(APP_LINES) + "\n",
    "docs/readme.md": "the docs\n",
    "tests/test_app.py": "def test_app():\n    assert True\n",
}
RUN_ID = "01J0000000000000000000RUN0"
CommitAll = Callable[..., str]
NewWorktree = Callable[..., Path]


def _commit_all(git: Git, message: str, cwd: Path | None = None) -> str:
    return gitrepos.commit_all(cwd or git.repo, message)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Git:
    """A repository with ``BASE_FILES`` committed on ``main``."""
    empty_config = tmp_path / "gitconfig"
    empty_config.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty_config))
    return open_repository(gitrepos.make_repo(tmp_path / "project", BASE_FILES))


@pytest.fixture
def base(repo: Git) -> str:
    head = repo.rev_parse("HEAD")
    assert head is not None
    return head


@pytest.fixture
def commit_all() -> CommitAll:
    return _commit_all


@pytest.fixture
def new_worktree(repo: Git, base: str) -> NewWorktree:
    """Make fresh private copies the way a writing attempt gets one (``Copies.create``)."""
    copies = Copies(repo, RUN_ID)
    exclude_from_status(repo.common_dir(), repo.repo, [copies.links.parent])
    numbers = itertools.count(1)

    def make(commit: str | None = None, task_id: str = "task") -> Path:
        return copies.create(copies.path_for(task_id, next(numbers)), commit or base).path

    return make
