"""Shared fixtures: real SQLite ledgers in tmp_path, bundle files, and the real `uet` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from core.cli import cli
from core.state import Ledger, open_ledger

AGENTS = Path(__file__).resolve().parent / "agents"  # fake claude, codex and aider CLIs

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _worktrees_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing attempts make their worktrees in tmp_path, never in the user's ~/.cache."""
    monkeypatch.setenv("UET_WORKTREES", str(tmp_path / "uet-worktrees"))


@pytest.fixture(autouse=True)
def _processes_only_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to their tools through files in tmp_path, which the sandbox's private /tmp
    hides: they run at the processes-only level unless they ask for the sandbox (the
    ``isolation`` and ``level`` fixtures, ``require_sandbox``, or ``UET_SANDBOX=auto``).
    ``UET_TEST_SANDBOX=auto`` runs every test in the sandbox where it can, to see which
    tests depend on writing outside their attempts."""
    monkeypatch.setenv("UET_SANDBOX", os.environ.get("UET_TEST_SANDBOX", "off"))


@pytest.fixture
def plain_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests whose subprocesses (tools, gates, tiny pytest projects) run no UET code: they
    inherit neither coverage.py's subprocess measurement nor pytest's plugin autoloading,
    which only make each one start several times slower."""
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def fake_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake agent CLIs of tests/agents first on PATH, as the real ones would be, acting
    only as each test says (no FAKE_AGENT_* variable inherited)."""
    path = os.pathsep.join([str(AGENTS), str(Path(sys.executable).parent), os.environ["PATH"]])
    monkeypatch.setenv("PATH", path)
    for name in list(os.environ):
        if name.startswith("FAKE_AGENT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger' / 'framework.db'}"


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = open_ledger(ledger_url)
    yield opened
    opened.close()


@pytest.fixture
def write_bundle(tmp_path: Path) -> Callable[..., Path]:
    """Write a bundle (a dict, or a list of tasks for a one-workstream bundle) to a file."""
    counter = iter(range(1_000_000))

    def write(content: Any, name: str | None = None, **workstream: Any) -> Path:
        if isinstance(content, list) and all("task_id" in item for item in content):
            content = {
                "schema_version": "workstream_spec.v1",
                "workstream_id": workstream.pop("workstream_id", "ws"),
                "tasks": content,
                **workstream,
            }
        path = tmp_path / (name or f"bundle-{next(counter)}.json")
        path.write_text(json.dumps(content, indent=2), encoding="utf-8")
        return path

    return write


@pytest.fixture
def invoke(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run a `uet` command in-process (click's runner) against the test ledger."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, **kwargs: Any) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--ledger", ledger_url, *args], catch_exceptions=False, **kwargs)

    return run


def uet_command(*args: str) -> list[str]:
    """argv that runs the real `uet` entry point with this interpreter."""
    return [sys.executable, "-c", "from core.cli import main; main()", *args]


@pytest.fixture
def uet_process(ledger_url: str, tmp_path: Path) -> Callable[..., subprocess.Popen[str]]:
    """Start `uet ...` as a real subprocess (its own process, killable) on the test ledger."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
        env = {**os.environ, "UET_LEDGER": ledger_url, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            uet_command(*args),
            cwd=kwargs.pop("cwd", tmp_path),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )
        started.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def require_sandbox() -> Any:
    """The bubblewrap isolation of this machine; a test that needs it skips only outside CI
    (CI installs bubblewrap, so there a missing sandbox fails the test instead)."""
    from core.engine.execution.sandbox import detect

    isolation = detect("required")
    if not isolation.sandboxed:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the sandboxed path: {isolation.reason}")
        pytest.skip(f"no sandbox here: {isolation.reason}")
    return isolation


@pytest.fixture(params=["bubblewrap", "processes"])
def isolation(request: pytest.FixtureRequest) -> Any:
    """Each isolation level in turn: the sandbox (where it can run), then processes only."""
    from core.engine.execution.sandbox import detect

    return require_sandbox() if request.param == "bubblewrap" else detect("off")


@pytest.fixture(params=["bubblewrap", "processes"])
def level(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each isolation level in turn for whole runs: the sandbox where it runs (required in
    CI, and by the run itself through UET_SANDBOX), then processes only."""
    if request.param == "bubblewrap":
        require_sandbox()
        monkeypatch.setenv("UET_SANDBOX", "required")
    else:
        monkeypatch.setenv("UET_SANDBOX", "off")
    return str(request.param)
