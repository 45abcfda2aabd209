"""The router config (router_config.v1) and what a task gets from it: checking a config for
meaning (every problem with its JSON path), the tool entries it defines, routing a task spec
to a route, expanding argv templates, and rendering the prompt an agent tool is given.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.engine.routing.config import (
    CIRCUIT_DEFAULTS,
    Route,
    RouterConfig,
    check_router,
    find_router,
    load_router,
)
from core.engine.routing.prompt import render_prompt
from core.engine.routing.templates import PLACEHOLDERS, expand, template_issues, uses
from core.errors import DocumentInvalid


def router(tools: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A router_config.v1 document; tools default to three plain commands a, b, c."""
    if tools is None:
        tools = {name: {"argv": [name, "{prompt}"]} for name in ("a", "b", "c")}
    return {"schema_version": "router_config.v1", "tools": tools, **top}


def problems(document: Any) -> dict[str, str]:
    """path -> message of every issue check_router finds (and asserts it finds some)."""
    with pytest.raises(DocumentInvalid) as caught:
        check_router(document, "router.json")
    assert caught.value.exit_code == 2
    assert caught.value.source == "router.json"
    found: dict[str, str] = {}
    for issue in caught.value.issues:
        assert issue.source == "router.json"
        found.setdefault(issue.path, issue.message)
    return found


# --- checking a config --------------------------------------------------------------------------


def test_a_valid_config_loads_with_its_tools() -> None:
    config = check_router(router(rules=[{"id": "r", "candidates": ["a", "b"]}]), "x.json")
    assert isinstance(config, RouterConfig)
    assert config.source == "x.json"
    assert sorted(config.tools) == ["a", "b", "c"]
    assert config.tools["b"].id == "b"
    assert config.tools["b"].argv == ["b", "{prompt}"]


def test_the_config_keeps_a_copy_of_the_document() -> None:
    document = router(rules=[{"id": "r", "candidates": ["a"]}])
    config = check_router(document)
    document["rules"][0]["candidates"].append("b")
    assert config.document["rules"][0]["candidates"] == ["a"]


def test_a_rule_candidate_naming_an_unknown_tool_is_reported_with_a_hint() -> None:
    tools = {"claude": {"argv": ["claude", "{prompt}"]}, "codex": {"argv": ["codex", "{prompt}"]}}
    found = problems(router(tools, rules=[{"id": "r", "candidates": ["codex", "claud"]}]))
    assert list(found) == ["$.rules[0].candidates[1]"]
    message = found["$.rules[0].candidates[1]"]
    assert "unknown tool 'claud'" in message
    assert "did you mean 'claude'?" in message
    assert "claude, codex" in message  # the configured tools are listed


def test_an_unknown_tool_with_nothing_close_gets_no_hint() -> None:
    found = problems(router(rules=[{"id": "r", "candidates": ["zzzzzz"]}]))
    assert "did you mean" not in found["$.rules[0].candidates[0]"]
    assert "configured: a, b, c" in found["$.rules[0].candidates[0]"]


def test_an_unknown_default_tool_is_reported() -> None:
    found = problems(router(defaults={"tool": "d"}))
    assert list(found) == ["$.defaults.tool"]
    assert "unknown tool 'd'" in found["$.defaults.tool"]


def test_a_rule_with_no_candidates_fails_the_schema() -> None:
    found = problems(router(rules=[{"id": "r", "candidates": []}]))
    assert "$.rules[0].candidates" in found


def test_an_unknown_placeholder_is_reported_at_its_argv_item() -> None:
    tools = {"x": {"argv": ["x", "--print", "{promt}"]}}
    found = problems(router(tools))
    assert list(found) == ["$.tools.x.argv[2]"]
    assert "unknown placeholder {promt}" in found["$.tools.x.argv[2]"]
    assert "{prompt}" in found["$.tools.x.argv[2]"]  # the known ones are listed


def test_a_placeholder_inside_text_is_refused() -> None:
    found = problems(router({"x": {"argv": ["x", "--msg={prompt}"]}}))
    assert list(found) == ["$.tools.x.argv[1]"]
    assert "must be a whole argv item" in found["$.tools.x.argv[1]"]


def test_version_argv_is_checked_too() -> None:
    found = problems(router({"x": {"argv": ["x"], "version_argv": ["x", "{version}"]}}))
    assert list(found) == ["$.tools.x.version_argv[1]"]


def test_a_secret_looking_env_var_is_refused() -> None:
    tools = {"x": {"argv": ["x"], "env": {"OPENAI_API_KEY": "sk-1", "LANG": "C"}}}
    found = problems(router(tools))
    assert list(found) == ["$.tools.x.env.OPENAI_API_KEY"]
    assert "secret" in found["$.tools.x.env.OPENAI_API_KEY"]


def test_every_problem_is_listed_at_once() -> None:
    tools = {
        "x": {"argv": ["x", "{promt}"], "env": {"GITHUB_TOKEN": "t"}},
        "y": {"argv": ["y", "--m={prompt}"]},
    }
    document = router(
        tools,
        rules=[{"id": "r", "candidates": ["x", "w"]}, {"id": "s", "candidates": []}],
        defaults={"tool": "q"},
    )
    with pytest.raises(DocumentInvalid) as caught:
        check_router(document, "router.json")
    paths = {issue.path for issue in caught.value.issues}
    assert paths >= {
        "$.tools.x.argv[1]",
        "$.tools.x.env.GITHUB_TOKEN",
        "$.tools.y.argv[1]",
        "$.rules[0].candidates[1]",
        "$.rules[1].candidates",
        "$.defaults.tool",
    }
    assert f"{len(caught.value.issues)} problems" in str(caught.value)
    for path in paths:
        assert path in str(caught.value)


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(DocumentInvalid):
        check_router(["not", "a", "config"])


def test_unknown_keys_and_strategies_fail_the_schema() -> None:
    found = problems(router(rules=[{"id": "r", "candidates": ["a"], "strategy": "random"}]))
    assert "$.rules[0].strategy" in found


def test_the_document_invalid_error_pickles() -> None:
    import pickle

    with pytest.raises(DocumentInvalid) as caught:
        check_router(router(defaults={"tool": "nope"}), "r.json")
    again = pickle.loads(pickle.dumps(caught.value))
    assert again.issues == caught.value.issues
    assert str(again) == str(caught.value)


# --- loading and finding the file ---------------------------------------------------------------


def test_load_router_reads_and_checks_a_file(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    path.write_text(json.dumps(router(defaults={"tool": "a"})), encoding="utf-8")
    config = load_router(path)
    assert config.source == str(path)
    assert config.route_for({"task_id": "t", "kind": "docs"}) == Route(("a",), "fixed")


def test_load_router_names_the_file_in_its_issues(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    path.write_text(json.dumps(router(defaults={"tool": "nope"})), encoding="utf-8")
    with pytest.raises(DocumentInvalid) as caught:
        load_router(path)
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)


def _git_init(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)


def test_find_router_looks_in_the_start_folder_and_its_parents(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _git_init(repo)
    (repo / ".uet").mkdir()
    config = repo / ".uet" / "router_config.json"
    config.write_text("{}", encoding="utf-8")
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_router(repo) == config
    assert find_router(deep) == config


def test_find_router_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".uet").mkdir()
    (tmp_path / ".uet" / "router_config.json").write_text("{}", encoding="utf-8")
    repo = tmp_path / "repo"
    _git_init(repo)
    (repo / "sub").mkdir()
    assert find_router(repo / "sub") is None
    assert find_router(repo) is None


def test_find_router_ignores_a_folder_named_like_the_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _git_init(repo)
    (repo / ".uet" / "router_config.json").mkdir(parents=True)
    assert find_router(repo) is None


# --- tools --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "parser"),
    [
        ("claude_code", "claude_json"),
        ("codex", "codex_jsonl"),
        ("aider", "aider_text"),
        ("command", "none"),
        (None, "none"),
    ],
)
def test_the_usage_parser_defaults_from_the_adapter(adapter: str | None, parser: str) -> None:
    spec: dict[str, Any] = {"argv": ["t"]}
    if adapter:
        spec["adapter"] = adapter
    assert check_router(router({"t": spec})).tools["t"].usage_parser == parser


def test_an_explicit_usage_parser_wins_over_the_adapter() -> None:
    spec = {"argv": ["t"], "adapter": "claude_code", "usage": "none"}
    assert check_router(router({"t": spec})).tools["t"].usage_parser == "none"
    spec = {"argv": ["t"], "adapter": "command", "usage": "aider_text"}
    assert check_router(router({"t": spec})).tools["t"].usage_parser == "aider_text"


def test_tool_flags_limits_and_task_kinds() -> None:
    tools = {
        "w": {
            "argv": ["w"],
            "writes": True,
            "limits": {"max_parallel": 2, "requests_per_minute": 30},
            "capabilities": {"task_kinds": ["codemod", "docs"]},
        },
        "r": {"argv": ["r"], "capabilities": {"languages": ["python"]}},
    }
    config = check_router(router(tools))
    w, r = config.tools["w"], config.tools["r"]
    assert w.writes is True
    assert r.writes is False
    assert w.limits == {"max_parallel": 2, "requests_per_minute": 30}
    assert r.limits == {}
    assert w.task_kinds == ["codemod", "docs"]
    assert r.task_kinds is None  # no kinds listed: takes every kind


PRICING: dict[str, dict[str, Any]] = {
    "small": {"input_per_mtok": 1.0, "output_per_mtok": 5.0},
    "large": {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "currency": "EUR"},
}


def test_price_picks_the_named_model_then_the_default_model() -> None:
    spec = {"argv": ["t"], "pricing": PRICING, "default_model": "large"}
    tool = check_router(router({"t": spec})).tools["t"]
    assert tool.price("small") == PRICING["small"]
    assert tool.price(None) == PRICING["large"]
    assert tool.price("unpriced") == PRICING["large"]
    assert tool.list_price == 18.0


def test_price_of_a_tool_with_several_models_and_no_default_is_unknown() -> None:
    tool = check_router(router({"t": {"argv": ["t"], "pricing": PRICING}})).tools["t"]
    assert tool.price("large") == PRICING["large"]
    assert tool.price(None) is None
    assert tool.price("other") is None
    assert tool.list_price is None


def test_price_of_a_tool_with_one_model_is_that_model() -> None:
    spec = {"argv": ["t"], "pricing": {"only": PRICING["small"]}}
    tool = check_router(router({"t": spec})).tools["t"]
    assert tool.price(None) == PRICING["small"]
    assert tool.price("anything") == PRICING["small"]
    assert tool.list_price == 6.0


def test_an_unpriced_tool_has_no_price() -> None:
    tool = check_router(router()).tools["a"]
    assert tool.price(None) is None
    assert tool.list_price is None


def test_price_returns_a_copy() -> None:
    spec = {"argv": ["t"], "pricing": {"only": dict(PRICING["small"])}}
    tool = check_router(router({"t": spec})).tools["t"]
    price = tool.price(None)
    assert price is not None
    price["input_per_mtok"] = 99.0  # type: ignore[index]
    assert tool.price(None) == PRICING["small"]


def test_circuit_settings_merge_builtin_defaults_config_defaults_and_the_tool() -> None:
    tools = {
        "plain": {"argv": ["p"]},
        "own": {"argv": ["o"], "circuit": {"recovery_seconds": 5}},
    }
    config = check_router(router(tools, defaults={"circuit": {"failure_threshold": 7}}))
    assert config.tools["plain"].circuit == {**CIRCUIT_DEFAULTS, "failure_threshold": 7}
    assert config.tools["own"].circuit == {
        "failure_threshold": 7,
        "recovery_seconds": 5,
        "half_open_probes": CIRCUIT_DEFAULTS["half_open_probes"],
    }


def test_circuit_settings_without_any_defaults_are_the_builtin_ones() -> None:
    assert check_router(router()).tools["a"].circuit == CIRCUIT_DEFAULTS
    assert CIRCUIT_DEFAULTS == {
        "failure_threshold": 3,
        "recovery_seconds": 60.0,
        "half_open_probes": 1,
    }


# --- routing a task -----------------------------------------------------------------------------

RULES = [
    {"id": "risky", "match": {"kind": ["codemod"], "risk": ["high"]}, "candidates": ["c"]},
    {
        "id": "codemods",
        "match": {"kind": ["codemod"]},
        "candidates": ["a", "b"],
        "strategy": "cost_optimized",
    },
    {
        "id": "simple-docs",
        "match": {"kind": ["docs"], "complexity": ["low"]},
        "candidates": ["b", "c"],
        "strategy": "best_of_n",
        "n": 2,
        "pick": "cheapest",
    },
    {"id": "medium-any", "match": {"risk": ["medium"]}, "candidates": ["c", "a"]},
]


@pytest.fixture
def routed() -> RouterConfig:
    return check_router(router(rules=RULES))


def test_a_task_naming_a_tool_is_routed_to_it_alone(routed: RouterConfig) -> None:
    route = routed.route_for({"task_id": "t", "tool": "b", "kind": "codemod"})
    assert route == Route(("b",), "fixed", None, None, "first")


def test_the_first_matching_rule_wins(routed: RouterConfig) -> None:
    route = routed.route_for({"task_id": "t", "kind": "codemod", "risk": "high"})
    assert route is not None
    assert (route.rule, route.candidates, route.strategy) == ("risky", ("c",), "fixed")
    route = routed.route_for({"task_id": "t", "kind": "codemod", "risk": "low"})
    assert route is not None
    assert (route.rule, route.candidates, route.strategy) == (
        "codemods",
        ("a", "b"),
        "cost_optimized",
    )


def test_unspecified_risk_and_complexity_count_as_medium(routed: RouterConfig) -> None:
    # no complexity: medium, so the docs rule (complexity low) does not match; no risk: medium,
    # so the catch-all medium-risk rule does.
    route = routed.route_for({"task_id": "t", "kind": "docs"})
    assert route is not None
    assert route.rule == "medium-any"
    route = routed.route_for({"task_id": "t", "kind": "docs", "complexity": "low"})
    assert route is not None
    assert route.rule == "simple-docs"
    assert (route.strategy, route.n, route.pick, route.branches) == ("best_of_n", 2, "cheapest", 2)
    # a high-risk docs task of medium complexity matches nothing
    assert routed.route_for({"task_id": "t", "kind": "docs", "risk": "high"}) is None


def test_a_rule_with_several_candidates_and_no_strategy_uses_the_default(
    routed: RouterConfig,
) -> None:
    route = routed.route_for({"task_id": "t", "kind": "lint"})
    assert route is not None
    assert (route.rule, route.candidates, route.strategy) == ("medium-any", ("c", "a"), "fallback")
    config = check_router(router(rules=RULES, defaults={"strategy": "round_robin"}))
    route = config.route_for({"task_id": "t", "kind": "lint"})
    assert route is not None
    assert route.strategy == "round_robin"


def test_the_task_route_overrides_the_rule(routed: RouterConfig) -> None:
    spec = {
        "task_id": "t",
        "kind": "codemod",
        "route": {"candidates": ["c", "b", "a"], "strategy": "shadow", "n": 2, "pick": "cheapest"},
    }
    route = routed.route_for(spec)
    assert route == Route(("c", "b", "a"), "shadow", "codemods", 2, "cheapest")


def test_a_task_route_with_only_a_strategy_keeps_the_rule_candidates(
    routed: RouterConfig,
) -> None:
    route = routed.route_for({"task_id": "t", "kind": "codemod", "route": {"strategy": "fixed"}})
    assert route is not None
    assert (route.candidates, route.strategy, route.rule) == (("a", "b"), "fixed", "codemods")


def test_a_task_route_n_overrides_the_rule_n(routed: RouterConfig) -> None:
    spec = {"task_id": "t", "kind": "docs", "complexity": "low", "route": {"n": 1}}
    route = routed.route_for(spec)
    assert route is not None
    assert route.n == 1
    assert route.branches == 1


def test_a_task_route_routes_a_task_no_rule_matches() -> None:
    config = check_router(router())
    route = config.route_for({"task_id": "t", "kind": "x", "route": {"candidates": ["b", "a"]}})
    assert route == Route(("b", "a"), "fallback", None, None, "first")


def test_nothing_routes_a_task_no_rule_matches_without_a_default_tool(
    routed: RouterConfig,
) -> None:
    assert routed.route_for({"task_id": "t", "kind": "docs", "risk": "low"}) is None
    assert check_router(router()).route_for({"task_id": "t", "kind": "docs"}) is None
    assert check_router(router(rules=RULES)).route_for({"task_id": "t", "run": ["true"]}) is None


def test_the_default_tool_routes_what_no_rule_matches() -> None:
    config = check_router(router(rules=RULES, defaults={"tool": "b"}))
    route = config.route_for({"task_id": "t", "kind": "docs", "risk": "low"})
    assert route == Route(("b",), "fixed", None, None, "first")
    # a matching rule still wins over the default
    route = config.route_for({"task_id": "t", "kind": "codemod"})
    assert route is not None
    assert route.rule == "codemods"


def test_a_route_round_trips_through_its_document() -> None:
    route = Route(("a", "b"), "best_of_n", "r", 2, "cheapest")
    assert Route.from_document(json.loads(json.dumps(route.document()))) == route
    plain = Route(("a",))
    assert "n" not in plain.document()
    assert Route.from_document(plain.document()) == plain


@pytest.mark.parametrize(
    ("strategy", "n", "branches"),
    [
        ("fallback", 3, 1),
        ("best_of_n", None, 3),
        ("best_of_n", 2, 2),
        ("best_of_n", 9, 3),
        ("shadow", None, 3),
        ("shadow", 1, 1),
    ],
)
def test_branches(strategy: str, n: int | None, branches: int) -> None:
    assert Route(("a", "b", "c"), strategy, n=n).branches == branches


# --- argv templates -----------------------------------------------------------------------------


def test_files_expand_to_one_item_per_file_and_none_when_empty() -> None:
    argv = ["tool", "--files", "{files}", "--end"]
    assert expand(argv, {"files": ["a.py", "b c.py"]}) == [
        "tool",
        "--files",
        "a.py",
        "b c.py",
        "--end",
    ]
    assert expand(argv, {"files": []}) == ["tool", "--files", "--end"]


def test_feedback_expands_to_nothing_when_there_is_none() -> None:
    argv = ["tool", "{feedback}", "{prompt}"]
    assert expand(argv, {"feedback": [], "prompt": ["p"]}) == ["tool", "p"]
    assert expand(argv, {"feedback": ["it failed"], "prompt": ["p"]}) == ["tool", "it failed", "p"]


HOSTILE = "fix it; rm -rf / && echo $(whoami) `id` | cat > /tmp/x\n'quoted' \"double\" {files} *"


def test_a_prompt_with_shell_metacharacters_stays_one_item_unchanged() -> None:
    argv = ["tool", "-p", "{prompt}", "{files}"]
    expanded = expand(argv, {"prompt": [HOSTILE], "files": ["f.py"]})
    assert expanded == ["tool", "-p", HOSTILE, "f.py"]


def test_the_prompt_reaches_a_real_process_byte_for_byte(tmp_path: Path) -> None:
    echo = "import sys, json; print(json.dumps(sys.argv[1:]))"
    argv = expand(
        [sys.executable, "-c", echo, "{prompt}", "{worktree}", "{files}"],
        {"prompt": [HOSTILE], "worktree": [str(tmp_path)], "files": []},
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [HOSTILE, str(tmp_path)]
    assert not (tmp_path / "x").exists()


def test_items_that_are_not_placeholders_stay_as_they_are() -> None:
    argv = ["tool", "{unknown}", "--x={prompt}", "{}", "{0}"]
    assert expand(argv, {"prompt": ["p"]}) == argv


def test_template_issues() -> None:
    argv = ["t", "{prompt}", "{files}", "{promt}", "--m={prompt}", "{0}", "{prompt}{files}"]
    found = list(template_issues(argv))
    assert [index for index, _ in found] == [3, 4, 6, 6]
    assert "unknown placeholder {promt}" in found[0][1]
    assert "must be a whole argv item" in found[1][1]
    assert list(template_issues([f"{{{name}}}" for name in PLACEHOLDERS])) == []


def test_uses() -> None:
    assert uses(["t", "{prompt_file}"], "prompt_file")
    assert not uses(["t", "{prompt}"], "prompt_file")
    assert not uses(["t", "--f={prompt_file}"], "prompt_file")


# --- prompts ------------------------------------------------------------------------------------

REQUEST: dict[str, Any] = {
    "task_id": "rename",
    "prompt": "Rename fetch_user to load_user everywhere.",
    "files": ["src/users.py", "tests/test_users.py"],
    "scope": {"write": ["src/**", "tests/**"], "forbidden": ["secrets/**"]},
    "patch_policy": {
        "forbidden": ["secrets/**", "migrations/**"],
        "max_files": 4,
        "max_changed_lines": 120,
        "allow_binary": False,
    },
    "acceptance": ["no call to fetch_user remains"],
    "gates": ["pytest", "ruff"],
    "writes": True,
}


def test_the_prompt_has_every_section_in_order() -> None:
    text = render_prompt(REQUEST)
    assert text.startswith("Rename fetch_user to load_user everywhere.\n")
    order = ["## Files in scope", "## Constraints", "## Acceptance"]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "- src/users.py\n- tests/test_users.py" in text
    assert "only change files matching: src/**, tests/**" in text
    assert "never touch: secrets/**, migrations/**" in text  # deduplicated, in order
    assert text.count("secrets/**") == 1
    assert "change at most 4 files" in text
    assert "change at most 120 lines" in text
    assert "no binary files" in text
    assert "do not commit" in text
    assert "- no call to fetch_user remains" in text
    assert "- the `pytest` gate passes" in text
    assert "- the `ruff` gate passes" in text
    assert "previous attempt" not in text
    assert text.endswith("\n")


def test_the_feedback_section_comes_last_and_only_with_feedback() -> None:
    text = render_prompt(REQUEST, "  test_users.py::test_load failed: NameError  \n")
    section = "## The previous attempt failed\ntest_users.py::test_load failed: NameError\n"
    assert text.endswith(section)
    assert text.index("## Acceptance") < text.index("## The previous attempt failed")
    assert "previous attempt" not in render_prompt(REQUEST, None)
    assert "previous attempt" not in render_prompt(REQUEST, "")


def test_the_write_scope_comes_from_the_patch_policy_when_the_scope_has_none() -> None:
    request = {"task_id": "t", "patch_policy": {"write_scope": ["docs/**"]}}
    assert "only change files matching: docs/**" in render_prompt(request)


def test_a_bare_request_gets_only_a_default_objective() -> None:
    text = render_prompt({"task_id": "bare"})
    assert text == "Complete task bare.\n"
    assert "##" not in text


def test_binary_files_allowed_or_unstated_add_no_constraint() -> None:
    for policy in ({"allow_binary": True}, {}):
        text = render_prompt({"task_id": "t", "prompt": "p", "patch_policy": policy})
        assert "binary" not in text
        assert "## Constraints" not in text


def test_a_prompt_renders_hostile_text_verbatim() -> None:
    text = render_prompt({"task_id": "t", "prompt": HOSTILE, "files": ["$(id).py"]})
    assert text.startswith(HOSTILE)
    assert "- $(id).py" in text
