"""The `uet` CLI: help that teaches, exit codes, JSON that matches the schemas."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import Result

from core.cli import cli
from core.contracts import issues
from core.engine.bundle import load_bundle
from core.engine.runs import create_run
from core.state import open_ledger

PY = sys.executable
Invoke = Callable[..., Result]


def all_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            found.append((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(cli, ())
    return found


def test_expected_commands_exist() -> None:
    names = {" ".join(path) for path in all_commands()}
    assert {
        "validate",
        "plan",
        "run",
        "resume",
        "cancel",
        "runs",
        "status",
        "events",
        "db migrate",
        "db check",
    } <= names


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...], invoke: Invoke) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output, f"`uet {' '.join(path)} --help` shows no example"


def test_validate_ok_and_invalid(
    invoke: Invoke, write_bundle: Callable[..., Path], tmp_path: Path
) -> None:
    good = write_bundle([{"task_id": "a", "run": ["true"]}])
    bad = write_bundle(
        [
            {"task_id": "a", "run": ["true"]},
            {"task_id": "b", "depends_on": ["nope"], "run": ["true"]},
        ]
    )
    result = invoke("validate", str(good))
    assert result.exit_code == 0
    assert "ok" in result.output
    assert "1 task(s)" in result.output
    result = invoke("validate", str(good), str(bad))
    assert result.exit_code == 2
    assert "$.tasks[1].depends_on[0]: unknown task 'nope'" in result.output
    report = json.loads(invoke("validate", "--json", str(bad)).output)
    assert report[0]["valid"] is False
    assert report[0]["issues"] == [
        {"path": "$.tasks[1].depends_on[0]", "message": "unknown task 'nope'"}
    ]


def test_validate_picks_the_schema_from_schema_version(invoke: Invoke, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"schema_version": "patch_policy.v1", "max_files": -1}))
    result = invoke("validate", str(policy))
    assert result.exit_code == 2
    assert "$.max_files" in result.output
    unknown = tmp_path / "unknown.json"
    unknown.write_text("{}")
    result = invoke("validate", str(unknown))
    assert result.exit_code == 2
    assert "$.schema_version: missing or unknown" in result.output


def test_invalid_bundle_exits_2_and_writes_nothing(
    invoke: Invoke, write_bundle: Callable[..., Path], tmp_path: Path
) -> None:
    cyclic = write_bundle(
        [
            {"task_id": "a", "depends_on": ["b"], "run": ["true"]},
            {"task_id": "b", "depends_on": ["a"], "run": ["true"]},
        ]
    )
    result = invoke("run", str(cyclic))
    assert result.exit_code == 2
    assert "dependency cycle: a -> b -> a" in result.output
    assert not (tmp_path / "ledger").exists(), "an invalid bundle must not even create the ledger"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = invoke("run", str(broken))
    assert result.exit_code == 2
    assert "invalid JSON at line 1" in result.output


def test_run_exit_codes_and_json(invoke: Invoke, write_bundle: Callable[..., Path]) -> None:
    ok = invoke("run", "--json", str(write_bundle([{"task_id": "a", "run": [PY, "-c", "pass"]}])))
    assert ok.exit_code == 0
    summary = json.loads(ok.stdout)
    assert summary["state"] == "succeeded"
    assert summary["tasks"] == {"succeeded": 1}
    failed = invoke(
        "run", str(write_bundle([{"task_id": "a", "run": [PY, "-c", "raise SystemExit(4)"]}]))
    )
    assert failed.exit_code == 1
    assert "exited with code 4" in failed.output


def test_unknown_run_is_exit_1(invoke: Invoke, write_bundle: Callable[..., Path]) -> None:
    invoke("run", str(write_bundle([{"task_id": "a", "run": ["true"]}])))
    for command in ("status", "events", "resume", "cancel"):
        result = invoke(command, "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
        assert result.exit_code == 1, command
        assert "no run '01ZZZZZZZZZZZZZZZZZZZZZZZZ'" in result.output


def test_queries_without_a_ledger_explain(invoke: Invoke) -> None:
    result = invoke("runs")
    assert result.exit_code == 1
    assert "no ledger at" in result.output


def test_status_runs_and_events_json_match_the_schemas(
    invoke: Invoke, write_bundle: Callable[..., Path]
) -> None:
    path = write_bundle(
        [
            {"task_id": "a", "run": [PY, "-c", "print('hi')"]},
            {
                "task_id": "b",
                "depends_on": ["a"],
                "call": "json:dumps",
                "params": {"obj": {"k": 1}},
            },
        ]
    )
    assert invoke("run", str(path)).exit_code == 0
    status = json.loads(invoke("status", "--json").stdout)
    assert issues(status["run"], "run_record.v1") == []
    assert status["progress"]["done"] == 2
    for task in status["tasks"]:
        assert issues(task["latest_attempt"], "step_attempt.v1") == []
    assert [t["output"] for t in status["tasks"]] == [None, '{"k": 1}']
    runs = json.loads(invoke("runs", "--json").stdout)
    assert [issues(doc, "run_record.v1") for doc in runs] == [[]]
    lines = invoke("events", "--json").stdout.splitlines()
    assert len(lines) == 13
    assert all(issues(json.loads(line), "run_event.v1") == [] for line in lines)
    only_tasks = invoke("events", "--kind", "task.succeeded", "--json").stdout.splitlines()
    assert [json.loads(line)["task_id"] for line in only_tasks] == ["a", "b"]


def test_status_text_shows_progress_and_tasks(
    invoke: Invoke, write_bundle: Callable[..., Path]
) -> None:
    path = write_bundle(
        [
            {"task_id": "good", "run": [PY, "-c", "pass"]},
            {"task_id": "bad", "run": [PY, "-c", "import sys; sys.exit('disk full')"]},
            {"task_id": "later", "depends_on": ["bad"], "run": ["true"]},
        ]
    )
    invoke("run", str(path))
    text = invoke("status").output
    assert "3/3 100.0%" in text
    assert "exited with code 1: disk full" in text
    assert "upstream task 'bad' failed" in text


def test_run_prefix_resolution(invoke: Invoke, write_bundle: Callable[..., Path]) -> None:
    invoke("run", str(write_bundle([{"task_id": "a", "run": ["true"]}])))
    run_id = json.loads(invoke("runs", "--json").stdout)[0]["run_id"]
    assert invoke("status", run_id[:10].lower()).exit_code == 0


def test_plan_shows_waves_and_critical_path(
    invoke: Invoke, write_bundle: Callable[..., Path]
) -> None:
    path = write_bundle(
        [
            {"task_id": "a", "run": ["true"]},
            {"task_id": "b", "depends_on": ["a"], "run": ["true"], "estimate_seconds": 5},
            {"task_id": "c", "depends_on": ["a"], "run": ["true"]},
            {"task_id": "d", "depends_on": ["b", "c"], "run": ["true"]},
        ]
    )
    text = invoke("plan", str(path)).output
    assert "wave 2: b c" in text
    assert "a -> b -> d" in text
    data = json.loads(invoke("plan", "--json", str(path)).output)
    assert data["waves"] == [["a"], ["b", "c"], ["d"]]
    assert data["critical_weight"] == 7


def test_db_migrate_and_check(invoke: Invoke) -> None:
    assert invoke("db", "check").exit_code == 1  # no ledger yet
    migrated = invoke("db", "migrate")
    assert migrated.exit_code == 0
    assert "0001_kernel" in migrated.output
    assert "up to date" in invoke("db", "migrate").output
    check = json.loads(invoke("db", "check", "--json").output)
    assert check["current"] is True
    assert check["pending"] == []


def test_run_reports_each_task_as_it_ends(
    invoke: Invoke, write_bundle: Callable[..., Path]
) -> None:
    path = write_bundle(
        [
            {"task_id": "first", "run": [PY, "-c", "pass"]},
            {
                "task_id": "second-long-name",
                "depends_on": ["first"],
                "run": [PY, "-c", "raise SystemExit(2)"],
            },
            {"task_id": "third", "depends_on": ["second-long-name"], "run": ["true"]},
        ]
    )
    result = invoke("run", str(path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert re.search(r"✓ first\s+\d+\.\d\ds$", lines[1])
    assert "✗ second-long-name  failed: exited with code 2" in lines[2]
    assert "- third             skipped: upstream task 'second-long-name' failed" in lines[3]
    assert "run " in result.stdout
    assert "failed" in result.stdout


def test_finished_runs_cannot_be_resumed_or_canceled(
    invoke: Invoke, write_bundle: Callable[..., Path]
) -> None:
    invoke("run", str(write_bundle([{"task_id": "a", "run": ["true"]}])))
    resumed = invoke("resume")
    assert resumed.exit_code == 1
    assert "is succeeded; only pending, running or paused runs resume" in resumed.output
    canceled = invoke("cancel", "latest")
    assert canceled.exit_code == 1
    assert "already succeeded; nothing to cancel" in canceled.output


def test_a_run_that_never_started_can_be_resumed_or_canceled(
    invoke: Invoke, write_bundle: Callable[..., Path], ledger_url: str
) -> None:
    ledger = open_ledger(ledger_url)
    first = create_run(ledger, load_bundle(write_bundle([{"task_id": "a", "run": ["true"]}])))
    second = create_run(ledger, load_bundle(write_bundle([{"task_id": "b", "run": ["true"]}])))
    ledger.close()
    assert invoke("resume", first).exit_code == 0
    canceled = invoke("cancel", second, "--json")
    assert json.loads(canceled.stdout) == {
        "run_id": second,
        "state": "canceled",
        "reason": "canceled by user",
    }
    status = json.loads(invoke("status", second, "--json").stdout)
    assert [t["state"] for t in status["tasks"]] == ["canceled"]
