"""Which ledger a command uses: --ledger, then $UET_LEDGER, then .ledger/framework.db."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidLedgerURL
from core.state.urls import parse, project_root, resolve


def test_sqlite_urls_relative_and_absolute(tmp_path: Path) -> None:
    assert parse("sqlite:///rel/x.db", base=tmp_path).path == tmp_path / "rel" / "x.db"
    assert parse("sqlite:////abs/x.db").path == Path("/abs/x.db")
    assert parse("plain.db", base=tmp_path).path == tmp_path / "plain.db"


@pytest.mark.parametrize("bad", ["mysql://x", "sqlite://", "sqlite:///", ""])
def test_bad_urls_are_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidLedgerURL):
        parse(bad)


def test_default_is_under_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    monkeypatch.delenv("UET_LEDGER", raising=False)
    assert project_root(nested) == tmp_path.resolve()
    assert resolve(cwd=nested).path == tmp_path.resolve() / ".ledger" / "framework.db"


def test_environment_then_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UET_LEDGER", f"sqlite:///{tmp_path / 'env.db'}")
    assert resolve().path == (tmp_path / "env.db").resolve()
    assert resolve(f"sqlite:///{tmp_path / 'flag.db'}").path == (tmp_path / "flag.db").resolve()
