"""`uet init` as a library call (`init_project`) on real trees built in tmp_path: one fixture
repository per shipped profile, a mixed repository, degenerate roots, forced profiles,
reruns (idempotence, hand edits, --force, --dry-run) and the files written, each one checked
against its schema here again rather than trusting the report's own `valid` flags.

Tools are not asked their versions (``probe_versions=False``) except in the one test about
versions, which puts a PATH holding only git in front of it to stay fast.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gitrepos import commit_all, git, make_repo, write_files

from core.bootstrap.discovery import DiscoveryRootInvalid
from core.bootstrap.init import REPORT, InitResult, init_project
from core.bootstrap.profiles import UnknownProfile
from core.contracts import issues
from core.engine.bundle import check_bundle
from core.engine.gates import load_gates
from core.engine.routing.config import check_router

Files = Mapping[str, str | bytes]

# -- fixture repositories ------------------------------------------------------------------------

PYTHON: Files = {
    "pyproject.toml": (
        '[project]\nname = "calc"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    ),
    "calc/__init__.py": '"""Calc."""\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n',
    "tests/conftest.py": '"""Fixtures."""\n',
    "tests/test_calc.py": (
        "from calc import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n"
    ),
    "README.md": "# calc\n",
}
JAVASCRIPT: Files = {
    "package.json": json.dumps(
        {
            "name": "widgets",
            "version": "1.0.0",
            "type": "module",
            "scripts": {"test": "node --test", "lint": "node lint.js"},
        },
        indent=2,
    ),
    "src/index.js": "export function add(a, b) {\n  return a + b;\n}\n",
    "src/format.js": "export const format = (n) => `${n}`;\n",
    "test/index.test.js": "import test from 'node:test';\n\ntest('add', () => {});\n",
    "README.md": "# widgets\n",
}
GO: Files = {
    "go.mod": "module example.com/hello\n\ngo 1.22\n",
    "main.go": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hi")\n}\n',
    "main_test.go": 'package main\n\nimport "testing"\n\nfunc TestMain(t *testing.T) {}\n',
    "README.md": "# hello\n",
}
RUST: Files = {
    "Cargo.toml": '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/main.rs": 'fn main() {\n    println!("hi");\n}\n',
    "src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
}
DBT: Files = {
    "dbt_project.yml": "name: shop\nversion: '1.0'\nprofile: shop\n",
    "models/staging/stg_orders.sql": "select * from {{ source('raw', 'orders') }}\n",
    "models/marts/orders.sql": "select id, total from {{ ref('stg_orders') }}\n",
    "models/schema.yml": (
        "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n"
        "        tests:\n          - unique\n"
    ),
    "macros/cents.sql": "{% macro cents(x) %}{{ x }} * 100{% endmacro %}\n",
}
AIRFLOW: Files = {
    "dags/daily.py": "from airflow import DAG\n\nwith DAG('daily') as dag:\n    pass\n",
    "dags/weekly.py": "from airflow import DAG\n\nwith DAG('weekly') as dag:\n    pass\n",
    "sql/load_orders.sql": "insert into orders select * from staging_orders;\n",
}
MKDOCS: Files = {
    "mkdocs.yml": "site_name: Handbook\nnav:\n  - index.md\n  - guide.md\n",
    "docs/index.md": "# Handbook\n\nWelcome.\n",
    "docs/guide.md": "# Guide\n\n" + "Do this, then that.\n" * 10,
    "docs/faq.md": "# FAQ\n\n!!! note\n    Ask away.\n",
}
OPERATIONS: Files = {
    "main.tf": 'resource "null_resource" "web" {}\n',
    "variables.tf": 'variable "region" {\n  default = "eu-west-1"\n}\n',
    "k8s/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
    ),
    "k8s/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
}
PLAIN_TEXT: Files = {"notes.txt": "notes\n", "todo.txt": "buy milk\n", "ideas.txt": "more\n"}


@dataclass(frozen=True)
class Case:
    files: Files
    profile_id: str
    at_least: float  # the lower bound asserted on the confidence
    observed: float  # the confidence init gave when this table was written


# Which profile each fixture gets, with what confidence (observed; asserted as a lower bound).
# generic is chosen with confidence 0 by design: no profile scores on plain text.
FIXTURES: dict[str, Case] = {
    "python": Case(PYTHON, "software-dev-python", 0.9, 0.990),
    "javascript": Case(JAVASCRIPT, "software-dev-javascript", 0.9, 0.977),
    "go": Case(GO, "software-dev-generic", 0.9, 0.976),
    "rust": Case(RUST, "software-dev-generic", 0.9, 1.0),
    "dbt": Case(DBT, "data-pipeline", 0.9, 0.923),
    "airflow": Case(AIRFLOW, "data-pipeline", 0.6, 0.682),
    "mkdocs": Case(MKDOCS, "documentation", 0.9, 0.950),
    "operations": Case(OPERATIONS, "operations", 0.9, 1.0),
    "generic": Case(PLAIN_TEXT, "generic", 0.0, 0.0),
}


def init(root: Path, **kwargs: Any) -> InitResult:
    kwargs.setdefault("probe_versions", False)
    return init_project(root, **kwargs)


def actions(result: InitResult) -> dict[str, str]:
    return {artifact["path"]: artifact["action"] for artifact in result.report["artifacts"]}


def checks(result: InitResult, status: str | None = None) -> list[dict[str, Any]]:
    return [c for c in result.report["checks"] if status is None or c["status"] == status]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the tree (git's own folder and init's report aside) and its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and ".git" not in path.relative_to(root).parts
        and path.relative_to(root).as_posix() != REPORT
    }


def assert_written_and_valid(root: Path, result: InitResult) -> None:
    """The report on disk is the one returned and follows bootstrap_report.v1; every artifact
    it lists exists, is flagged valid, and is valid again when read back here."""
    on_disk = json.loads((root / REPORT).read_text(encoding="utf-8"))
    assert on_disk == result.report
    assert issues(on_disk, "bootstrap_report.v1") == []
    assert [c for c in on_disk["checks"] if c["status"] == "error"] == []
    assert on_disk["artifacts"], "init writes at least a profile, a router and a bundle"
    for artifact in on_disk["artifacts"]:
        path = root / artifact["path"]
        assert artifact["valid"] is True, artifact
        document = json.loads(path.read_text(encoding="utf-8"))
        assert issues(document, artifact["schema"], artifact["path"]) == [], artifact["path"]
        assert document["schema_version"] == artifact["schema"]
    check_router(json.loads((root / ".uet/router_config.json").read_text()))
    check_bundle(
        json.loads((root / "workstreams/starter.json").read_text()),
        path=root / "workstreams/starter.json",
    )
    gates = json.loads((root / ".uet/project_profile.json").read_text())["gates"]
    if gates:  # what `uet gate run` reads
        assert set(load_gates(root / ".uet/project_profile.json")) == set(gates)
    else:
        assert any(c["check"] == "gates" and c["status"] == "warning" for c in on_disk["checks"])
    schema_checks = {c["check"] for c in on_disk["checks"] if c["check"].startswith("schema ")}
    assert schema_checks == {f"schema {a['path']}" for a in on_disk["artifacts"]}


# -- one fixture per profile ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FIXTURES))
def test_each_fixture_gets_its_profile_with_reasons_and_valid_files(
    name: str, tmp_path: Path
) -> None:
    case = FIXTURES[name]
    root = make_repo(tmp_path / name, case.files)

    result = init(root)

    selection = result.report["selection"]
    print(
        f"{name:<11} -> {selection['profile_id']:<24} confidence {selection['confidence']:.3f}"
        f" (table: {case.observed:.3f}, asserted >= {case.at_least})"
    )
    assert selection["profile_id"] == case.profile_id
    assert selection["forced"] is False
    assert selection["confidence"] >= case.at_least
    scores = {score["profile_id"]: score for score in selection["scores"]}
    assert set(scores) == {FIXTURES[n].profile_id for n in FIXTURES}
    ranked = [score["score"] for score in selection["scores"]]
    assert ranked == sorted(ranked, reverse=True)
    if case.profile_id == "generic":
        assert all(score["score"] == 0 and score["reasons"] == [] for score in scores.values())
        # Generic at worst: usable, with a warning saying nothing identified the project.
        assert (result.status, result.exit_code) == ("partial", 0)
        assert any("nothing identified" in c["message"] for c in checks(result, "warning"))
    else:
        best = scores[case.profile_id]
        assert best["score"] == max(ranked) > 0
        assert best["reasons"], best
        assert all("(+" in reason for reason in best["reasons"])
        assert result.status in ("ready", "partial")
        assert result.exit_code == 0
    assert_written_and_valid(root, result)
    project = json.loads((root / ".uet/project_profile.json").read_text())
    assert project["profile_id"] == case.profile_id
    assert project["project_name"] == name


def test_the_winning_reasons_name_the_files_that_earned_them(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)

    selection = init(root).report["selection"]

    (python,) = [s for s in selection["scores"] if s["profile_id"] == "software-dev-python"]
    assert any(reason.startswith("Python project metadata") for reason in python["reasons"])
    assert any("pyproject.toml (+3)" in reason for reason in python["reasons"])
    assert any("tests/conftest.py (+1)" in reason for reason in python["reasons"])
    assert any(
        reason.startswith("Python ") and "of the code" in reason for reason in python["reasons"]
    )


def test_javascript_gates_are_the_package_scripts(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH: the JavaScript gates are left out")
    with_lint = make_repo(tmp_path / "with-lint", JAVASCRIPT)
    package = json.loads(str(JAVASCRIPT["package.json"]))
    package["scripts"].pop("lint")
    without_lint = make_repo(
        tmp_path / "without-lint", {**JAVASCRIPT, "package.json": json.dumps(package)}
    )

    both = init(with_lint)
    test_only = init(without_lint)

    assert set(json.loads((with_lint / ".uet/project_profile.json").read_text())["gates"]) == {
        "unit",
        "lint",
    }
    assert set(json.loads((without_lint / ".uet/project_profile.json").read_text())["gates"]) == {
        "unit"
    }
    assert both.status == "ready"
    assert {
        "check": "gate executables",
        "status": "warning",
        "message": "gate 'lint' left out: package.json has no lint script",
    } in test_only.report["checks"]
    assert test_only.status == "partial"


def test_make_test_gate_needs_a_makefile_with_a_test_target(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not on PATH: the gate is left out for that reason")
    root = make_repo(tmp_path / "hello", GO)

    init(root)

    assert "test" not in json.loads((root / ".uet/project_profile.json").read_text())["gates"]


# -- a mixed repository --------------------------------------------------------------------------


def test_a_python_project_with_a_docs_folder_overrides_docs_to_documentation(
    tmp_path: Path,
) -> None:
    root = make_repo(
        tmp_path / "calc",
        {
            **PYTHON,
            "calc/ops.py": "def mul(a: int, b: int) -> int:\n    return a * b\n" * 10,
            "docs/index.md": "# Calc\n\nA calculator.\n\n## Install\n\n    pip install calc\n",
            "docs/usage.md": "# Usage\n\n!!! tip\n    Add numbers.\n\n" + "- a step\n" * 10,
            "docs/api.md": "# API\n\n::: calc.add\n",
            "docs/changelog.md": "# Changelog\n\n## 0.1.0\n\n- first\n",
        },
    )

    result = init(root)

    expected = [{"paths": ["docs/**"], "profile_id": "documentation"}]
    assert result.report["selection"]["profile_id"] == "software-dev-python"
    assert result.report["selection"]["confidence"] >= 0.9
    assert result.report["selection"]["overrides"] == expected
    project = json.loads((root / ".uet/project_profile.json").read_text())
    assert project["profile_id"] == "software-dev-python"
    assert project["overrides"] == expected
    assert project["paths"]["docs"] == ["docs"]
    assert project["paths"]["tests"] == ["tests"]
    assert "calc" in project["paths"]["source"]
    assert result.selection.override_reasons[0].startswith("docs/**: documentation (Markdown")
    assert_written_and_valid(root, result)


def test_a_single_language_repository_has_no_override(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)

    result = init(root)

    assert result.report["selection"]["overrides"] == []
    assert json.loads((root / ".uet/project_profile.json").read_text())["overrides"] == []


# -- degenerate roots ----------------------------------------------------------------------------


def test_an_empty_directory_is_generic_and_still_gets_a_report(
    tmp_path: Path,
) -> None:
    root = tmp_path / "empty"
    root.mkdir()

    result = init(root)

    assert result.report["selection"] == {
        "profile_id": "generic",
        "confidence": 0.0,
        "forced": False,
        "scores": result.report["selection"]["scores"],
        "overrides": [],
    }
    assert result.report["discovery"]["files_scanned"] == 0
    assert result.report["discovery"]["languages"] == []
    # Generic at worst, with a warning: usable as it is (exit 0).
    assert (result.status, result.exit_code) == ("partial", 0)
    assert_written_and_valid(root, result)


def test_a_directory_outside_git_warns_and_says_to_git_init(tmp_path: Path) -> None:
    root = tmp_path / "calc"
    write_files(root, PYTHON)

    result = init(root)

    assert result.report["discovery"]["git"] == {
        "is_repo": False,
        "branch": None,
        "clean": None,
        "commits": None,
    }
    git_checks = [c for c in result.report["checks"] if c["check"] == "git"]
    assert git_checks == [
        {
            "check": "git",
            "status": "warning",
            "message": "not a git repository: `git init` before `uet run` of tasks that change "
            "files",
        }
    ]
    assert "git init && git add -A && git commit -m 'start'" in result.report["next_steps"]
    assert result.report["selection"]["profile_id"] == "software-dev-python"
    assert (result.status, result.exit_code) == ("partial", 0)
    assert_written_and_valid(root, result)


def test_a_repository_without_commits_warns_to_commit_first(tmp_path: Path) -> None:
    root = tmp_path / "calc"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_files(root, PYTHON)

    result = init(root)

    assert result.report["discovery"]["git"]["is_repo"] is True
    assert result.report["discovery"]["git"]["commits"] == 0
    assert {
        "check": "git",
        "status": "warning",
        "message": "the repository has no commit yet: commit before `uet run`",
    } in result.report["checks"]
    assert result.report["selection"]["profile_id"] == "software-dev-python"
    assert result.exit_code == 0
    assert_written_and_valid(root, result)


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads unreadable files anyway"
)
def test_unreadable_files_and_folders_are_skipped_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "calc"
    write_files(root, {**PYTHON, "private/secret.py": "KEY = 1\n"})
    (root / "pyproject.toml").chmod(0)
    (root / "private").chmod(0)
    try:
        result = init(root)
    finally:
        (root / "private").chmod(0o755)
        (root / "pyproject.toml").chmod(0o644)

    skipped = result.report["discovery"]["skipped"]
    assert any(entry.startswith("unreadable: private/") for entry in skipped), skipped
    assert any(entry.startswith("unreadable: pyproject.toml") for entry in skipped), skipped
    assert result.report["selection"]["profile_id"] == "software-dev-python"
    assert_written_and_valid(root, result)


def test_symlink_loops_are_named_and_not_followed(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "loops", PLAIN_TEXT)
    os.symlink(".", root / "self")
    os.symlink("ping", root / "pong")
    os.symlink("pong", root / "ping")

    result = init(root)

    skipped = result.report["discovery"]["skipped"]
    assert {"symlink loop: self", "symlink loop: ping", "symlink loop: pong"} <= set(skipped)
    assert result.report["discovery"]["files_scanned"] == len(PLAIN_TEXT)
    assert result.report["selection"]["profile_id"] == "generic"
    assert_written_and_valid(root, result)


def test_binary_only_content_is_generic(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "blobs",
        {
            "firmware.bin": bytes(range(256)) * 8,
            "logo.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
            "data": b"\xff\xfe\x00\x00\x01",
        },
    )

    result = init(root)

    assert result.report["discovery"]["files_scanned"] == 3
    assert result.report["discovery"]["languages"] == []
    assert result.report["selection"]["profile_id"] == "generic"
    assert result.report["selection"]["confidence"] == 0.0
    assert_written_and_valid(root, result)


def test_a_root_that_does_not_exist_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryRootInvalid, match="no such directory") as caught:
        init(tmp_path / "nowhere")

    assert caught.value.exit_code == 2
    assert not (tmp_path / "nowhere").exists()


# -- forcing a profile ---------------------------------------------------------------------------


def test_profile_option_forces_the_profile_with_confidence_1(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)

    result = init(root, profile_id="documentation")

    selection = result.report["selection"]
    assert (selection["profile_id"], selection["forced"], selection["confidence"]) == (
        "documentation",
        True,
        1.0,
    )
    # The scores are still there: they say what would have been chosen.
    assert selection["scores"][0]["profile_id"] == "software-dev-python"
    assert not any(c["check"] == "profile" for c in result.report["checks"])
    project = json.loads((root / ".uet/project_profile.json").read_text())
    assert (project["profile_id"], project["domain"]) == ("documentation", "documentation")
    phases = sorted(p.stem for p in (root / ".uet/phases").glob("*.json"))
    assert phases == ["editing", "link-fixing", "writing"]
    assert_written_and_valid(root, result)


def test_forcing_generic_on_plain_text_is_not_a_question_for_a_person(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "notes", PLAIN_TEXT)

    result = init(root, profile_id="generic")

    assert result.report["selection"]["confidence"] == 1.0
    assert result.status != "needs_human"
    assert result.exit_code == 0


def test_an_unknown_profile_suggests_the_nearest_and_writes_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)
    before = snapshot(root)

    with pytest.raises(UnknownProfile) as caught:
        init(root, profile_id="software-dev-pyhton")

    assert "did you mean 'software-dev-python'?" in str(caught.value)
    assert caught.value.exit_code == 2
    assert snapshot(root) == before
    assert not (root / ".uet").exists()


# -- reruns --------------------------------------------------------------------------------------


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)
    init(root)
    after_first = snapshot(root)

    second = init(root)

    assert set(actions(second).values()) == {"unchanged"}
    assert snapshot(root) == after_first


def test_reruns_settle_and_do_not_duplicate_gitignore_entries(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", {**PYTHON, ".gitignore": "__pycache__/"})
    first = init(root)
    init(root)
    settled = snapshot(root)

    third = init(root)

    assert set(actions(first).values()) == {"created"}
    assert set(actions(third).values()) == {"unchanged"}
    assert snapshot(root) == settled
    lines = (root / ".gitignore").read_text().splitlines()
    assert lines == ["__pycache__/", "# uet", ".ledger/", ".worktrees/"]
    assert not any(c["check"] == "gitignore" for c in third.report["checks"])
    assert [c for c in first.report["checks"] if c["check"] == "gitignore"] == [
        {
            "check": "gitignore",
            "status": "ok",
            "message": "added to .gitignore: .ledger/, .worktrees/",
            "fixed": True,
        }
    ]
    assert_written_and_valid(root, third)


def test_gitignore_entries_already_there_are_not_added_again(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", {**PYTHON, ".gitignore": ".ledger\n.worktrees/\n"})

    init(root)

    assert (root / ".gitignore").read_text() == ".ledger\n.worktrees/\n"


def test_a_hand_edited_file_is_kept_and_needs_a_person(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)
    init(root)
    router = root / ".uet/router_config.json"
    generated = router.read_bytes()
    edited = {
        "schema_version": "router_config.v1",
        "tools": {},
        "defaults": {"strategy": "fallback"},
    }
    router.write_text(json.dumps(edited) + "\n", encoding="utf-8")
    users = router.read_bytes()

    rerun = init(root)

    assert actions(rerun)[".uet/router_config.json"] == "would_change"
    assert router.read_bytes() == users
    assert (rerun.status, rerun.exit_code) == ("needs_human", 1)
    assert rerun.report["next_steps"][0] == (
        "you edited .uet/router_config.json: review and rerun `uet init --force` to replace them"
    )
    assert issues(json.loads((root / REPORT).read_text()), "bootstrap_report.v1") == []

    forced = init(root, force=True)

    assert actions(forced)[".uet/router_config.json"] == "updated"
    assert json.loads(router.read_bytes()) == json.loads(generated)
    assert forced.exit_code == 0
    assert actions(init(root))[".uet/router_config.json"] == "unchanged"


def test_a_hand_edit_survives_every_rerun_without_force(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)
    init(root)
    router = root / ".uet/router_config.json"
    router.write_text(
        json.dumps({"schema_version": "router_config.v1", "tools": {}}) + "\n", encoding="utf-8"
    )
    users = router.read_bytes()
    init(root)

    again = init(root)

    assert actions(again)[".uet/router_config.json"] == "would_change"
    assert router.read_bytes() == users


def test_reformatting_a_generated_file_is_not_an_edit(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)
    init(root)
    router = root / ".uet/router_config.json"
    router.write_text(json.dumps(json.loads(router.read_text()), indent=4), encoding="utf-8")
    reformatted = router.read_bytes()

    rerun = init(root)

    assert actions(rerun)[".uet/router_config.json"] == "unchanged"
    assert router.read_bytes() == reformatted


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)
    before = snapshot(root)

    result = init(root, dry_run=True)

    assert snapshot(root) == before
    assert not (root / ".uet").exists()
    assert not (root / "workstreams").exists()
    assert not (root / ".gitignore").exists()
    assert set(actions(result).values()) == {"created"}
    assert issues(result.report, "bootstrap_report.v1") == []
    # What it would add to .gitignore is reported all the same.
    assert any(c["check"] == "gitignore" for c in result.report["checks"])


def test_dry_run_over_a_hand_edit_reports_it_and_keeps_everything(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "calc", PYTHON)
    init(root)
    commit_all(root, "uet init")
    router = root / ".uet/router_config.json"
    router.write_text(json.dumps({"schema_version": "router_config.v1", "tools": {}}) + "\n")
    before = {**snapshot(root), REPORT: (root / REPORT).read_bytes()}

    result = init(root, dry_run=True, force=True)

    assert actions(result)[".uet/router_config.json"] == "updated"
    assert {**snapshot(root), REPORT: (root / REPORT).read_bytes()} == before


# -- versions ------------------------------------------------------------------------------------


def test_versions_of_the_tools_found_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_git = shutil.which("git")
    assert real_git is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(real_git)
    root = make_repo(tmp_path / "notes", PLAIN_TEXT)
    monkeypatch.setenv("PATH", str(bin_dir))

    result = init_project(root)

    tools = {tool["name"]: tool for tool in result.report["discovery"]["tools"]}
    assert tools["git"]["found"] is True
    assert tools["git"]["path"] == str(bin_dir / "git")
    assert tools["git"]["version"].startswith("git version ")
    assert tools["ruff"] == {"name": "ruff", "found": False, "path": None, "version": None}
    project = json.loads((root / ".uet/project_profile.json").read_text())
    assert [tool["name"] for tool in project["tools"]] == ["git"]
    assert project["tools"][0]["version"] == tools["git"]["version"]
    assert list(project["gates"]) == ["whitespace"]  # generic's one gate needs only git
    assert_written_and_valid(root, result)


def test_without_version_probes_no_version_is_recorded(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "notes", PLAIN_TEXT)

    result = init(root)

    found = [tool for tool in result.report["discovery"]["tools"] if tool["found"]]
    assert found, "git at least is on PATH"
    assert all(tool["version"] is None for tool in found)
