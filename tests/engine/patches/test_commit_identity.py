"""Who a landed commit belongs to: the user's configured identity authors it, UET commits it
(``UET_COMMIT_AUTHOR=uet`` keeps UET as the author too; a repository without an identity
gets UET's)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from gitrepos import git, make_repo

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions
from core.engine.runs import run_bundle
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable


def land_one(ledger: Ledger, repo: Path) -> tuple[str, str]:
    code = "import pathlib; pathlib.Path('a.txt').write_text('changed\\n')"
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "t", "writes": True, "run": [PY, "-c", code]}],
    }
    options = RunOptions(repo=repo, handle_signals=False)
    result = run_bundle(ledger, check_bundle(json.loads(json.dumps(document))), options)
    assert result.state == "succeeded", result.reason
    branch = f"uet/{result.run_id}"
    return (
        git(repo, "log", "-1", "--format=%an <%ae>", branch),
        git(repo, "log", "-1", "--format=%cn <%ce>", branch),
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    return make_repo(tmp_path / "project", {"a.txt": "a\n"})


def test_the_users_identity_authors_and_uet_commits(ledger: Ledger, repo: Path) -> None:
    git(repo, "config", "user.name", "Ada Lovelace")
    git(repo, "config", "user.email", "ada@example.invalid")
    assert land_one(ledger, repo) == ("Ada Lovelace <ada@example.invalid>", "UET <uet@localhost>")


def test_uet_authors_when_asked_or_when_the_user_has_no_identity(
    ledger: Ledger, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert land_one(ledger, repo) == ("UET <uet@localhost>", "UET <uet@localhost>")
    git(repo, "config", "user.name", "Ada Lovelace")
    git(repo, "config", "user.email", "ada@example.invalid")
    monkeypatch.setenv("UET_COMMIT_AUTHOR", "uet")
    assert land_one(ledger, repo) == ("UET <uet@localhost>", "UET <uet@localhost>")
