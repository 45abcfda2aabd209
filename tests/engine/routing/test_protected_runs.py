"""Self-protection in real runs on real git repositories: a tool rewriting the project
profile's constraints and a CI workflow has its patch rejected, and a task whose policy allows
workflows lands that one; a tool given ``{files}`` named ``-rf`` and ``--help`` gets them as
files, not as options.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agentruns import PY, attempts, router, run
from gitrepos import git, make_repo

from core.engine.routing.templates import expand
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")

REWRITE_PROTECTED = (
    "import pathlib; "
    "pathlib.Path('.uet').mkdir(exist_ok=True); "
    "pathlib.Path('.uet/project_profile.json').write_text('{}'); "
    "pathlib.Path('.github/workflows').mkdir(parents=True, exist_ok=True); "
    "pathlib.Path('.github/workflows/ci.yml').write_text('on: push\\n')"
)
REWRITE_WORKFLOW = (
    "import pathlib; "
    "pathlib.Path('.github/workflows').mkdir(parents=True, exist_ok=True); "
    "pathlib.Path('.github/workflows/ci.yml').write_text('on: push\\n')"
)


def test_a_tool_rewriting_uets_files_and_ci_is_rejected_unless_allowed(
    ledger: Ledger, project: Path
) -> None:
    config = router(
        {
            "rewrites": {"argv": [PY, "-c", REWRITE_PROTECTED, "{prompt}"], "writes": True},
            "workflow": {"argv": [PY, "-c", REWRITE_WORKFLOW, "{prompt}"], "writes": True},
        }
    )
    refused = run(ledger, project, config, [{"task_id": "t", "tool": "rewrites"}])
    assert refused.state == "failed"
    (attempt,) = attempts(ledger, refused.run_id)
    error = attempt["error"] or ""
    assert error.startswith("patch rejected: ")
    assert ".github/workflows/ci.yml: protected path (matches .github/workflows/**" in error
    assert ".uet/project_profile.json: protected path (matches .uet/**" in error

    allowed = run(
        ledger,
        project,
        config,
        [
            {
                "task_id": "ci",
                "tool": "workflow",
                "patch_policy": {"allow_protected": [".github/workflows/**"]},
            }
        ],
    )
    assert allowed.state == "succeeded", allowed.reason
    assert git(project, "show", f"uet/{allowed.run_id}:.github/workflows/ci.yml") == "on: push"


def test_files_starting_with_a_dash_expand_as_paths() -> None:
    argv = ["tool", "--", "{files}", "{prompt}"]
    values = {"files": ["-rf", "--help", "src/-x.py", "/abs/-y"], "prompt": ["-p"]}
    assert expand(argv, values) == [
        "tool",
        "--",
        "./-rf",
        "./--help",
        "src/-x.py",
        "/abs/-y",
        " -p",
    ]


def test_a_prompt_or_feedback_starting_with_a_dash_is_never_an_option() -> None:
    """Feedback quotes the previous attempt: a file it named ``--dangerously-skip-permissions``
    must not reach the next attempt's CLI as that option."""
    argv = ["claude", "-p", "{prompt}", "{feedback}"]
    values = {
        "prompt": ["--model=evil"],
        "feedback": ["--dangerously-skip-permissions: outside the write scope"],
    }
    assert expand(argv, values) == [
        "claude",
        "-p",
        " --model=evil",
        " --dangerously-skip-permissions: outside the write scope",
    ]
    plain = {"prompt": ["Fix the bug"], "feedback": ["gate 'unit' failed"]}
    assert expand(argv, plain) == ["claude", "-p", "Fix the bug", "gate 'unit' failed"]


def test_files_starting_with_a_dash_reach_the_tool_as_files(ledger: Ledger, tmp_path: Path) -> None:
    """`ls -d {files}` in the copy of a real repository holding files named `-rf` and
    `--help`: without the `./` they would be ls's options (`--help` prints ls's help)."""
    repo = make_repo(tmp_path / "dashes", {"-rf": "x\n", "--help": "y\n", "README.md": "z\n"})
    config = router({"ls": {"argv": ["ls", "-d", "{files}"], "writes": True}})  # in the copy
    result = run(
        ledger,
        repo,
        config,
        [{"task_id": "t", "tool": "ls", "files": ["-rf", "--help", "README.md"]}],
    )
    assert result.state == "succeeded", result.reason
    (attempt,) = attempts(ledger, result.run_id)
    assert attempt["argv"] == ["ls", "-d", "./-rf", "./--help", "README.md"]
    stdout = Path(attempt["stdout_path"] or "").read_text()
    assert sorted(stdout.split()) == ["./--help", "./-rf", "README.md"]
