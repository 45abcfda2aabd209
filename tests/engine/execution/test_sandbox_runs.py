"""Tasks that do not write, run as a person would run them in their checkout, on each
isolation level: tools that keep caches beside the code (ruff, mypy, pytest, Python's
bytecode) still work and leave the checkout as it was; in the sandbox a write into the
checkout fails."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from gitrepos import checksum, make_repo

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.runs import run_bundle
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "project",
        {
            "pkg/__init__.py": "",
            "pkg/calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": "from pkg.calc import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
        },
    )


def run(ledger: Ledger, repo: Path, tasks: list[dict[str, Any]]) -> RunResult:
    document = {"schema_version": "workstream_spec.v1", "workstream_id": "ws", "tasks": tasks}
    options = RunOptions(parallel=2, repo=repo, handle_signals=False)
    bundle = check_bundle(json.loads(json.dumps(document)), base_dir=repo)
    return run_bundle(ledger, bundle, options)


@pytest.mark.skipif(RUFF is None, reason="ruff is a dev dependency of UET")
def test_linters_and_tests_run_on_the_checkout_and_leave_it_as_it_was(
    ledger: Ledger, repo: Path, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    before = checksum(repo)
    result = run(
        ledger,
        repo,
        [
            {"task_id": "lint", "run": [str(RUFF), "check", "--no-fix", "."], "cwd": str(repo)},
            {"task_id": "unit", "run": [PY, "-m", "pytest", "-q"], "cwd": str(repo)},
        ],
    )
    assert result.state == "succeeded", result.reason
    assert checksum(repo) == before
    left = sorted(p.name for p in repo.rglob("*") if p.name.endswith("cache") or p.suffix == ".pyc")
    assert left == [], "caches go to the attempt's private HOME"


def test_a_read_task_cannot_write_into_the_checkout_in_the_sandbox(
    ledger: Ledger, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import require_sandbox

    require_sandbox()
    monkeypatch.setenv("UET_SANDBOX", "required")
    before = checksum(repo)
    code = "import pathlib; pathlib.Path('pkg/calc.py').write_text('broken')"
    result = run(ledger, repo, [{"task_id": "sneaky", "run": [PY, "-c", code], "cwd": str(repo)}])
    assert result.state == "failed"
    (task,) = ledger.list_tasks(result.run_id)
    assert "Read-only file system" in (task["state_reason"] or "")
    assert checksum(repo) == before


@pytest.mark.parametrize(("home", "expected"), [("private", "attempt"), ("user", "user")])
def test_a_tool_sees_a_private_home_in_the_sandbox_unless_it_asks_for_the_users(
    ledger: Ledger, repo: Path, monkeypatch: pytest.MonkeyPatch, home: str, expected: str
) -> None:
    """A CLI that keeps its login in the user's home (``"home": "user"``) finds it there,
    read-only; any other tool's HOME is its attempt's own folder."""
    from core.engine.routing.config import check_router
    from tests.conftest import require_sandbox

    require_sandbox()
    monkeypatch.setenv("UET_SANDBOX", "required")
    code = "import os, sys; print(os.environ['HOME']); print(os.access(os.environ['HOME'], 2))"
    router = check_router(
        {
            "schema_version": "router_config.v1",
            "tools": {"probe": {"argv": [PY, "-c", code, "{prompt}"], "home": home}},
        }
    )
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "t", "tool": "probe", "prompt": "where is home?"}],
    }
    bundle = check_bundle(document, router=router)
    result = run_bundle(ledger, bundle, RunOptions(repo=repo, handle_signals=False))
    assert result.state == "succeeded", result.reason
    (attempt,) = ledger.list_attempts(result.run_id)
    seen, writable = Path(attempt["stdout_path"] or "").read_text().split()
    if expected == "user":
        assert seen == str(Path.home())
        assert writable == "False", "the user's home is read-only in the sandbox"
    else:
        assert seen.endswith(attempt["attempt_id"])
        assert writable == "True"
