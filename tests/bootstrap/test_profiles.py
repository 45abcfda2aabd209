"""Domain profiles: the shipped ones are valid and coherent, the loader catches broken copies
(each problem with its file and JSON path), unknown ids get a suggestion, and `uet profiles`
lists and shows them as text and JSON."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from core.bootstrap.profiles import (
    Profile,
    ProfilesInvalid,
    UnknownProfile,
    get_profile,
    load_profiles,
    profiles_dir,
)
from core.contracts import issues
from core.engine.gates import GateDefinition
from core.engine.patches.policy import matches
from core.errors import EXIT_INVALID, InvalidInput

Invoke = Callable[..., Result]

SHIPPED = {
    "software-dev-python",
    "software-dev-javascript",
    "software-dev-generic",
    "data-pipeline",
    "documentation",
    "operations",
    "generic",
}
SOFTWARE_PHASES = {"core-development", "refactor", "tests", "documentation", "error-fixing"}
ROUTED_TOOLS = {"claude", "codex", "aider", "ruff", "prettier", "sqlfluff"}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Profile]:
    return load_profiles()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the shipped profiles, to break."""
    target = tmp_path / "profiles"
    shutil.copytree(profiles_dir(), target, ignore=shutil.ignore_patterns("*.md"))
    return target


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ProfilesInvalid) as caught:
        load_profiles(folder)
    return [str(issue) for issue in caught.value.issues]


# -- the shipped profiles ---------------------------------------------------------------------


def test_every_shipped_profile_and_phase_template_validates(shipped: dict[str, Profile]) -> None:
    assert set(shipped) == SHIPPED
    for profile_id, profile in shipped.items():
        assert profile.path == profiles_dir() / profile_id
        assert issues(profile.document, "profile.v1") == []
        assert list(profile.phases) == profile.document["phase_templates"]
        on_disk = sorted(path.stem for path in (profile.path / "phase_templates").glob("*.json"))
        assert sorted(profile.phases) == on_disk
        for phase_id, phase in profile.phases.items():
            assert issues(phase, "phase_spec.v1") == [], (profile_id, phase_id)
            assert phase["phase_id"] == phase_id
            assert set(phase.get("gates", [])) <= set(profile.default_gates)
            assert set(phase.get("task_kinds", [])) <= set(profile.task_kinds)
            assert phase["scope"]["write"], (profile_id, phase_id)


def test_phases_fit_each_domain(shipped: dict[str, Profile]) -> None:
    for profile_id in ("software-dev-python", "software-dev-javascript", "software-dev-generic"):
        assert set(shipped[profile_id].phase_ids) == SOFTWARE_PHASES
    assert shipped["data-pipeline"].phase_ids == (
        "models",
        "transformations",
        "data-tests",
        "documentation",
        "error-fixing",
    )
    assert shipped["documentation"].phase_ids == ("writing", "editing", "link-fixing")
    assert set(shipped["operations"].phase_ids) == {
        "infrastructure-change",
        "config-validation",
        "documentation",
        "error-fixing",
    }
    assert shipped["generic"].phase_ids == ("general", "documentation")


def test_every_default_gate_is_a_gate_definition_naming_its_programs(
    shipped: dict[str, Profile],
) -> None:
    for profile in shipped.values():
        for name, document in profile.default_gates.items():
            gate = GateDefinition.from_document(name, document)
            assert gate.requires, f"{profile.id}: gate {name!r} requires nothing"
            assert gate.timeout_seconds is not None
            assert gate.type is not None


def test_python_gates(shipped: dict[str, Profile]) -> None:
    gates = shipped["software-dev-python"].default_gates
    assert gates["lint"]["run"] == ["ruff", "check", "."]
    assert gates["lint"]["requires"] == ["ruff"]
    assert gates["typecheck"]["run"] == ["mypy", "."]
    assert "when configured" in gates["typecheck"]["description"]
    unit = GateDefinition.from_document("unit", gates["unit"])
    assert unit.run == ("python", "-m", "pytest", "-q")
    assert unit.requires == ("pytest",)
    assert unit.blocking
    # The gate runner adds --junitxml to pytest commands itself: the profile must not.
    assert unit.junit_xml is None
    assert not any(arg.startswith("--junit") for arg in unit.run)


def test_advisory_gates_do_not_block(shipped: dict[str, Profile]) -> None:
    advisory = {
        ("software-dev-javascript", "lint"),
        ("documentation", "markdown-lint"),
        ("documentation", "links"),
        ("data-pipeline", "sql-lint"),
        ("operations", "yaml-lint"),
    }
    for profile_id, name in advisory:
        assert shipped[profile_id].default_gates[name]["blocking"] is False, (profile_id, name)
    js = shipped["software-dev-javascript"].default_gates
    assert js["unit"]["run"] == ["npm", "test"]
    assert js["unit"].get("blocking", True) is True
    assert shipped["software-dev-generic"].default_gates["test"]["run"] == ["make", "test"]


@pytest.mark.parametrize(
    ("profile_id", "path"),
    [
        ("software-dev-python", "pyproject.toml"),
        ("software-dev-python", "requirements-dev.txt"),
        ("software-dev-javascript", "package.json"),
        ("software-dev-generic", "go.mod"),
        ("software-dev-generic", "src/App/App.csproj"),
        ("data-pipeline", "dbt_project.yml"),
        ("data-pipeline", "dags/load_orders.py"),
        ("data-pipeline", "warehouse/models/staging/stg_orders.sql"),
        ("documentation", "mkdocs.yml"),
        ("documentation", "docs/conf.py"),
        ("operations", "main.tf"),
        ("operations", "infra/network/main.tf"),
        ("operations", "deploy/chart/Chart.yaml"),
        ("operations", "k8s/overlays/prod/kustomization.yaml"),
        ("operations", "ansible/roles/web/tasks/main.yml"),
    ],
)
def test_detection_markers_match_typical_files(
    shipped: dict[str, Profile], profile_id: str, path: str
) -> None:
    markers = shipped[profile_id].markers
    hits = [marker for marker in markers if matches(path, [marker.glob])]
    assert hits, f"no marker of {profile_id} matches {path}"
    assert all(marker.weight > 0 and marker.reason for marker in hits)


def test_detection_weights(shipped: dict[str, Profile]) -> None:
    python = shipped["software-dev-python"]
    weights = {marker.glob: marker.weight for marker in python.markers}
    assert weights["pyproject.toml"] == 3
    assert weights["setup.py"] == 2
    assert python.languages == {"Python": 3.0}
    assert shipped["software-dev-javascript"].languages["TypeScript"] == 3
    assert {m.glob: m.weight for m in shipped["data-pipeline"].markers}["dbt_project.yml"] == 4
    assert shipped["documentation"].languages["Markdown"] == 2
    assert shipped["operations"].languages["HCL"] == 1.5
    assert shipped["generic"].markers == ()  # the fallback: no evidence of its own


def test_policies_forbid_git_and_secrets(shipped: dict[str, Profile]) -> None:
    for profile in shipped.values():
        forbidden = profile.patch_policy["forbidden"]
        for path in (".git/config", ".env", "config/.env", "certs/server.pem"):
            assert matches(path, forbidden), (profile.id, path)
        assert not matches("README.md", forbidden)
        assert profile.patch_policy["max_files"] > 0
        assert profile.budgets["max_usd"] > 0
        assert profile.budgets["max_tokens"] > 0


def test_router_rules_route_every_task_kind_to_known_tools(shipped: dict[str, Profile]) -> None:
    for profile in shipped.values():
        routed: set[str] = set()
        for rule in profile.router_rules:
            assert set(rule["candidates"]) <= ROUTED_TOOLS, (profile.id, rule["id"])
            routed.update(rule["match"]["kind"])
        assert routed == set(profile.task_kinds), profile.id
    python_rules = {rule["id"]: rule for rule in shipped["software-dev-python"].router_rules}
    assert python_rules["python-codemods"]["candidates"][0] == "ruff"


def test_properties_are_copies(shipped: dict[str, Profile]) -> None:
    python = shipped["software-dev-python"]
    python.default_gates["lint"]["run"].append("--fix")
    python.patch_policy["forbidden"].clear()
    python.router_rules.clear()
    assert python.default_gates["lint"]["run"] == ["ruff", "check", "."]
    assert python.patch_policy["forbidden"]
    assert python.router_rules


# -- broken copies ----------------------------------------------------------------------------


def test_the_copy_loads_like_the_shipped_folder(copy: Path, shipped: dict[str, Profile]) -> None:
    loaded = load_profiles(copy)
    assert set(loaded) == set(shipped)
    assert loaded["generic"].path == copy / "generic"


def test_wrong_profile_id(copy: Path) -> None:
    edit(copy / "generic" / "profile.json", lambda d: d.update(profile_id="fallback"))
    assert problems_of(copy) == [
        "generic/profile.json: $.profile_id: 'fallback' is not the name of its folder 'generic'"
    ]


def test_listed_phase_without_its_file(copy: Path) -> None:
    (copy / "software-dev-python" / "phase_templates" / "tests.json").unlink()
    assert problems_of(copy) == [
        "software-dev-python/profile.json: $.phase_templates[2]: "
        "no file phase_templates/tests.json for this phase"
    ]


def test_phase_file_not_listed(copy: Path) -> None:
    phases = copy / "generic" / "phase_templates"
    shutil.copyfile(phases / "general.json", phases / "cleanup.json")
    edit(phases / "cleanup.json", lambda d: d.update(phase_id="cleanup"))
    assert problems_of(copy) == [
        "generic/profile.json: $.phase_templates: phase_templates/cleanup.json is not listed here"
    ]


def test_phase_naming_an_unknown_gate(copy: Path) -> None:
    path = copy / "software-dev-python" / "phase_templates" / "tests.json"
    edit(path, lambda d: d.update(gates=["lint", "unti"]))
    assert problems_of(copy) == [
        "software-dev-python/phase_templates/tests.json: $.gates[1]: unknown gate 'unti' "
        "(did you mean 'unit'? the profile's gates: lint, typecheck, unit)"
    ]


def test_phase_and_rule_naming_unknown_task_kinds(copy: Path) -> None:
    folder = copy / "documentation"
    edit(folder / "phase_templates" / "editing.json", lambda d: d.update(task_kinds=["edit"]))
    edit(folder / "profile.json", lambda d: d["router_rules"][0]["match"].update(kind=["fmt"]))
    found = problems_of(copy)
    assert len(found) == 2
    assert found[0].startswith(
        "documentation/profile.json: $.router_rules[0].match.kind[0]: unknown task kind 'fmt'"
    )
    assert found[1].startswith(
        "documentation/phase_templates/editing.json: $.task_kinds[0]: unknown task kind 'edit' "
        "(did you mean 'editing'?"
    )


def test_phase_id_must_be_its_file_name(copy: Path) -> None:
    path = copy / "generic" / "phase_templates" / "general.json"
    edit(path, lambda d: d.update(phase_id="generic-work"))
    assert problems_of(copy) == [
        "generic/phase_templates/general.json: $.phase_id: "
        "'generic-work' is not the name of its file general.json"
    ]


def test_invalid_json_names_its_file_and_line(copy: Path) -> None:
    (copy / "operations" / "phase_templates" / "documentation.json").write_text('{"a": 1,\n}')
    [problem] = problems_of(copy)
    assert problem.startswith(
        "operations/phase_templates/documentation.json: $: invalid JSON at line 2"
    )


def test_schema_problems_have_json_paths(copy: Path) -> None:
    def break_profile(document: dict[str, Any]) -> None:
        document["domain"] = "software"
        document["default_gates"]["lint"]["blocking"] = "no"

    edit(copy / "software-dev-python" / "profile.json", break_profile)
    found = problems_of(copy)
    assert any(p.startswith("software-dev-python/profile.json: $.domain: ") for p in found)
    assert any(
        p.startswith("software-dev-python/profile.json: $.default_gates.lint.blocking: ")
        for p in found
    )


def test_missing_profile_json(copy: Path) -> None:
    (copy / "empty").mkdir()
    assert problems_of(copy) == [
        "empty/profile.json: $: missing: every profile folder holds a profile.json"
    ]


def test_every_problem_of_every_file_in_one_error(copy: Path) -> None:
    edit(copy / "generic" / "profile.json", lambda d: d.update(profile_id="x"))
    (copy / "documentation" / "phase_templates" / "writing.json").write_text("[")
    (copy / "operations" / "phase_templates" / "error-fixing.json").unlink()
    with pytest.raises(ProfilesInvalid) as caught:
        load_profiles(copy)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.exit_code == EXIT_INVALID
    assert [issue.source for issue in error.issues] == [
        "documentation/phase_templates/writing.json",
        "generic/profile.json",
        "operations/profile.json",
    ]
    lines = error.message.splitlines()
    assert lines[0] == f"{copy}: 3 problems"
    assert lines[1].startswith("  documentation/phase_templates/writing.json: $: invalid JSON")
    restored = pickle.loads(pickle.dumps(error))
    assert restored.message == error.message
    assert restored.issues == error.issues


def test_not_a_folder(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nowhere") == ["$: not a folder of profiles"]


def test_uet_profiles_env_points_elsewhere(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edit(copy / "generic" / "profile.json", lambda d: d.update(name="Anything at all"))
    monkeypatch.setenv("UET_PROFILES", str(copy))
    assert profiles_dir() == copy
    assert get_profile("generic").name == "Anything at all"


# -- get_profile ------------------------------------------------------------------------------


def test_get_profile(shipped: dict[str, Profile]) -> None:
    profile = get_profile("data-pipeline")
    assert profile.id == "data-pipeline"
    assert profile.domain == "data-pipeline"
    assert profile.document == shipped["data-pipeline"].document


@pytest.mark.parametrize(
    ("given", "suggested"),
    [("software-dev-pyhton", "software-dev-python"), ("javascript", "software-dev-javascript")],
)
def test_unknown_profile_suggests_the_closest(given: str, suggested: str) -> None:
    with pytest.raises(UnknownProfile) as caught:
        get_profile(given)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.exit_code == EXIT_INVALID
    assert error.code == "UET110"
    assert f"unknown profile {given!r} (did you mean {suggested!r}? known: " in str(error)
    assert "generic" in error.known
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_unknown_profile_without_a_near_miss() -> None:
    with pytest.raises(UnknownProfile, match=r"'zzz' \(known: data-pipeline, documentation"):
        get_profile("zzz")


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_lists_profiles(invoke: Invoke) -> None:
    result = invoke("profiles")
    assert result.exit_code == 0, result.output
    for profile_id in SHIPPED:
        assert profile_id in result.output
    assert "domain software-dev · 8 task kinds · gates: lint, typecheck, unit" in result.output
    assert "phases: writing, editing, link-fixing" in result.output
    assert "7 profiles in" in result.output


def test_cli_lists_profiles_as_json(invoke: Invoke) -> None:
    result = invoke("profiles", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.output)
    assert [entry["profile_id"] for entry in listed] == sorted(SHIPPED)
    python = next(e for e in listed if e["profile_id"] == "software-dev-python")
    assert python["domain"] == "software-dev"
    assert python["default_gates"] == ["lint", "typecheck", "unit"]
    assert python["phases"][0] == "core-development"
    assert "type-fix" in python["task_kinds"]


def test_cli_shows_a_profile(invoke: Invoke) -> None:
    result = invoke("profiles", "show", "software-dev-python")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "software-dev-python: Python software development (domain software-dev)" in out
    assert "  lint: ruff check .\n      lint; blocking; timeout 300s; requires ruff" in out
    assert "  unit: python -m pytest -q" in out
    assert "  core-development: Core development" in out
    assert "3       pyproject.toml" in out
    assert "languages: Python 3" in out
    assert "forbidden: .git/**" in out
    assert "budgets: $20, 5,000,000 tokens" in out
    assert "python-codemods: lint-fix, format -> ruff, aider, claude (fallback)" in out


def test_cli_shows_the_generic_profile_without_markers(invoke: Invoke) -> None:
    result = invoke("profiles", "show", "generic")
    assert result.exit_code == 0
    assert "no markers (chosen when no other profile fits)" in result.output
    assert "whitespace: git diff --check HEAD" in result.output
    assert "non-blocking" in result.output


def test_cli_shows_a_profile_as_json(invoke: Invoke) -> None:
    result = invoke("profiles", "show", "software-dev-python", "--json")
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["profile_id"] == "software-dev-python"
    assert issues(shown["profile"], "profile.v1") == []
    assert list(shown["phases"]) == shown["profile"]["phase_templates"]
    assert all(issues(phase, "phase_spec.v1") == [] for phase in shown["phases"].values())
    assert Path(shown["path"]).name == "software-dev-python"


def test_cli_unknown_profile_exits_2_with_a_suggestion(invoke: Invoke) -> None:
    result = invoke("profiles", "show", "python")
    assert result.exit_code == 2
    assert "unknown profile 'python' (did you mean 'software-dev-python'?" in result.output


def test_cli_broken_profiles_exit_2_naming_the_file(
    invoke: Invoke, copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (copy / "generic" / "phase_templates" / "general.json").write_text("{")
    monkeypatch.setenv("UET_PROFILES", str(copy))
    result = invoke("profiles")
    assert result.exit_code == 2
    assert "generic/phase_templates/general.json: $: invalid JSON" in result.output
