"""`uet doctor` and `sandbox: required`: the isolation level in force, said plainly, and a
run that requires a sandbox this machine cannot give refused before anything is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from core.engine.execution import sandbox
from tests.conftest import require_sandbox

Invoke = Callable[..., Result]


def test_doctor_names_the_level_and_why(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UET_SANDBOX", "off")
    result = invoke("doctor", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mode"] == "off"
    assert report["isolation"] == "processes"
    assert report["reason"] == "the sandbox is turned off (sandbox: off)"
    assert report["descendants"].startswith("killed through a child subreaper")


def test_doctor_in_the_sandbox(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    require_sandbox()
    monkeypatch.setenv("UET_SANDBOX", "auto")
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "isolation:   bubblewrap (sandbox mode auto)" in result.output
    assert "own PID namespace" in result.output


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine without bubblewrap: PATH holds git and python only."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    import shutil
    import sys

    for name, target in (("git", shutil.which("git")), ("python", sys.executable)):
        assert target is not None
        (bin_dir / name).symlink_to(target)
    monkeypatch.setenv("PATH", str(bin_dir))
    sandbox._detect.cache_clear()
    yield
    sandbox._detect.cache_clear()


def test_required_without_a_sandbox_exits_2_and_says_how_to_install(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, no_bwrap: None
) -> None:
    monkeypatch.setenv("UET_SANDBOX", "required")
    result = invoke("doctor")
    assert result.exit_code == 2
    assert "bwrap is not on PATH" in result.output
    assert "apt-get install bubblewrap" in result.output


def test_a_run_that_requires_the_sandbox_is_refused_before_anything_is_written(
    invoke: Invoke,
    write_bundle: Callable[..., Path],
    tmp_path: Path,
    no_bwrap: None,
    ledger_url: str,
) -> None:
    router = tmp_path / "router.json"
    document: dict[str, Any] = {
        "schema_version": "router_config.v1",
        "sandbox": "required",
        "tools": {"echo": {"argv": ["python", "-c", "print(1)"]}},
    }
    router.write_text(json.dumps(document))
    bundle = write_bundle([{"task_id": "t", "tool": "echo", "prompt": "x"}])
    result = invoke("run", str(bundle), "--router", str(router))
    assert result.exit_code == 2, result.output
    assert "the sandbox is required but unavailable: bwrap is not on PATH" in result.output
    assert not Path(ledger_url.removeprefix("sqlite:///")).exists(), "nothing is written"


def test_a_project_profile_that_requires_the_sandbox_refuses_a_writing_run(
    invoke: Invoke, write_bundle: Callable[..., Path], tmp_path: Path, no_bwrap: None
) -> None:
    from gitrepos import make_repo

    repo = make_repo(tmp_path / "project", {"README.md": "hello\n"})
    profile = {
        "schema_version": "project_profile.v1",
        "project_name": "p",
        "profile_id": "generic",
        "domain": "generic",
        "gates": {},
        "sandbox": "required",
    }
    (repo / ".uet").mkdir()
    (repo / ".uet" / "project_profile.json").write_text(json.dumps(profile))
    bundle = write_bundle([{"task_id": "t", "writes": True, "run": ["true"]}])
    result = invoke("run", str(bundle), "--repo", str(repo))
    assert result.exit_code == 2, result.output
    assert "the sandbox is required but unavailable" in result.output


def test_an_unknown_sandbox_mode_is_a_clear_error(
    invoke: Invoke, write_bundle: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UET_SANDBOX", "bogus")
    for args in (("doctor",), ("run", str(write_bundle([{"task_id": "t", "run": ["true"]}])))):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "unknown sandbox mode 'bogus' (from UET_SANDBOX or a config)" in result.output


def test_a_writable_path_that_opens_the_checkout_is_refused(
    invoke: Invoke, write_bundle: Callable[..., Path], tmp_path: Path, ledger_url: str
) -> None:
    from gitrepos import make_repo

    repo = make_repo(tmp_path / "project", {"README.md": "hello\n"})
    router = tmp_path / "router.json"
    for writable in (str(repo / "src"), str(tmp_path)):
        document = {
            "schema_version": "router_config.v1",
            "sandbox": {"mode": "auto", "writable": [writable]},
            "tools": {"t": {"argv": ["true", "{prompt}"], "writes": True}},
        }
        router.write_text(json.dumps(document))
        bundle = write_bundle([{"task_id": "t", "tool": "t", "prompt": "x"}])
        result = invoke("run", str(bundle), "--router", str(router), "--repo", str(repo))
        assert result.exit_code == 2, result.output
        assert "tools would write into your checkout" in result.output
        assert not Path(ledger_url.removeprefix("sqlite:///")).exists(), "nothing is written"
