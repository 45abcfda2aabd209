"""Codemods that exit non-zero on success: ``ruff check --fix`` exits 1 when issues it cannot
fix remain, yet its fixes are good. A task or a router tool lists the exit codes that count
as success (``ok_exit_codes``); anything else still fails."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from gitrepos import git, make_repo

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions
from core.engine.routing.config import check_router
from core.engine.runs import run_bundle
from core.errors import DocumentInvalid
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable
# Fixes a file, then exits 1 as a linter does when some issues remain.
FIX_THEN_EXIT_1 = [
    PY,
    "-c",
    "import pathlib, sys; pathlib.Path('app.py').write_text('VALUE = 2\\n'); sys.exit(1)",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"app.py": "VALUE=2\n"})


def bundle(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "fix", "writes": True, **task}],
    }


@pytest.mark.parametrize(("ok", "state"), [(None, "failed"), ([0, 1], "succeeded")])
def test_a_task_says_which_exit_codes_are_success(
    ledger: Ledger, repo: Path, ok: list[int] | None, state: str
) -> None:
    task: dict[str, Any] = {"run": FIX_THEN_EXIT_1}
    if ok is not None:
        task["ok_exit_codes"] = ok
    result = run_bundle(
        ledger, check_bundle(bundle(task)), RunOptions(repo=repo, handle_signals=False)
    )
    assert result.state == state, result.reason
    if state == "succeeded":
        assert git(repo, "show", f"uet/{result.run_id}:app.py") == "VALUE = 2"
    else:
        (row,) = ledger.list_tasks(result.run_id)
        assert (row["state_reason"] or "").startswith("exited with code 1")


def test_a_router_tool_says_which_exit_codes_are_success(ledger: Ledger, repo: Path) -> None:
    router = check_router(
        {
            "schema_version": "router_config.v1",
            "tools": {"fixer": {"argv": FIX_THEN_EXIT_1, "writes": True, "ok_exit_codes": [0, 1]}},
        }
    )
    document = bundle({"tool": "fixer", "prompt": "fix it"})
    result = run_bundle(
        ledger,
        check_bundle(json.loads(json.dumps(document)), router=router),
        RunOptions(repo=repo, handle_signals=False),
    )
    assert result.state == "succeeded", result.reason


def test_an_empty_list_of_exit_codes_is_refused() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        check_bundle(bundle({"run": ["true"], "ok_exit_codes": []}))
    assert "$.tasks[0].ok_exit_codes" in str(caught.value)


def test_a_failed_tool_says_its_last_lines_of_output_and_where_its_log_is(
    ledger: Ledger, repo: Path
) -> None:
    """The reason of a failed codemod is enough to act on: its last three lines of stderr
    (the earlier ones, and stdout, stay in the log it names)."""
    noisy = (
        "import sys\n"
        "print('progress on stdout')\n"
        "for n in range(1, 40): print(f'checked file {n}', file=sys.stderr)\n"
        "print('app.py:1: E225 missing whitespace', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    result = run_bundle(
        ledger,
        check_bundle(bundle({"run": [PY, "-c", noisy]})),
        RunOptions(repo=repo, handle_signals=False),
    )
    assert result.state == "failed"
    (row,) = ledger.list_tasks(result.run_id)
    log = ledger.artifacts_dir / "logs" / result.run_id / "fix.1.stderr.log"
    assert row["state_reason"] == (
        "exited with code 3: checked file 38 | checked file 39 | "
        f"app.py:1: E225 missing whitespace (log: {log})"
    )
    assert log.read_text().startswith("checked file 1\n")
