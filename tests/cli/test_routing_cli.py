"""Routing through the real `uet` CLI: `uet run --router` (and the project's
.uet/router_config.json) with agent tools, budgets paused and resumed from the command line,
`uet plan --router` showing routing decisions, and bad input (router configs, bundles, options)
refused with exit 2, the JSON path of each problem, no traceback and no ledger written.

The agent tools are the fake CLIs of tests/agents: they print exactly the real CLIs' output
formats, because the real CLIs and the LLMs behind them cannot be reached here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from gitrepos import branch_log, checksum, git, make_repo

pytestmark = pytest.mark.usefixtures("plain_subprocesses", "fake_agents")
Invoke = Callable[..., Result]
WriteBundle = Callable[..., Path]
CLAUDE = {
    "argv": ["claude", "-p", "{prompt}", "--output-format", "json"],
    "adapter": "claude_code",
    "writes": True,
}
CODEX = {
    "argv": ["codex", "exec", "--json", "{prompt}"],
    "adapter": "codex",
    "writes": True,
    "default_model": "gpt-5-codex",
    "pricing": {"gpt-5-codex": {"input_per_mtok": 1.25, "output_per_mtok": 10.0}},
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"a.txt": "a\n", "b.txt": "b\n"})


def router_file(tmp_path: Path, tools: dict[str, Any], **top: Any) -> Path:
    path = tmp_path / "router.json"
    document = {"schema_version": "router_config.v1", "tools": tools, **top}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def edits(**files: str) -> dict[str, str]:
    return {"FAKE_AGENT_EDITS": json.dumps(files)}


def ledger_path(ledger_url: str) -> Path:
    return Path(ledger_url.removeprefix("sqlite:///"))


def test_run_with_a_router_lands_each_agents_patch_and_reports_it(
    invoke: Invoke, write_bundle: WriteBundle, repo: Path, tmp_path: Path
) -> None:
    """The fake claude and codex edit files and print exactly the real CLIs' output formats
    (the real CLIs cannot be reached here)."""
    router = router_file(tmp_path, {"claude": CLAUDE, "codex": CODEX})
    bundle = write_bundle(
        [
            {
                "task_id": "one",
                "tool": "claude",
                "prompt": "edit a",
                "env": edits(**{"a.txt": "A\n"}),
            },
            {
                "task_id": "two",
                "tool": "codex",
                "prompt": "edit b",
                "env": edits(**{"b.txt": "B\n"}),
            },
        ]
    )
    before = checksum(repo)
    result = invoke("run", "--router", str(router), "--repo", str(repo), "--json", str(bundle))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["state"] == "succeeded"
    assert report["patches"] == {"committed": 2}
    branch = report["integration_branch"]
    assert git(repo, "show", f"{branch}:a.txt") == "A"
    assert git(repo, "show", f"{branch}:b.txt") == "B"
    assert sorted(branch_log(repo, branch)[:2]) == ["uet: one (claude)", "uet: two (codex)"]
    assert checksum(repo) == before
    events = invoke("events", report["run_id"], "--json")
    assert events.exit_code == 0, events.output
    kinds = [json.loads(line)["kind"] for line in events.stdout.splitlines()]
    assert kinds.count("route.decided") == 2


def test_run_finds_the_projects_router_config_without_the_option(
    invoke: Invoke, write_bundle: WriteBundle, tmp_path: Path
) -> None:
    """The fake claude prints exactly the real CLI's output format (the real CLI cannot be
    reached here)."""
    config = {"schema_version": "router_config.v1", "tools": {"claude": CLAUDE}}
    repo = make_repo(
        tmp_path / "project",
        {"a.txt": "a\n", ".uet/router_config.json": json.dumps(config)},
    )
    bundle = write_bundle([{"task_id": "t", "tool": "claude", "env": edits(**{"a.txt": "A\n"})}])
    result = invoke("run", "--repo", str(repo), "--json", str(bundle))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert git(repo, "show", f"{report['integration_branch']}:a.txt") == "A"


def test_a_used_up_budget_pauses_the_run_with_exit_130_and_resume_with_more_finishes_it(
    invoke: Invoke, write_bundle: WriteBundle, repo: Path, tmp_path: Path
) -> None:
    """The fake claude reports a cost of $0.05 per run in exactly the real CLI's output
    format (the real CLI cannot be reached here)."""
    router = router_file(tmp_path, {"claude": CLAUDE})
    cost = {"FAKE_AGENT_COST": "0.05"}
    bundle = write_bundle(
        [
            {"task_id": "one", "tool": "claude", "env": {**edits(**{"a.txt": "A\n"}), **cost}},
            {
                "task_id": "two",
                "tool": "claude",
                "depends_on": ["one"],
                "env": {**edits(**{"b.txt": "B\n"}), **cost},
            },
        ]
    )
    paused = invoke(
        "run",
        "--router",
        str(router),
        "--repo",
        str(repo),
        "--budget-usd",
        "0.01",
        "--json",
        str(bundle),
    )
    assert paused.exit_code == 130, paused.output
    report = json.loads(paused.stdout)
    assert report["state"] == "paused"
    assert "budget" in report["reason"]
    assert report["tasks"] == {"succeeded": 1, "ready": 1}
    run_id = report["run_id"]

    resumed = invoke("resume", run_id, "--budget-usd", "1", "--json")
    assert resumed.exit_code == 0, resumed.output
    final = json.loads(resumed.stdout)
    assert final["state"] == "succeeded"
    assert final["patches"] == {"committed": 2}
    assert git(repo, "show", f"uet/{run_id}:b.txt") == "B"


# -- bad input -------------------------------------------------------------------------------

ROUTER: dict[str, Any] = {"tools": {"claude": CLAUDE}}
TOOL_TASK = {"task_id": "t", "tool": "claude"}
BAD_INPUT = {
    "a rule naming an unknown tool": (
        {**ROUTER, "rules": [{"id": "r", "candidates": ["claud"]}]},
        {"tasks": [TOOL_TASK]},
        [],
        ["$.rules[0].candidates[0]", "unknown tool 'claud'", "did you mean 'claude'"],
    ),
    "an unknown placeholder": (
        {"tools": {"claude": {**CLAUDE, "argv": ["claude", "-p", "{promt}"]}}},
        {"tasks": [TOOL_TASK]},
        [],
        ["$.tools.claude.argv[2]", "unknown placeholder {promt}"],
    ),
    "a task naming an unknown tool": (
        ROUTER,
        {"tasks": [{"task_id": "t", "tool": "gpt"}]},
        [],
        ["$.tasks[0].tool", "unknown tool 'gpt'"],
    ),
    "a kind no rule routes": (
        {
            **ROUTER,
            "rules": [{"id": "docs", "match": {"kind": ["docs"]}, "candidates": ["claude"]}],
        },
        {"tasks": [{"task_id": "t", "kind": "refactor"}]},
        [],
        ["$.tasks[0].kind", "no routing rule matches kind 'refactor'"],
    ),
    "a negative budget in the bundle": (
        ROUTER,
        {"budget": {"max_usd": -1}, "tasks": [{**TOOL_TASK, "budget": {"max_tokens": -5}}]},
        [],
        ["$.budget.max_usd", "$.tasks[0].budget.max_tokens"],
    ),
    "a negative --budget-usd": (
        ROUTER,
        {"tasks": [TOOL_TASK]},
        ["--budget-usd", "-1"],
        ["--budget-usd"],
    ),
    "a secret-looking env name in the bundle": (
        ROUTER,
        {"tasks": [{**TOOL_TASK, "env": {"GITHUB_TOKEN": "ghp_x"}}]},
        [],
        ["$.tasks[0].env.GITHUB_TOKEN", "looks like a secret"],
    ),
    "a secret-looking env name in the workstream defaults": (
        ROUTER,
        {"defaults": {"env": {"DB_PASSWORD": "hunter2"}}, "tasks": [TOOL_TASK]},
        [],
        ["$.defaults.env.DB_PASSWORD", "looks like a secret"],
    ),
    "a secret-looking env name in the router config": (
        {"tools": {"claude": {**CLAUDE, "env": {"ANTHROPIC_API_KEY": "sk-x"}}}},
        {"tasks": [TOOL_TASK]},
        [],
        ["$.tools.claude.env.ANTHROPIC_API_KEY", "looks like a secret"],
    ),
    "best_of_n on a task that writes nothing": (
        {"tools": {"a": {"argv": ["a", "{prompt}"]}, "b": {"argv": ["b", "{prompt}"]}}},
        {
            "tasks": [
                {
                    "task_id": "t",
                    "route": {"strategy": "best_of_n", "candidates": ["a", "b"]},
                    "tool": "a",
                }
            ]
        },
        [],
        ["$.tasks[0].route", "best_of_n compares patches"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_exits_2_naming_each_problem_and_writes_no_ledger(
    invoke: Invoke,
    write_bundle: WriteBundle,
    repo: Path,
    tmp_path: Path,
    ledger_url: str,
    case: str,
) -> None:
    router_doc, workstream, options, expected = BAD_INPUT[case]
    router = router_file(tmp_path, **router_doc)
    bundle = write_bundle(
        workstream["tasks"], **{k: v for k, v in workstream.items() if k != "tasks"}
    )
    before = checksum(repo)
    result = invoke("run", "--router", str(router), "--repo", str(repo), *options, str(bundle))
    assert result.exit_code == 2, result.output
    for fragment in expected:
        assert fragment in result.output, (fragment, result.output)
    assert "Traceback" not in result.output
    assert not ledger_path(ledger_url).exists(), "invalid input writes no ledger"
    assert not ledger_path(ledger_url).parent.exists()
    assert git(repo, "branch", "--list", "uet/*") == "", "nor an integration branch"
    assert checksum(repo) == before


def test_the_real_uet_process_reports_bad_routing_input_on_stderr_with_exit_2(
    uet_process: Callable[..., subprocess.Popen[str]],
    write_bundle: WriteBundle,
    repo: Path,
    tmp_path: Path,
    ledger_url: str,
) -> None:
    """The same refusal from the real `uet` entry point in its own process: one line per
    problem on stderr, nothing on stdout, no traceback."""
    router = router_file(
        tmp_path,
        {"claude": {**CLAUDE, "argv": ["claude", "{prompt}", "{worktree}x"]}},
        rules=[{"id": "r", "candidates": ["codex"]}],
    )
    bundle = write_bundle([TOOL_TASK])
    proc = uet_process("run", "--router", str(router), "--repo", str(repo), str(bundle))
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2, stderr
    assert stdout == ""
    assert "$.tools.claude.argv[2]" in stderr
    assert "{worktree} must be a whole argv item" in stderr
    assert "$.rules[0].candidates[0]: unknown tool 'codex'" in stderr
    assert "Traceback" not in stderr
    assert not ledger_path(ledger_url).exists()


def test_a_missing_router_file_exits_2_without_a_traceback(
    invoke: Invoke, write_bundle: WriteBundle, repo: Path, tmp_path: Path, ledger_url: str
) -> None:
    bundle = write_bundle([TOOL_TASK])
    result = invoke(
        "run", "--router", str(tmp_path / "nowhere.json"), "--repo", str(repo), str(bundle)
    )
    assert result.exit_code == 2, result.output
    assert "nowhere.json" in result.output
    assert "Traceback" not in result.output
    assert not ledger_path(ledger_url).exists()


def test_a_tool_task_without_any_router_config_exits_2(
    invoke: Invoke, write_bundle: WriteBundle, repo: Path, ledger_url: str
) -> None:
    bundle = write_bundle([TOOL_TASK])
    result = invoke("run", "--repo", str(repo), str(bundle))
    assert result.exit_code == 2, result.output
    assert "$.tasks[0].tool" in result.output
    assert "--router" in result.output
    assert not ledger_path(ledger_url).exists()


# -- plan ------------------------------------------------------------------------------------


def test_plan_shows_the_routing_decision_of_each_tool_task(
    invoke: Invoke, write_bundle: WriteBundle, tmp_path: Path, ledger_url: str
) -> None:
    router = router_file(
        tmp_path,
        {
            "claude": CLAUDE,
            "codex": CODEX,
            "cheap": {
                **CODEX,
                "pricing": {"gpt-5-codex": {"input_per_mtok": 0.1, "output_per_mtok": 0.4}},
            },
        },
        rules=[
            {
                "id": "docs",
                "match": {"kind": ["docs"]},
                "strategy": "cost_optimized",
                "candidates": ["codex", "cheap"],
            },
            {"id": "rest", "strategy": "fallback", "candidates": ["claude", "codex"]},
        ],
    )
    bundle = write_bundle(
        [
            {"task_id": "readme", "kind": "docs"},
            {"task_id": "fix", "kind": "bugfix", "depends_on": ["readme"]},
            {"task_id": "direct", "tool": "claude"},
            {"task_id": "build", "run": ["make"]},
        ]
    )
    shown = invoke("plan", "--router", str(router), str(bundle))
    assert shown.exit_code == 0, shown.output
    assert "routing:" in shown.output
    assert "readme: rule docs, cost_optimized -> cheap (cheapest: cheap" in shown.output
    assert "fix: rule rest, fallback -> claude (first candidate)" in shown.output
    assert "direct: fixed -> claude" in shown.output
    assert "build:" not in shown.output.split("routing:")[1], "only tool tasks are routed"

    as_json = invoke("plan", "--router", str(router), "--json", str(bundle))
    assert as_json.exit_code == 0, as_json.output
    plan = json.loads(as_json.stdout)
    routing = plan["routing"]
    assert set(routing) == {"readme", "fix", "direct"}
    assert routing["readme"]["chosen"] == ["cheap"]
    assert routing["readme"]["rule"] == "docs"
    scores = {c["tool"]: c["score"] for c in routing["readme"]["candidates"]}
    assert scores["cheap"] < scores["codex"]
    assert routing["fix"]["strategy"] == "fallback"
    assert routing["direct"]["chosen"] == ["claude"]
    assert [sorted(wave) for wave in plan["waves"]] == [["build", "direct", "readme"], ["fix"]]
    assert not ledger_path(ledger_url).exists(), "plan writes no ledger"


def test_plan_without_a_router_refuses_tool_tasks(
    invoke: Invoke, write_bundle: WriteBundle
) -> None:
    bundle = write_bundle([TOOL_TASK])
    result = invoke("plan", str(bundle))
    assert result.exit_code == 2, result.output
    assert "$.tasks[0].tool" in result.output


def test_plan_routes_by_the_history_of_the_ledger_given_with_the_option(
    invoke: Invoke, write_bundle: WriteBundle, repo: Path, tmp_path: Path
) -> None:
    """An earlier run (fake claude tools printing exactly the real CLI's output format; the
    real CLI cannot be reached here) saw ``flaky`` fail and ``steady`` succeed."""
    assert plan_after_history(invoke, write_bundle, repo, tmp_path) == ["steady"]


def test_plan_routes_by_the_history_of_the_ledger_named_by_uet_ledger(
    invoke: Invoke,
    write_bundle: WriteBundle,
    repo: Path,
    tmp_path: Path,
    ledger_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As above, with the ledger named by $UET_LEDGER instead: success_rate plans for the tool
    that succeeded before."""
    monkeypatch.setenv("UET_LEDGER", ledger_url)
    assert plan_after_history(invoke, write_bundle, repo, tmp_path) == ["steady"]


def plan_after_history(
    invoke: Invoke, write_bundle: WriteBundle, repo: Path, tmp_path: Path
) -> list[str]:
    """What `uet plan` chooses by success_rate after a run where ``flaky`` failed and
    ``steady`` succeeded (fake claude tools, exactly the real CLI's output format)."""
    tools = {
        "flaky": {**CLAUDE, "env": {"FAKE_AGENT_FAIL": "overloaded"}},
        "steady": CLAUDE,
    }
    router = router_file(
        tmp_path,
        tools,
        rules=[{"id": "sr", "strategy": "success_rate", "candidates": ["flaky", "steady"]}],
    )
    history = write_bundle(
        [
            {"task_id": "a", "tool": "flaky", "kind": "fix"},
            {"task_id": "b", "tool": "steady", "kind": "fix", "env": edits(**{"a.txt": "A\n"})},
        ],
        error_handling={"on_task_failure": "continue"},
    )
    earlier = invoke("run", "--router", str(router), "--repo", str(repo), "--json", str(history))
    assert earlier.exit_code == 1, earlier.output  # one task failed, as intended
    bundle = write_bundle([{"task_id": "next", "kind": "fix"}])
    result = invoke("plan", "--router", str(router), "--json", str(bundle))
    assert result.exit_code == 0, result.output
    chosen: list[str] = json.loads(result.stdout)["routing"]["next"]["chosen"]
    return chosen
