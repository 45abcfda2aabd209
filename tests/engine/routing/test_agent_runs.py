"""Agent CLIs driven by a run: each adapter edits the repository through a real run (real git
repository in tmp_path, real SQLite ledger, real subprocesses), its usage and cost recorded;
prompts reach the tool as one argv item, byte for byte, with stdin closed; a missing or hanging
tool fails its attempt with a readable reason.

The agent CLIs are the fakes of tests/agents: they print exactly the real CLI's output format,
because the real CLIs and the LLMs behind them cannot be reached here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentruns import (
    AIDER_MODEL,
    CLAUDE_MODEL,
    CODEX_MODEL,
    PASSING_GATE,
    aider,
    attempts,
    bundle,
    claude,
    codex,
    content_gate,
    decisions,
    edits,
    options,
    patch_of,
    router,
    run,
)
from gitrepos import branch_log, git

from core.engine.runs import create_run, execute_run
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses", "fake_agents")

PRICED = {
    "claude": claude(pricing={CLAUDE_MODEL: {"input_per_mtok": 3.0, "output_per_mtok": 15.0}}),
    "codex": codex(
        default_model=CODEX_MODEL,
        pricing={CODEX_MODEL: {"input_per_mtok": 1.25, "output_per_mtok": 10.0}},
    ),
    "aider": aider(),
}


def test_claude_codex_and_aider_each_edit_a_file_that_lands_with_its_usage_and_cost(
    ledger: Ledger, project: Path
) -> None:
    """The fake claude, codex and aider print exactly the real CLIs' output formats (the real
    CLIs and LLMs cannot be reached here); each edits one file of the repository."""
    gates = {"a": content_gate("a.txt", "from claude\n"), "b": content_gate("b.txt", "codex\n")}
    result = run(
        ledger,
        project,
        router(PRICED),
        [
            {
                "task_id": "by-claude",
                "tool": "claude",
                "prompt": "Write a.txt",
                "gates": ["a"],
                "env": {**edits(**{"a.txt": "from claude\n"}), "FAKE_AGENT_COST": "0.0123"},
            },
            {
                "task_id": "by-codex",
                "tool": "codex",
                "prompt": "Write b.txt",
                "gates": ["b"],
                "env": {
                    **edits(**{"b.txt": "codex\n"}),
                    "FAKE_AGENT_TOKENS_IN": "2000",
                    "FAKE_AGENT_TOKENS_OUT": "500",
                },
            },
            {
                "task_id": "by-aider",
                "tool": "aider",
                "prompt": "Rewrite notes.txt",
                "files": ["notes.txt"],
                "env": {**edits(**{"notes.txt": "final\n"}), "FAKE_AGENT_COST": "0.02"},
            },
        ],
        parallel=3,
        gates=gates,
    )
    assert result.state == "succeeded", result.reason
    branch = f"uet/{result.run_id}"
    assert sorted(branch_log(project, branch)[:3]) == [
        "uet: by-aider (aider)",
        "uet: by-claude (claude)",
        "uet: by-codex (codex)",
    ]
    assert git(project, "show", f"{branch}:a.txt") == "from claude"
    assert git(project, "show", f"{branch}:b.txt") == "codex"
    assert git(project, "show", f"{branch}:notes.txt") == "final"
    assert [p["state"] for p in ledger.list_patches(result.run_id)] == ["committed"] * 3

    by_task = {a["task_id"]: a for a in ledger.list_attempts(result.run_id)}
    assert {task: (a["tool"], a["role"]) for task, a in by_task.items()} == {
        "by-claude": ("claude", "primary"),
        "by-codex": ("codex", "primary"),
        "by-aider": ("aider", "primary"),
    }
    usage = {task: a["usage"] or {} for task, a in by_task.items()}
    assert (usage["by-claude"]["tokens_in"], usage["by-claude"]["tokens_out"]) == (1200, 300)
    assert usage["by-claude"]["model"] == CLAUDE_MODEL
    assert usage["by-claude"]["reported_cost"] == 0.0123
    assert (usage["by-codex"]["tokens_in"], usage["by-codex"]["tokens_out"]) == (2000, 500)
    assert usage["by-codex"]["reported_cost"] is None  # codex never reports money
    assert usage["by-aider"]["model"] == AIDER_MODEL
    assert (usage["by-aider"]["tokens_in"], usage["by-aider"]["tokens_out"]) == (1200, 300)
    assert usage["by-aider"]["reported_cost"] == 0.02

    costs = ledger.list_costs(result.run_id)
    per_attempt = {c["task_id"]: c for c in costs if c["subject_kind"] == "attempt"}
    assert set(per_attempt) == {"by-claude", "by-codex", "by-aider"}
    claude_cost, codex_cost, aider_cost = (
        per_attempt[t] for t in ("by-claude", "by-codex", "by-aider")
    )
    # claude reported its cost: taken as reported, not estimated.
    assert (claude_cost["amount"], claude_cost["estimated"]) == (0.0123, False)
    assert (claude_cost["tool"], claude_cost["model"]) == ("claude", CLAUDE_MODEL)
    assert claude_cost["resource_type"] == "llm_tokens"
    assert claude_cost["subject_id"] == by_task["by-claude"]["attempt_id"]
    # codex reports no cost: estimated from the pricing of its default model.
    assert codex_cost["estimated"] is True
    assert codex_cost["model"] == CODEX_MODEL
    assert codex_cost["amount"] == pytest.approx((2000 * 1.25 + 500 * 10.0) / 1_000_000)
    assert (codex_cost["tokens_in"], codex_cost["tokens_out"]) == (2000, 500)
    # aider prints its cost; no pricing is configured, and none is needed.
    assert (aider_cost["amount"], aider_cost["estimated"]) == (0.02, False)
    assert aider_cost["model"] == AIDER_MODEL
    for row in per_attempt.values():
        assert row["wall_seconds"] is not None
        assert row["wall_seconds"] >= 0

    gate_rows = ledger.list_gate_results(result.run_id)
    gate_costs = {c["subject_id"]: c for c in costs if c["subject_kind"] == "gate"}
    # Each gate runs in its attempt, or, when other patches landed while the attempt ran,
    # is left to the merge queue, which runs it on the combination with them. Either way
    # the gate passed on exactly the tree that was committed for its task.
    assert {g["scope"] for g in gate_rows} <= {"attempt", "combination"}
    landed = {
        p["task_id"]: git(project, "rev-parse", f"{p['commit_sha']}^{{tree}}")
        for p in ledger.list_patches(result.run_id)
    }
    for task, gate in (("by-claude", "a"), ("by-codex", "b")):
        assert any(
            g["task_id"] == task
            and g["gate"] == gate
            and g["state"] == "passed"
            and g["tree_sha"] == landed[task]
            for g in gate_rows
        ), (task, gate_rows)
    assert set(gate_costs) == {g["gate_result_id"] for g in gate_rows}, "one cost row per gate"
    for gate_row in gate_rows:
        cost = gate_costs[gate_row["gate_result_id"]]
        assert cost["resource_type"] == "compute"
        assert (cost["amount"], cost["tool"], cost["tokens_in"]) == (0.0, None, 0)
        assert cost["task_id"] == gate_row["task_id"]
        assert cost["wall_seconds"] == gate_row["duration_seconds"]


def test_an_agent_reporting_an_error_fails_its_attempt_and_its_edits_never_land(
    ledger: Ledger, project: Path
) -> None:
    """The fake claude prints exactly the real CLI's error result object (the real CLI cannot
    be reached here): is_error true with the error listed, exit status 1."""
    result = run(
        ledger,
        project,
        router(PRICED),
        [
            {
                "task_id": "t",
                "tool": "claude",
                "env": {
                    **edits(**{"a.txt": "half done\n"}),
                    "FAKE_AGENT_FAIL": "Credit balance is too low",
                    "FAKE_AGENT_COST": "0.004",
                },
            }
        ],
    )
    assert result.state == "failed"
    (attempt,) = attempts(ledger, result.run_id)
    assert attempt["state"] == "failed"
    assert attempt["error"]
    assert attempt["patch_id"] is None, "a failed tool's edits never become a patch"
    assert ledger.list_patches(result.run_id) == []
    assert branch_log(project, f"uet/{result.run_id}") == ["initial"]
    assert (attempt["usage"] or {}).get("reported_cost") == 0.004
    (cost,) = ledger.list_costs(result.run_id)
    assert (cost["amount"], cost["estimated"]) == (0.004, False), "failed work still costs"


@pytest.mark.parametrize("cli", ["claude", "codex", "aider"])
def test_the_error_an_agent_reports_in_its_output_is_the_attempts_error(
    ledger: Ledger, project: Path, cli: str
) -> None:
    """An agent CLI that fails says why only in its output (claude's result object, codex's
    turn.failed event, aider's litellm error line), then exits 1: that reason, not just the
    exit status, is the attempt's error. The fakes print exactly the real CLIs' failure output
    (the real CLIs cannot be reached here)."""
    result = run(
        ledger,
        project,
        router(PRICED),
        [{"task_id": "t", "tool": cli, "env": {"FAKE_AGENT_FAIL": "Credit balance is too low"}}],
    )
    (attempt,) = attempts(ledger, result.run_id)
    assert attempt["state"] == "failed"
    assert f"{cli} reported an error: " in (attempt["error"] or "")
    assert "Credit balance is too low" in (attempt["error"] or "")
    (task,) = ledger.list_tasks(result.run_id)
    assert "Credit balance is too low" in (task["state_reason"] or "")


SHELLY = "$(rm -rf ~); echo \"x\" | cat > y && 'q' \\n\nnewline `id` ; * ~ \t end"


def test_a_prompt_with_shell_metacharacters_reaches_the_tool_as_one_argument_with_stdin_closed(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake claude records the argv it was given; it prints exactly the real CLI's output
    format (the real CLI and LLM cannot be reached here)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "canary").write_text("still here\n")
    monkeypatch.setenv("HOME", str(home))  # were a shell involved, `rm -rf ~` would hit this
    workdir = tmp_path / "work"
    workdir.mkdir()
    record = tmp_path / "record.jsonl"
    config = router({"claude": claude(writes=False)})
    spec = {
        "task_id": "quote",
        "tool": "claude",
        "prompt": SHELLY,
        "env": {"FAKE_AGENT_RECORD": str(record)},
    }
    opts = options(None)
    run_id = create_run(ledger, bundle(config, [spec]), opts, workdir=workdir)
    result = execute_run(ledger, run_id, opts)
    assert result.state == "succeeded", result.reason

    (call,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert call["cli"] == "claude"
    assert call["argv"] == ["-p", SHELLY + "\n", "--output-format", "json"]
    assert call["stdin_closed"] is True
    assert Path(call["cwd"]) == workdir
    (attempt,) = attempts(ledger, run_id)
    assert attempt["argv"] == ["claude", *call["argv"]], "the ledger keeps the argv as run"
    assert (home / "canary").read_text() == "still here\n"
    assert not (workdir / "y").exists()


def test_a_prompt_file_holds_the_rendered_prompt_byte_for_byte(
    ledger: Ledger, project: Path, tmp_path: Path
) -> None:
    """The fake aider reads its message from --message-file as the real one does and prints
    exactly the real CLI's output format (the real CLI and LLM cannot be reached here)."""
    record = tmp_path / "record.jsonl"
    tool = aider(argv=["aider", "--yes-always", "--message-file", "{prompt_file}", "{files}"])
    result = run(
        ledger,
        project,
        router({"aider": tool}),
        [
            {
                "task_id": "doc",
                "tool": "aider",
                "prompt": SHELLY,
                "files": ["notes.txt", "odd name; $(x).txt"],
                "env": {**edits(**{"notes.txt": "done\n"}), "FAKE_AGENT_RECORD": str(record)},
            }
        ],
    )
    assert result.state == "succeeded", result.reason
    (call,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert call["stdin_closed"] is True
    assert call["argv"][:2] == ["--yes-always", "--message-file"]
    assert call["argv"][3:] == ["notes.txt", "odd name; $(x).txt"], "{files}: one item per file"
    prompt = Path(call["argv"][2]).read_text(encoding="utf-8")
    assert prompt.startswith(SHELLY + "\n\n## Files in scope\n- notes.txt\n")
    assert "- odd name; $(x).txt" in prompt
    assert "do not commit" in prompt
    assert git(project, "show", f"uet/{result.run_id}:notes.txt") == "done"


def test_a_tool_missing_from_path_fails_its_attempt_with_a_readable_reason(
    ledger: Ledger, project: Path
) -> None:
    config = router({"ghost": {"argv": ["no-such-agent-xyz", "{prompt}"], "writes": True}})
    result = run(ledger, project, config, [{"task_id": "t", "tool": "ghost", "prompt": "hi"}])
    assert result.state == "failed"
    (attempt,) = attempts(ledger, result.run_id)
    assert attempt["state"] == "failed"
    assert attempt["error"] == "command not found: no-such-agent-xyz"
    (task,) = ledger.list_tasks(result.run_id)
    assert task["state"] == "failed"
    assert "command not found: no-such-agent-xyz" in (task["state_reason"] or "")
    everything = json.dumps([dict(e) for e in ledger.list_events(result.run_id)])
    assert "Traceback" not in everything
    assert ledger.list_patches(result.run_id) == []
    assert branch_log(project, f"uet/{result.run_id}") == ["initial"]


def test_a_tool_over_its_time_limit_is_stopped_and_its_attempt_timed_out(
    ledger: Ledger, project: Path
) -> None:
    """The fake codex sleeps before answering, printing exactly the real CLI's output format
    (the real CLI and LLM cannot be reached here)."""
    slow = codex(limits={"timeout_seconds": 0.5})
    result = run(
        ledger,
        project,
        router({"codex": slow}),
        [{"task_id": "t", "tool": "codex", "env": {"FAKE_AGENT_SLEEP": "30"}}],
    )
    assert result.state == "failed"
    (attempt,) = attempts(ledger, result.run_id)
    assert attempt["state"] == "timed_out"
    assert "timed out" in (attempt["error"] or "")
    assert (attempt["duration_seconds"] or 0) < 20, "the tool was stopped, not waited for"


def test_a_tool_task_routed_by_kind_records_why_it_went_to_its_tool(
    ledger: Ledger, project: Path
) -> None:
    """The fake codex prints exactly the real CLI's output format (the real CLI and LLM cannot
    be reached here)."""
    config = router(
        PRICED,
        rules=[
            {"id": "docs", "match": {"kind": ["docs"]}, "candidates": ["codex"]},
            {"id": "rest", "candidates": ["claude"]},
        ],
    )
    result = run(
        ledger,
        project,
        config,
        [
            {
                "task_id": "readme",
                "kind": "docs",
                "env": edits(**{"README.md": "docs\n"}),
                "gates": ["ok"],
            }
        ],
        gates={"ok": PASSING_GATE},
    )
    assert result.state == "succeeded", result.reason
    (decision,) = decisions(ledger, result.run_id)
    assert decision["rule"] == "docs"
    assert decision["chosen"] == ["codex"]
    assert decision["role"] == "primary"
    (attempt,) = attempts(ledger, result.run_id)
    assert (attempt["tool"], attempt["kind"]) == ("codex", "docs")
    assert patch_of(ledger, attempt)["state"] == "committed"
    planned = ledger.list_tasks(result.run_id)[0]["request"]["routing"]
    assert planned["chosen"] == ["codex"], "the plan made at creation is kept with the task"
