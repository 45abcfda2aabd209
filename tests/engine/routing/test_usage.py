"""Reading token usage, model and cost from what agent CLIs print: the claude, codex and aider
parsers on samples of each CLI's real output, their tolerance of noise and garbage, cost
estimates, and the fake CLIs of tests/agents run as real subprocesses.

The samples are the real formats, as the CLIs' sources and their users' published runs show
them: Claude Code's ``--output-format json`` result object, ``codex exec --json`` events
(codex-rs/exec/src/exec_events.rs), and aider's ``Tokens: ... Cost: ...`` report
(Coder.calculate_and_show_tokens_and_cost, aider.utils.format_tokens).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from core.clock import now
from core.contracts import issues, registry
from core.engine.routing.usage import PARSERS, Usage, estimate_cost, parse_usage
from core.errors import InvalidInput
from core.ids import new_id

AGENTS = Path(__file__).resolve().parents[2] / "agents"

# --- claude ---------------------------------------------------------------------------------------

CLAUDE_RESULT: dict[str, Any] = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "duration_ms": 14301,
    "duration_api_ms": 27618,
    "num_turns": 2,
    "result": "The current directory contains a Python package and its tests.",
    "session_id": "550e8400-e29b-41d4-a716-446655440001",
    "total_cost_usd": 0.013645,
    "usage": {
        "input_tokens": 9,
        "cache_creation_input_tokens": 12871,
        "cache_read_input_tokens": 36391,
        "output_tokens": 510,
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        "service_tier": "standard",
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 12871},
    },
    "modelUsage": {
        "claude-haiku-4-5-20251001": {
            "inputTokens": 0,
            "outputTokens": 407,
            "cacheReadInputTokens": 0,
            "cacheCreationInputTokens": 0,
            "webSearchRequests": 0,
            "costUSD": 0.0020350000000000004,
            "contextWindow": 200000,
        },
        "claude-sonnet-4-5-20250929": {
            "inputTokens": 0,
            "outputTokens": 774,
            "cacheReadInputTokens": 0,
            "cacheCreationInputTokens": 0,
            "webSearchRequests": 0,
            "costUSD": 0.01161,
            "contextWindow": 200000,
        },
    },
    "permission_denials": [],
    "uuid": "3eb1e1b4-106d-48ef-8127-1a1bcc6b9c3e",
}
CLAUDE_JSON = json.dumps(CLAUDE_RESULT)


def test_claude_result_gives_tokens_cache_cost_and_the_model_that_did_the_work() -> None:
    usage = parse_usage("claude_json", CLAUDE_JSON + "\n")
    assert usage == Usage(
        tokens_in=9,
        tokens_out=510,
        cache_read_tokens=36391,
        cache_write_tokens=12871,
        model="claude-sonnet-4-5-20250929",  # it cost more than the haiku that ran chores
        reported_cost=0.013645,
    )
    assert usage.tokens == 519


def test_claude_result_after_noise_lines_and_pretty_printed() -> None:
    noisy = "npm warn config production Use `--omit=dev` instead.\n[hook] lint ok\n" + CLAUDE_JSON
    assert parse_usage("claude_json", noisy) == parse_usage("claude_json", CLAUDE_JSON)
    pretty = "Welcome!\n" + json.dumps(CLAUDE_RESULT, indent=2) + "\n"
    assert parse_usage("claude_json", pretty) == parse_usage("claude_json", CLAUDE_JSON)


def test_claude_stream_json_reads_the_final_result_event() -> None:
    init = {"type": "system", "subtype": "init", "session_id": "s", "model": "claude-opus-4-5"}
    assistant = {
        "type": "assistant",
        "message": {"model": "claude-opus-4-5", "usage": {"input_tokens": 2, "output_tokens": 9}},
    }
    lines = [json.dumps(init), json.dumps(assistant), CLAUDE_JSON]
    assert parse_usage("claude_json", "\n".join(lines)).tokens_out == 510


def test_claude_before_1_0_reported_cost_usd() -> None:
    old = {
        "type": "result",
        "subtype": "success",
        "cost_usd": 0.0034,
        "is_error": False,
        "duration_ms": 2954,
        "duration_api_ms": 2950,
        "num_turns": 1,
        "result": "Done.",
        "session_id": "5b5f2d2c-0e8b-4d57-a9a1-4d0c3e1d6a11",
    }
    assert parse_usage("claude_json", json.dumps(old)) == Usage(reported_cost=0.0034)


def test_claude_without_a_usage_summary_adds_up_the_models() -> None:
    result = {**CLAUDE_RESULT}
    del result["usage"]
    usage = parse_usage("claude_json", json.dumps(result))
    assert (usage.tokens_in, usage.tokens_out) == (0, 407 + 774)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param(
            {
                "subtype": "error_during_execution",
                "is_error": True,
                "errors": ["No conversation found with session ID: d56965c9"],
            },
            "error_during_execution: No conversation found with session ID: d56965c9",
            id="error_during_execution",
        ),
        pytest.param(
            {
                "subtype": "success",
                "is_error": True,
                "result": "Invalid API key · Please run /login",
            },
            "Invalid API key · Please run /login",
            id="api-error-as-success",
        ),
        pytest.param(
            {"subtype": "error_max_turns", "is_error": False}, "error_max_turns", id="max-turns"
        ),
        pytest.param(
            {"subtype": "error_during_execution", "is_error": False, "errors": []},
            "error_during_execution",
            id="error-subtype-without-is_error",
        ),
    ],
)
def test_claude_error_results(fields: Mapping[str, Any], error: str) -> None:
    result = {**CLAUDE_RESULT, "result": None, **fields}
    usage = parse_usage("claude_json", json.dumps(result))
    assert usage.error == error
    assert usage.tokens_out == 510  # a failed run still spent its tokens


# --- codex ----------------------------------------------------------------------------------------

CODEX_RUN = """\
Reading prompt from stdin...
2026-05-21T09:18:12.446963Z ERROR codex_core::codex: failed to load skill SKILL.md
{"type":"thread.started","thread_id":"019e49d4-05e3-7111-9bef-5f4f48c36e88"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Planning**"}}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls",\
"aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls",\
"aggregated_output":"src\\n","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":\
[{"path":"/repo/src/app.py","kind":"update"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Hello."}}
{"type":"turn.completed","usage":{"input_tokens":12632,"cached_input_tokens":3456,"output_tokens":81}}
"""


def test_codex_counts_uncached_input_apart_from_cached_and_reports_no_model_or_cost() -> None:
    assert parse_usage("codex_jsonl", CODEX_RUN) == Usage(
        tokens_in=12632 - 3456, tokens_out=81, cache_read_tokens=3456
    )


def test_codex_sums_usage_over_turns() -> None:
    second = (
        '{"type":"turn.started"}\n'
        '{"type":"turn.completed","usage":{"input_tokens":26549,"cached_input_tokens":22272,'
        '"output_tokens":1590}}\n'
    )
    usage = parse_usage("codex_jsonl", CODEX_RUN + second)
    assert usage == Usage(
        tokens_in=(12632 - 3456) + (26549 - 22272),
        tokens_out=81 + 1590,
        cache_read_tokens=3456 + 22272,
    )


def test_codex_failed_turn_is_an_error() -> None:
    failed = (
        '{"type":"thread.started","thread_id":"t"}\n{"type":"turn.started"}\n'
        '{"type":"error","message":"Reconnecting... 1/5"}\n'
        '{"type":"turn.failed","error":{"message":"stream disconnected before completion"}}\n'
    )
    assert parse_usage("codex_jsonl", failed) == Usage(
        error="stream disconnected before completion"
    )
    assert parse_usage("codex_jsonl", '{"type":"error","message":"401 Unauthorized"}') == Usage(
        error="401 Unauthorized"
    )


def test_codex_reconnect_error_before_a_completed_turn_is_not_a_failure() -> None:
    lines = CODEX_RUN.splitlines()
    lines.insert(4, '{"type":"error","message":"Reconnecting... 1/5"}')
    assert parse_usage("codex_jsonl", "\n".join(lines)).error is None


# --- aider ----------------------------------------------------------------------------------------

AIDER_CACHED_RUN = """\
Aider v0.86.1
Main model: anthropic/claude-3-5-sonnet-20241022 with diff edit format, prompt cache, infinite \
output
Weak model: anthropic/claude-3-5-haiku-20241022
Git repo: .git with 42 files
Repo-map: using 4096 tokens, auto refresh
Added src/app.py to the chat.

I'll add the greeting to src/app.py.

src/app.py
<<<<<<< SEARCH
=======
print("hello")
>>>>>>> REPLACE

Tokens: 2.5k sent, 2.2k cache write, 1.3k cache hit, 215 received.
Cost: $0.02 message, $0.05 session.
Applied edit to src/app.py
"""

AIDER_TWO_MESSAGES = """\
Aider v0.86.1
Model: gpt-4o with diff edit format
Git repo: none
Repo-map: disabled
Tokens: 4.2k sent, 1.1k received. Cost: $0.02 message, $0.02 session.
Applied edit to a.py
Tokens: 12k sent, 999 received. Cost: $0.04 message, $0.06 session.
Applied edit to b.py
"""


def test_aider_with_prompt_caching() -> None:
    # aider's "sent" figure includes the tokens it wrote to the cache.
    assert parse_usage("aider_text", AIDER_CACHED_RUN) == Usage(
        tokens_in=2500 - 2200,
        tokens_out=215,
        cache_read_tokens=1300,
        cache_write_tokens=2200,
        model="anthropic/claude-3-5-sonnet-20241022",
        reported_cost=0.05,
    )


def test_aider_sums_messages_and_takes_the_session_cost_from_the_last_report() -> None:
    assert parse_usage("aider_text", AIDER_TWO_MESSAGES) == Usage(
        tokens_in=4200 + 12000, tokens_out=1100 + 999, model="gpt-4o", reported_cost=0.06
    )


@pytest.mark.parametrize(
    ("printed", "count"),
    [
        ("0", 0),
        ("999", 999),
        ("4.2k", 4200),
        ("9.9k", 9900),
        ("12k", 12000),
        ("1500k", 1_500_000),
        ("1.5M", 1_500_000),
    ],
)
def test_aider_token_counts_as_format_tokens_prints_them(printed: str, count: int) -> None:
    usage = parse_usage("aider_text", f"Tokens: {printed} sent, {printed} received.\n")
    assert (usage.tokens_in, usage.tokens_out, usage.reported_cost) == (count, count, None)


def test_aider_small_costs_and_terminal_colours() -> None:
    text = (
        "\x1b[1mModel: gpt-4o-mini with whole edit format\x1b[0m\n"
        "\x1b[32mTokens: 812 sent, 96 received. Cost: $0.00018 message, $0.00018 session.\x1b[0m\n"
    )
    assert parse_usage("aider_text", text) == Usage(
        tokens_in=812, tokens_out=96, model="gpt-4o-mini", reported_cost=0.00018
    )


def test_aider_provider_error_is_reported_unless_a_retry_recovered() -> None:
    failed = (
        "Aider v0.86.1\nModel: claude-3-5-sonnet-20241022 with diff edit format\n"
        'litellm.AuthenticationError: AnthropicException - {"type":"error","error":'
        '{"type":"authentication_error","message":"invalid x-api-key"}}\n'
        "The API provider is not able to authenticate you. Check your API key.\n"
    )
    usage = parse_usage("aider_text", failed)
    assert usage is not None
    assert usage.error is not None
    assert usage.error.startswith("litellm.AuthenticationError: AnthropicException")
    assert usage.tokens == 0

    recovered = (
        "litellm.InternalServerError: AnthropicException - Overloaded\n"
        "Retrying in 0.2 seconds...\n" + AIDER_TWO_MESSAGES
    )
    assert parse_usage("aider_text", recovered).error is None


# --- every parser ---------------------------------------------------------------------------------

GARBAGE = [
    "",
    "\n\n  \n",
    "{",
    '{"type": "result", "usage": {"input_tokens": 5',
    "null",
    "[1, 2, 3]",
    '"result"',
    "{}\n{}\n",
    '{"type":"thread.started","thread_id":"t"}\n{"type":"turn.started"}',
    "\x00\xff\ufffd binary \x1b[31m",
    "[" * 100_000,
    "{" * 100_000,
    '{"a":' * 50_000,
    "Tokens: many sent, few received.",
    "Cost: $0.02 message, $0.05 session.",
    "Model: gpt-4o with diff edit format",
    CLAUDE_JSON[: len(CLAUDE_JSON) // 2],
]


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("output", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_empty_and_truncated_output_gives_none(parser: str, output: str) -> None:
    assert parse_usage(parser, output) is None


def test_odd_field_types_in_a_recognised_result_count_as_nothing() -> None:
    odd = {
        "type": "result",
        "is_error": "yes",
        "subtype": 7,
        "usage": {"input_tokens": "12", "output_tokens": -3, "cache_read_input_tokens": True},
        "modelUsage": {"m": "big", "n": {"costUSD": "free"}},
        "total_cost_usd": float("nan"),
        "cost_usd": -1,
        "errors": "oops",
    }
    assert parse_usage("claude_json", json.dumps(odd)) == Usage(model="m")
    assert parse_usage("codex_jsonl", '{"type":"turn.completed","usage":[1]}') == Usage()
    assert parse_usage("codex_jsonl", '{"type":"turn.failed","error":"x"}') == Usage(
        error="turn.failed"
    )


def test_the_none_parser_reads_nothing() -> None:
    assert parse_usage("none", CLAUDE_JSON) is None


def test_an_unknown_parser_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown usage parser 'gemini'"):
        parse_usage("gemini", CLAUDE_JSON)


# --- cost -----------------------------------------------------------------------------------------


def test_estimate_cost_prices_cache_reads_at_a_tenth_and_writes_at_five_quarters() -> None:
    price = {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "currency": "USD"}
    assert estimate_cost(Usage(tokens_in=1_000_000, tokens_out=1_000_000), price) == 18.0
    cached = Usage(
        tokens_in=2_000, tokens_out=500, cache_read_tokens=10_000, cache_write_tokens=4_000
    )
    expected = (2_000 * 3 + 10_000 * 0.3 + 4_000 * 3.75 + 500 * 15) / 1_000_000
    assert estimate_cost(cached, price) == pytest.approx(expected)
    assert estimate_cost(Usage(), price) == 0.0
    assert estimate_cost(cached, None) is None


# --- the cost_record.v1 usage object --------------------------------------------------------------

USAGE_SCHEMA = {"$ref": "https://uet.dev/schema/cost_record.v1.json#/$defs/usage"}


@pytest.mark.parametrize(
    "usage",
    [
        Usage(),
        parse_usage("claude_json", CLAUDE_JSON),
        parse_usage("codex_jsonl", CODEX_RUN),
        parse_usage("aider_text", AIDER_CACHED_RUN),
        Usage(tokens_in=1, error="boom"),
    ],
)
def test_usage_document_is_a_valid_cost_record_usage(usage: Usage) -> None:
    document = usage.document()
    assert registry().issues_against(document, USAGE_SCHEMA) == []
    record = {
        "schema_version": "cost_record.v1",
        "cost_id": new_id(),
        "subject": {"kind": "attempt", "id": new_id()},
        "resource_type": "llm_tokens",
        "model": usage.model,
        "usage": document,
        "recorded_at": now(),
    }
    assert issues(record, "cost_record.v1") == []
    assert "error" not in document


# --- the fake CLIs --------------------------------------------------------------------------------

RunAgent = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_agent(tmp_path: Path, plain_subprocesses: None) -> RunAgent:
    """Run a fake agent CLI from tests/agents, found on PATH under the real CLI's name, in
    ``tmp_path/work`` with ``FAKE_AGENT_*`` variables, stdin closed and argv as a list."""
    work = tmp_path / "work"
    work.mkdir()

    def run(
        argv: list[str],
        cwd: Path = work,
        timeout: float = 30,
        extra_env: Mapping[str, str] | None = None,
        **fake: str,
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_AGENT_")}
        env.update(extra_env or {})
        env["PATH"] = f"{AGENTS}{os.pathsep}{env.get('PATH', '')}"
        env.update({f"FAKE_AGENT_{name.upper()}": value for name, value in fake.items()})
        return subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


PROMPT = "Add a greeting"
CLIS = {
    # name: (argv of a typical run, its usage parser)
    "claude": (["claude", "-p", PROMPT, "--output-format", "json"], "claude_json"),
    "codex": (["codex", "exec", "--json", PROMPT], "codex_jsonl"),
    "aider": (
        ["aider", "--yes-always", "--no-auto-commits", "--message", PROMPT, "greet.py"],
        "aider_text",
    ),
}
EDITS = {"greet.py": "print('hello')\n", "pkg/sub/mod.py": "X = 1\n"}


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_fake_cli_reports_usage_in_the_real_format_and_edits_the_working_directory(
    cli: str, run_agent: RunAgent, tmp_path: Path
) -> None:
    """The fakes print exactly the real CLI's output format (the real CLIs and LLMs cannot be
    reached here), so parse_usage reads what the environment told them to report."""
    argv, parser = CLIS[cli]
    done = run_agent(
        argv,
        edits=json.dumps(EDITS),
        tokens_in="2400",
        tokens_out="600",
        cost="0.42",
        model="test-model-1",
    )
    assert done.returncode == 0, done.stderr
    usage = parse_usage(parser, done.stdout)
    assert usage is not None
    assert (usage.tokens_in, usage.tokens_out, usage.error) == (2400, 600, None)
    if cli == "codex":  # codex names no model and no cost
        assert (usage.model, usage.reported_cost) == (None, None)
    else:
        assert (usage.model, usage.reported_cost) == ("test-model-1", 0.42)
    for relative, content in EDITS.items():
        assert (tmp_path / "work" / relative).read_text() == content


@pytest.mark.parametrize("cli", ["claude", "aider"])
def test_fake_cli_model_option_wins_over_the_environment(cli: str, run_agent: RunAgent) -> None:
    """The fakes print exactly the real CLI's output format (the real CLIs and LLMs cannot be
    reached here); ``--model`` on the command line names the model they report."""
    argv, parser = CLIS[cli]
    done = run_agent([*argv, "--model", "from-the-command-line"], model="from-the-environment")
    assert parse_usage(parser, done.stdout).model == "from-the-command-line"


def test_fake_cli_defaults(run_agent: RunAgent) -> None:
    """The fakes print exactly the real CLI's output format (the real CLIs and LLMs cannot be
    reached here); without instructions they report 1200 tokens in, 300 out, and no edits."""
    for cli, (argv, parser) in CLIS.items():
        done = run_agent(argv)
        usage = parse_usage(parser, done.stdout)
        assert (usage.tokens_in, usage.tokens_out) == (1200, 300), cli
    claude = parse_usage("claude_json", run_agent(CLIS["claude"][0]).stdout)
    assert claude.model == "claude-sonnet-4-5-20250929"
    assert claude.reported_cost == pytest.approx((1200 * 3 + 300 * 15) / 1_000_000)


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_fake_cli_failure_is_reported_in_the_output_and_the_exit_status(
    cli: str, run_agent: RunAgent
) -> None:
    """The fakes print exactly the real CLI's output format (the real CLIs and LLMs cannot be
    reached here), failures included: claude's is_error result, codex's turn.failed event,
    aider's litellm error line."""
    argv, parser = CLIS[cli]
    done = run_agent(argv, fail="model overloaded, try later")
    assert done.returncode != 0
    usage = parse_usage(parser, done.stdout)
    assert usage is not None
    assert usage.error is not None
    assert "model overloaded, try later" in usage.error


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_fake_cli_receives_a_prompt_with_shell_metacharacters_byte_for_byte(
    cli: str, run_agent: RunAgent, tmp_path: Path
) -> None:
    """The fakes print exactly the real CLI's output format (the real CLIs and LLMs cannot be
    reached here) and record the argv they were given: a prompt full of shell syntax arrives
    as one argument, unchanged, and nothing of it runs."""
    prompt = "$(rm -rf /); echo \"x\" | cat > y && 'q' `id` ${HOME} *\n\ttab \\ ünï"
    argv, _ = CLIS[cli]
    argv = [prompt if arg == PROMPT else arg for arg in argv]
    record = tmp_path / "calls.jsonl"
    done = run_agent(argv, record=str(record))
    assert done.returncode == 0, done.stderr
    (call,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert call == {
        "cli": cli,
        "argv": argv[1:],
        "cwd": str(tmp_path / "work"),
        "stdin_closed": True,
    }
    assert not (tmp_path / "work" / "y").exists()


def test_fake_cli_versions_and_unknown_options(run_agent: RunAgent) -> None:
    """The fakes answer ``--version`` as the real CLIs do and, like them, refuse an unknown
    option with status 2 (the real CLIs cannot be reached here to compare)."""
    versions = {
        "claude": "2.0.14 (Claude Code)",
        "codex": "codex-cli 0.46.0",
        "aider": "aider 0.86.1",
    }
    for cli, version in versions.items():
        assert run_agent([cli, "--version"]).stdout == version + "\n"
        refused = run_agent([cli, "--no-such-option"])
        assert refused.returncode == 2
        assert "--no-such-option" in refused.stderr


def test_fake_cli_echoes_a_variable_to_both_streams_and_the_output_still_parses(
    run_agent: RunAgent,
) -> None:
    """The fakes print exactly the real CLI's output format (the real CLIs and LLMs cannot be
    reached here); FAKE_AGENT_ECHO_ENV adds a line to stdout and stderr, as a leaky tool would,
    for tests that check secrets are redacted from logs."""
    argv, parser = CLIS["claude"]
    secret = {"UET_TEST_SECRET": "hunter2-not-a-real-key"}
    done = run_agent(argv, extra_env=secret, echo_env="UET_TEST_SECRET", tokens_in="77")
    assert "hunter2-not-a-real-key" in done.stdout
    assert "hunter2-not-a-real-key" in done.stderr
    assert parse_usage(parser, done.stdout).tokens_in == 77


def test_fake_codex_works_in_the_directory_given_by_cd(run_agent: RunAgent, tmp_path: Path) -> None:
    """The fake codex prints exactly the real CLI's output format (the real CLI and LLM cannot
    be reached here), file_change items included, and ``-C DIR`` moves its edits to DIR."""
    other = tmp_path / "other"
    other.mkdir()
    done = run_agent(["codex", "exec", "--json", "-C", str(other), PROMPT], edits='{"a.txt": "A"}')
    assert (other / "a.txt").read_text() == "A"
    assert not (tmp_path / "work" / "a.txt").exists()
    events = [json.loads(line) for line in done.stdout.splitlines()]
    changes = [
        e["item"]["changes"] for e in events if e.get("item", {}).get("type") == "file_change"
    ]
    assert changes == [[{"path": str(other / "a.txt"), "kind": "add"}]]
    assert [e["type"] for e in events][:2] == ["thread.started", "turn.started"]
    assert events[-1]["type"] == "turn.completed"


def test_fake_cli_sleeps_on_request(run_agent: RunAgent) -> None:
    """FAKE_AGENT_SLEEP holds the fake's answer back, for timeout tests (the real CLIs cannot
    be reached here to be slow on purpose)."""
    with pytest.raises(subprocess.TimeoutExpired):
        run_agent(CLIS["claude"][0], sleep="30", timeout=1)
