"""Fixtures for runs of routed tool tasks (tests/engine/routing/test_*_runs.py).

- ``fake_agents``: the fake ``claude``, ``codex`` and ``aider`` of tests/agents first on PATH
  (and this interpreter's folder, so their ``#!/usr/bin/env python3`` starts quickly), as the
  real CLIs would be on a developer's machine;
- ``project``: the user's repository, made in tmp_path with the real ``git``; its checksum
  (working tree, HEAD, branch, config, hooks) must be the same after the test as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitrepos import checksum, make_repo

PROJECT_FILES = {
    "README.md": "hello\n",
    "notes.txt": "draft\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    repo = make_repo(tmp_path / "project", PROJECT_FILES)
    before = checksum(repo)
    yield repo
    assert checksum(repo) == before, "the run changed the user's checkout"
