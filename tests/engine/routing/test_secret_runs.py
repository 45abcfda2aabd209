"""Secrets in UET's environment reach the tools but never the ledger: after real runs whose
tools print the secret to stdout and stderr and fail with it in their error, no file under
the ledger folder (the SQLite database and its WAL, attempt logs, gate logs, patch diffs) holds
the secret's bytes. Real git repositories in tmp_path, a real SQLite ledger, real subprocesses.

The agent tools are the fake CLIs of tests/agents: they print exactly the real CLIs' output
formats, because the real CLIs and the LLMs behind them cannot be reached here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from agentruns import (
    PASSING_GATE,
    PY,
    attempts,
    bundle,
    claude,
    codex,
    edits,
    options,
    router,
    run,
    task_states,
)
from gitrepos import git, make_repo
from leaks import assert_no_secret_stored

from core.engine.runs import create_run, execute_run
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses", "fake_agents")
SECRET = "sk-very-secret-123456"  # noqa: S105 - a made-up value whose leaks the tests look for
MASK = "[redacted:DEMO_API_KEY]"


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_API_KEY", SECRET)


def files_holding_the_secret(ledger: Ledger) -> list[str]:
    """Every file under the ledger's folder whose bytes contain the secret."""
    folder = Path(ledger.location).parent
    assert (folder / "framework.db").is_file()
    return [
        str(path.relative_to(folder))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and SECRET.encode() in path.read_bytes()
    ]


def ledger_files(ledger: Ledger) -> list[str]:
    folder = Path(ledger.location).parent
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


LEAK_AND_FAIL = (
    "import os, sys; key = os.environ['DEMO_API_KEY']; "
    "print('using key', key); print('stderr key', key, file=sys.stderr); "
    "sys.exit('401 Unauthorized: invalid api key ' + key)"
)


def test_secrets_reach_the_tools_but_no_file_of_the_ledger(
    ledger: Ledger, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake claude and codex print the variable named by FAKE_AGENT_ECHO_ENV to stdout
    and stderr, in exactly the real CLIs' output formats otherwise (the real CLIs cannot be
    reached here)."""
    config = router(
        {
            "claude": claude(),
            "codex": codex(),
            # A plain command tool that prints the key and fails with it in its error; its
            # second attempt gets the first one's error as {feedback}.
            "leaky": {"argv": [PY, "-c", LEAK_AND_FAIL, "{prompt}", "{feedback}"]},
        }
    )
    echo = {"FAKE_AGENT_ECHO_ENV": "DEMO_API_KEY"}
    landed = run(
        ledger,
        project,
        config,
        [
            {
                "task_id": "writes",
                "tool": "claude",
                "env": {**echo, **edits(**{"notes.txt": "done\n"})},
                "gates": ["ok"],
            },
            {"task_id": "reads", "tool": "codex", "writes": False, "env": echo},
        ],
        gates={"ok": PASSING_GATE},
    )
    assert landed.state == "succeeded", landed.reason
    failed = run(
        ledger,
        project,
        config,
        [{"task_id": "leaks", "tool": "leaky", "max_attempts": 2, "retry": {"backoff_seconds": 0}}],
    )
    assert task_states(ledger, failed.run_id) == {"leaks": "failed"}
    # The agents' own failure reports carry the secret too (in their JSON output).
    monkeypatch.setenv("FAKE_AGENT_FAIL", f"invalid x-api-key {SECRET}")
    reported = run(
        ledger,
        project,
        config,
        [
            {"task_id": "c", "tool": "claude", "env": echo},
            {"task_id": "x", "tool": "codex", "env": echo},
        ],
        error_handling={"on_task_failure": "continue"},
    )
    assert task_states(ledger, reported.run_id) == {"c": "failed", "x": "failed"}

    assert files_holding_the_secret(ledger) == []
    names = ledger_files(ledger)
    assert "framework.db" in names
    assert any(name.endswith(".stdout.log") for name in names)
    assert any(name.endswith(".stderr.log") for name in names)
    assert any(name.startswith("patches/") for name in names)

    # The tools did get the value: what they printed is there, the value masked.
    logs = ledger.artifacts_dir / "logs"
    for run_id, stem in ((landed.run_id, "writes.1"), (landed.run_id, "reads.1")):
        for stream in ("stdout", "stderr"):
            text = (logs / run_id / f"{stem}.{stream}.log").read_text()
            assert f"DEMO_API_KEY={MASK}" in text, (stem, stream, text)
    first, second = attempts(ledger, failed.run_id)
    # The error ends with the tool's last lines of stderr, each masked, and where its log is.
    assert first["error"].startswith(f"exited with code 1: stderr key {MASK} | ")
    assert f"401 Unauthorized: invalid api key {MASK} (log: " in first["error"]
    assert second["argv"] is not None
    assert second["argv"][-1] == first["error"], "the feedback given to the retry is masked"
    claude_out = (logs / reported.run_id / "c.1.stdout.log").read_text()
    assert f"invalid x-api-key {MASK}" in claude_out
    # The project repository's branch has the work, and nothing of the secret either.
    branch = f"uet/{landed.run_id}"
    assert git(project, "show", f"{branch}:notes.txt") == "done"
    assert SECRET not in git(project, "log", "-p", branch)


def test_the_secret_in_a_plain_command_tasks_output_and_error_is_masked(
    ledger: Ledger, tmp_path: Path
) -> None:
    """No routing, no repository: a `run` task printing and failing with the secret."""
    opts = options(None)
    tasks = [{"task_id": "plain", "run": [PY, "-c", LEAK_AND_FAIL]}]
    run_id = create_run(ledger, bundle(None, tasks), opts, workdir=tmp_path)
    result = execute_run(ledger, run_id, opts)
    assert result.state == "failed"
    (attempt,) = attempts(ledger, run_id)
    assert MASK in (attempt["error"] or "")
    assert files_holding_the_secret(ledger) == []


def test_a_passing_gates_log_holds_no_secret(ledger: Ledger, project: Path) -> None:
    """A gate that passes but prints the secret: its log is masked too, not only the logs of
    gates that fail. The fake claude prints exactly the real CLI's output format (the real
    CLI cannot be reached here)."""
    gate = {"run": [PY, "-c", "import os; print('gate sees', os.environ['DEMO_API_KEY'])"]}
    result = run(
        ledger,
        project,
        router({"claude": claude()}),
        [{"task_id": "t", "tool": "claude", "env": edits(a="a\n"), "gates": ["echo"]}],
        gates={"echo": {**gate, "type": "custom"}},
    )
    assert result.state == "succeeded", result.reason
    (log,) = (ledger.artifacts_dir / "logs" / result.run_id).rglob("echo.log")
    assert f"gate sees {MASK}" in log.read_text(), "the gate did get the value"
    assert files_holding_the_secret(ledger) == []


def failing_unit_gate_run(ledger: Ledger, tmp_path: Path) -> str:
    """A run whose pytest gate fails with the secret in its assertion message."""
    repo = make_repo(
        tmp_path / "tested",
        {
            "test_key.py": "import os\n\n\ndef test_key():\n"
            "    assert os.environ['DEMO_API_KEY'] == 'expected'\n",
        },
    )
    unit = {"run": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]}
    result = run(
        ledger,
        repo,
        router({"claude": claude()}),
        [{"task_id": "t", "tool": "claude", "env": edits(a="a\n"), "gates": ["unit"]}],
        gates={"unit": {**unit, "type": "unit"}},
    )
    assert result.state == "failed"
    (attempt,) = attempts(ledger, result.run_id)
    assert MASK in (attempt["feedback"] or ""), "the feedback is masked"
    assert SECRET not in (attempt["feedback"] or "")
    return result.run_id


def test_a_failing_gates_parsed_failures_hold_no_secret(ledger: Ledger, tmp_path: Path) -> None:
    """The failures read from a failing pytest gate (its assertion message holds the secret)
    are stored masked in the database. The fake claude prints exactly the real CLI's output
    format (the real CLI cannot be reached here)."""
    run_id = failing_unit_gate_run(ledger, tmp_path)
    (gate,) = ledger.list_gate_results(run_id)
    assert gate["failures"]
    assert SECRET not in repr(gate["failures"])
    assert MASK in gate["failures"][0]["message"]
    assert files_holding_the_secret(ledger) == []


def test_a_failing_gates_junit_report_holds_no_secret(ledger: Ledger, tmp_path: Path) -> None:
    """The unit gate's JUnit report, kept under the ledger's logs, is masked. The fake claude
    prints exactly the real CLI's output format (the real CLI cannot be reached here)."""
    run_id = failing_unit_gate_run(ledger, tmp_path)
    reports = list((ledger.artifacts_dir / "logs" / run_id).rglob("*.junit.xml"))
    assert len(reports) == 1
    assert SECRET not in reports[0].read_text()
    assert MASK in reports[0].read_text()


WRITE_THE_KEY = (
    "import os, pathlib; key = os.environ['DEMO_API_KEY']; "
    "pathlib.Path('settings.py').write_text('DEBUG = False\\nAPI_KEY = ' + repr(key) + '\\n')"
)
# A GitHub-format token, made by the tool (so no file of the test or the bundle holds it).
WRITE_A_CREDENTIAL = (
    "import pathlib; token = 'gh' + 'p_' + 'aB3dE5gH7jK9mN1pQ3sT5vX7zA9cD1fG2hJ4'; "
    "pathlib.Path('ci.py').write_text('TOKEN = ' + repr(token) + '\\n')"
)


@pytest.mark.parametrize(
    ("code", "reason", "planted"),
    [
        (
            WRITE_THE_KEY,
            "settings.py:2: adds the value of the secret variable DEMO_API_KEY",
            SECRET,
        ),
        (
            WRITE_A_CREDENTIAL,
            "ci.py:1: adds a GitHub token",
            "gh" + "p_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cD1fG2hJ4",
        ),
    ],
    ids=["secret-variable", "credential-format"],
)
def test_a_patch_that_adds_a_secret_is_rejected_and_its_diff_stored_masked(
    ledger: Ledger, project: Path, code: str, reason: str, planted: str
) -> None:
    """The tool writes the secret (or a token) into a source file: the patch is rejected with
    the file, the line and the variable or kind, never the value; nothing lands; the diff
    kept under the ledger's patches/ is masked; no file of the ledger or of the attempt caches
    holds the value."""
    config = router({"writer": {"argv": [PY, "-c", code, "{prompt}"], "writes": True}})
    result = run(ledger, project, config, [{"task_id": "w", "tool": "writer"}])
    assert result.state == "failed"
    (attempt,) = attempts(ledger, result.run_id)
    assert attempt["error"] == f"patch rejected: {reason}"
    patch = ledger.get_patch(attempt["patch_id"] or "")
    assert patch is not None
    assert patch["state"] == "rejected"
    assert reason in patch["validation"]["reasons"]
    stored = Path(patch["diff_path"]).read_text(encoding="utf-8")
    assert "[redacted:" in stored
    assert planted not in stored
    assert git(project, "rev-list", "--count", f"uet/{result.run_id}") == git(
        project, "rev-list", "--count", "HEAD"
    ), "nothing landed"
    assert_no_secret_stored(planted, ledger)
    assert_no_secret_stored(SECRET, ledger)
