"""`uet init` at the command line: its exit codes and output (text and --json), bad input, and
what comes right after it: `uet gate run` and `uet run workstreams/starter.json` on the files it
wrote, with the real ruff and pytest of this virtualenv as the gates.

The CLI runs in-process (the `invoke` fixture, in tmp_path) except where a test is about what
a person sees from the real process (a traceback); projects are real git repositories.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from gitrepos import make_repo

from core.contracts import issues
from core.state import Ledger

Invoke = Callable[..., Result]

# A package whose code is ruff-clean and whose one test passes.
CALC = {
    "pyproject.toml": (
        '[project]\nname = "calc"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    ),
    "calc/__init__.py": '"""Calc."""\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n',
    "tests/test_calc.py": (
        "from calc import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n"
    ),
}


@pytest.fixture
def calc(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "calc", CALC)


@pytest.fixture
def venv_first_on_path(monkeypatch: pytest.MonkeyPatch, plain_subprocesses: None) -> None:
    """This virtualenv's ruff, pytest and python first on PATH, as in a project's own venv."""
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([venv_bin, os.environ["PATH"]]))


def test_json_prints_the_report_it_writes(invoke: Invoke, calc: Path) -> None:
    result = invoke("init", str(calc), "--no-versions", "--json")

    printed = json.loads(result.stdout)
    assert issues(printed, "bootstrap_report.v1") == []
    written = json.loads((calc / ".uet/bootstrap_report.json").read_text())
    assert issues(written, "bootstrap_report.v1") == []
    assert printed == written
    assert printed["root"] == str(calc.resolve())
    assert printed["selection"]["profile_id"] == "software-dev-python"
    assert result.exit_code == (0 if printed["status"] in ("ready", "partial") else 1)


def test_text_output_names_the_profile_the_files_and_what_to_do_next(
    invoke: Invoke, calc: Path
) -> None:
    result = invoke("init", str(calc), "--no-versions")

    assert result.exit_code == 0, result.output
    assert re.search(
        r"^profile: software-dev-python \(confidence (0\.9\d|1\.00)\)$", result.output, re.M
    )
    assert "  created        .uet/project_profile.json" in result.output
    assert "  created        workstreams/starter.json" in result.output
    assert "  fixed    gitignore: added to .gitignore: .ledger/, .worktrees/" in result.output
    assert "uet run workstreams/starter.json" in result.output
    assert "git: branch main, 1 commit(s), clean" in result.output


def test_root_defaults_to_the_current_directory(
    invoke: Invoke, calc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(calc)

    result = invoke("init", "--no-versions", "--json")

    assert json.loads(result.stdout)["root"] == str(calc.resolve())
    assert (calc / ".uet/project_profile.json").is_file()


def test_a_root_that_does_not_exist_is_exit_2_with_a_clear_message(
    invoke: Invoke, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"

    result = invoke("init", str(missing), "--no-versions")

    assert result.exit_code == 2
    assert f"cannot scan {missing}: no such directory; pass the folder of a project" in (
        result.output
    )
    assert not missing.exists()


def test_a_file_as_root_is_a_usage_error(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x\n")

    result = invoke("init", str(tmp_path / "notes.txt"), "--no-versions")

    assert result.exit_code == 2
    assert "is a file" in result.output


def test_an_unknown_profile_is_exit_2_with_a_suggestion(invoke: Invoke, calc: Path) -> None:
    result = invoke("init", str(calc), "--profile", "python", "--no-versions")

    assert result.exit_code == 2
    assert "unknown profile 'python' (did you mean 'software-dev-python'?" in result.output
    assert not (calc / ".uet").exists()


def test_profile_option_says_forced(invoke: Invoke, calc: Path) -> None:
    result = invoke("init", str(calc), "--profile", "generic", "--no-versions", "--json")

    report = json.loads(result.stdout)
    assert report["selection"]["profile_id"] == "generic"
    assert report["selection"]["forced"] is True
    assert report["selection"]["confidence"] == 1
    text = invoke("init", str(calc), "--profile", "generic", "--no-versions")
    assert "profile: generic (forced)" in text.output


def test_dry_run_says_would_write_and_writes_nothing(invoke: Invoke, calc: Path) -> None:
    result = invoke("init", str(calc), "--dry-run", "--no-versions")

    assert "would write:" in result.output
    assert "  created        .uet/router_config.json" in result.output
    assert not (calc / ".uet").exists()
    assert not (calc / "workstreams").exists()
    assert not (calc / ".gitignore").exists()


def test_a_hand_edit_is_exit_1_until_force(invoke: Invoke, calc: Path) -> None:
    assert invoke("init", str(calc), "--no-versions").exit_code == 0
    router = calc / ".uet/router_config.json"
    router.write_text(json.dumps({"schema_version": "router_config.v1", "tools": {}}) + "\n")
    edited = router.read_bytes()

    kept = invoke("init", str(calc), "--no-versions")

    assert kept.exit_code == 1
    assert "  would_change   .uet/router_config.json" in kept.output
    assert "status: needs_human" in kept.output
    assert "rerun `uet init --force` to replace them" in kept.output
    # what --force would change, as a diff of the user's file against init's
    assert ".uet/router_config.json: you edited it; --force would change it:" in kept.output
    assert "    --- router_config.json (yours)" in kept.output
    assert '    -{"schema_version": "router_config.v1", "tools": {}}' in kept.output
    assert router.read_bytes() == edited

    forced = invoke("init", str(calc), "--force", "--no-versions")

    assert forced.exit_code == 0
    assert "  updated        .uet/router_config.json" in forced.output
    assert router.read_bytes() != edited


def test_gate_run_passes_right_after_init(
    invoke: Invoke, calc: Path, ledger: Ledger, venv_first_on_path: None
) -> None:
    assert invoke("init", str(calc), "--no-versions").exit_code == 0
    gates = json.loads((calc / ".uet/project_profile.json").read_text())["gates"]
    assert set(gates) == {"lint", "unit"}  # mypy is not configured: no typecheck gate

    result = invoke("gate", "run", "--dir", str(calc))

    assert result.exit_code == 0, result.output
    assert "2 gate(s): all blocking gates passed" in result.output
    rows = ledger.list_gate_results(standalone=True)
    assert sorted((row["gate"], row["state"]) for row in rows) == [
        ("lint", "passed"),
        ("unit", "passed"),
    ]


def test_the_starter_bundle_runs_right_after_init(
    invoke: Invoke,
    calc: Path,
    ledger: Ledger,
    venv_first_on_path: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(calc)
    assert invoke("init", "--no-versions").exit_code == 0

    result = invoke("run", "workstreams/starter.json")

    assert result.exit_code == 0, result.output
    (run,) = ledger.list_runs()
    assert run["state"] == "succeeded"
    tasks = {task["task_id"]: task["state"] for task in ledger.list_tasks(run["run_id"])}
    assert tasks == {"gate-lint": "succeeded", "gate-unit": "succeeded"}


def test_a_make_test_target_becomes_a_gate_that_passes(
    invoke: Invoke, tmp_path: Path, plain_subprocesses: None
) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not on PATH")
    root = make_repo(
        tmp_path / "hello",
        {
            "go.mod": "module example.com/hello\n\ngo 1.22\n",
            "main.go": "package main\n\nfunc main() {}\n",
            "Makefile": "test:\n\t@echo tests pass\n",
        },
    )
    assert invoke("init", str(root), "--no-versions").exit_code == 0
    gates = json.loads((root / ".uet/project_profile.json").read_text())["gates"]
    assert gates["test"]["run"] == ["make", "test"]

    result = invoke("gate", "run", "--dir", str(root))

    assert result.exit_code == 0, result.output
    assert "1 gate(s): all blocking gates passed" in result.output


@pytest.mark.parametrize("blocker", ["workstreams", ".uet"])
def test_a_file_in_the_way_of_a_folder_is_reported_not_a_traceback(
    blocker: str, calc: Path, uet_process: Callable[..., subprocess.Popen[str]]
) -> None:
    (calc / blocker).write_text("not a folder\n")

    proc = uet_process("init", "--no-versions", cwd=calc)
    out, err = proc.communicate(timeout=60)

    assert "Traceback" not in err
    assert proc.returncode in (1, 2), (out, err)
    assert blocker in out + err
