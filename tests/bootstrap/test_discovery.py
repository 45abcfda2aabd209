"""Discovery for `uet init`: real project trees and real git repositories written into
tmp_path, real tools on PATH (small shell scripts standing in for them where a test needs a
version, a hang or a crowd), and the discovery document checked against bootstrap_report.v1.
"""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from gitrepos import commit_all, git, make_repo, write_files

from core.bootstrap import discovery
from core.bootstrap.discovery import (
    CIConfig,
    Discovery,
    DiscoveryRootInvalid,
    GitState,
    Marker,
    TestFramework,
    discover,
    language_of,
)
from core.contracts import registry
from core.errors import EXIT_INVALID, InvalidInput

NO_TOOLS: tuple[str, ...] = ()

PYTHON_PROJECT: dict[str, str | bytes] = {
    "pyproject.toml": (
        '[project]\nname = "demo"\nversion = "0.1.0"\n\n'
        "[tool.pytest.ini_options]\ntestpaths = ['tests']\n\n"
        "[tool.mypy]\nstrict = true\n"
    ),
    "src/demo/__init__.py": '"""Demo."""\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n'
    * 20,
    "tests/test_demo.py": "from demo import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    ".github/workflows/ci.yml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
    "README.md": "# demo\n",
}


def scan(root: Path, **kwargs: Any) -> Discovery:
    kwargs.setdefault("tools", NO_TOOLS)
    return discover(root, **kwargs)


def markers(found: Discovery) -> set[tuple[str, str]]:
    return {(marker.name, marker.path) for marker in found.markers}


def language(found: Discovery, name: str) -> discovery.Language:
    (match,) = [lang for lang in found.languages if lang.name == name]
    return match


def report(found: Discovery) -> dict[str, Any]:
    """The smallest bootstrap_report.v1 that carries a discovery document."""
    return {
        "schema_version": "bootstrap_report.v1",
        "status": "ready",
        "root": str(found.root),
        "discovery": found.document(),
        "selection": {"profile_id": "generic", "confidence": 0.5},
        "artifacts": [],
        "generated_at": "2025-01-01T00:00:00Z",
    }


def assert_valid(found: Discovery) -> None:
    assert registry().issues(report(found), "bootstrap_report.v1") == []


# --- projects of each domain --------------------------------------------------------------------


def test_python_project(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PYTHON_PROJECT)

    found = scan(repo)

    assert found.languages[0].name == "Python"
    python = language(found, "Python")
    assert python.files == 2
    assert python.bytes == sum(
        len(PYTHON_PROJECT[p]) for p in ("src/demo/__init__.py", "tests/test_demo.py")
    )
    assert 0.5 < (python.share or 0) <= 1
    assert sum(lang.share or 0 for lang in found.languages) == pytest.approx(1, abs=1e-3)
    assert {("pyproject.toml", "pyproject.toml"), ("mypy config", "pyproject.toml")} <= markers(
        found
    )
    assert ("ruff config", "pyproject.toml") not in markers(found)
    assert TestFramework("pytest", "pyproject.toml") in found.test_frameworks
    assert "unittest" not in {f.name for f in found.test_frameworks}
    assert found.ci == [CIConfig("GitHub Actions", ".github/workflows/ci.yml")]
    assert found.git == GitState(is_repo=True, branch="main", clean=True, commits=1)
    assert found.paths == tuple(sorted(PYTHON_PROJECT))
    assert found.files_scanned == len(PYTHON_PROJECT)
    assert found.sizes == {path: len(body) for path, body in PYTHON_PROJECT.items()}
    assert found.skipped == []
    assert found.root == repo.resolve()
    assert_valid(found)


def test_pytest_config_files_and_conftest(tmp_path: Path) -> None:
    write_files(
        tmp_path / "ini",
        {
            "pytest.ini": "[pytest]\n",  # pytest reads it before pyproject.toml
            "pyproject.toml": "[tool.pytest.ini_options]\n",
            "tests/test_a.py": "x = 1\n",
        },
    )
    write_files(tmp_path / "tox", {"tox.ini": "[tox]\n[pytest]\naddopts = -q\n"})
    write_files(tmp_path / "cfg", {"setup.cfg": "[tool:pytest]\n[mypy]\nstrict = True\n"})
    write_files(tmp_path / "conf", {"tests/conftest.py": "", "tests/test_b.py": ""})
    write_files(tmp_path / "bare", {"tests/test_c.py": "def test_c():\n    pass\n"})

    def pytest_config(name: str) -> str | None:
        (found,) = [f for f in scan(tmp_path / name).test_frameworks if f.name == "pytest"]
        return found.config

    assert pytest_config("ini") == "pytest.ini"
    assert pytest_config("tox") == "tox.ini"
    assert pytest_config("cfg") == "setup.cfg"
    assert pytest_config("conf") == "tests/conftest.py"
    assert pytest_config("bare") is None
    assert ("mypy config", "setup.cfg") in markers(scan(tmp_path / "cfg"))


def test_unittest_project(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pkg/core.py": "VALUE = 1\n",
            "tests/test_core.py": "import unittest\n\nclass T(unittest.TestCase):\n    pass\n",
        },
    )

    found = scan(tmp_path)

    assert [f.name for f in found.test_frameworks] == ["unittest"]


def test_javascript_project(tmp_path: Path) -> None:
    package = (
        '{"name": "web", "scripts": {"test": "jest --coverage", "ci": "npm test && tsc"},'
        ' "devDependencies": {"jest": "^29.0.0", "typescript": "^5.0.0"}}'
    )
    repo = make_repo(
        tmp_path / "web",
        {
            "package.json": package,
            "package-lock.json": "{}" * 5000,
            "tsconfig.json": "{}",
            "src/index.ts": "export const x: number = 1;\n" * 10,
            "src/util.js": "module.exports = {};\n",
            "src/index.test.ts": "test('x', () => {});\n",
            ".eslintrc.json": "{}",
        },
    )

    found = scan(repo)

    assert found.languages[0].name == "TypeScript"
    assert language(found, "JavaScript").files == 1
    assert language(found, "JSON").share is None  # data: listed, but no share of the code
    assert sum(lang.share or 0 for lang in found.languages) == pytest.approx(1, abs=1e-3)
    assert {
        ("package.json", "package.json"),
        ("package-lock.json", "package-lock.json"),
        ("tsconfig.json", "tsconfig.json"),
        (".eslintrc.json", ".eslintrc.json"),
    } <= markers(found)
    assert found.test_frameworks == [TestFramework("jest", "package.json")]
    assert_valid(found)


def test_javascript_runner_config_files(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "package.json": '{"scripts": {"test": "vitest run"}}',
            "vitest.config.ts": "export default {}\n",
            "e2e/.mocharc.yml": "spec: e2e\n",
            "playwright.config.ts": "export default {}\n",
        },
    )

    found = {f.name: f.config for f in scan(tmp_path).test_frameworks}

    assert found == {
        "vitest": "vitest.config.ts",
        "mocha": "e2e/.mocharc.yml",
        "playwright": "playwright.config.ts",
    }


def test_go_and_rust_projects(tmp_path: Path) -> None:
    write_files(
        tmp_path / "go",
        {"go.mod": "module x\n", "x.go": "package x\n", "x_test.go": "package x\n"},
    )
    write_files(
        tmp_path / "rust",
        {"Cargo.toml": '[package]\nname = "x"\n', "src/lib.rs": "fn a() {}\n" * 20},
    )

    go = scan(tmp_path / "go")
    rust = scan(tmp_path / "rust")

    assert go.test_frameworks == [TestFramework("go test", "go.mod")]
    assert language(go, "Go").files == 2
    assert ("go.mod", "go.mod") in markers(go)
    assert rust.test_frameworks == [TestFramework("cargo test", "Cargo.toml")]
    assert rust.languages[0].name == "Rust"


def test_data_pipeline_tree(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "dbt_project.yml": "name: shop\nprofile: shop\n",
            "models/staging/stg_orders.sql": "select * from {{ source('raw', 'orders') }}\n" * 5,
            "models/marts/orders.sql": "select * from {{ ref('stg_orders') }}\n",
            "models/schema.yml": "models:\n  - name: orders\n    columns:\n      - name: id\n"
            "        tests:\n          - unique\n",
            "dags/etl.py": "from airflow import DAG\n",
            "dags/helpers/util.py": "X = 1\n",
            "great_expectations/great_expectations.yml": "config_version: 3\n",
            ".sqlfluff": "[sqlfluff]\ndialect = postgres\n",
        },
    )

    found = scan(tmp_path)

    assert {
        ("dbt_project.yml", "dbt_project.yml"),
        ("Airflow DAG folder", "dags/"),
        ("Great Expectations", "great_expectations/"),
        ("SQL", "models/marts/orders.sql"),
        ("SQL", "models/staging/stg_orders.sql"),
        (".sqlfluff", ".sqlfluff"),
    } <= markers(found)
    assert found.languages[0].name == "SQL"
    assert TestFramework("dbt tests", "dbt_project.yml") in found.test_frameworks
    assert found.ci == []
    assert_valid(found)


def test_dbt_without_tests_has_no_dbt_tests(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"dbt_project.yml": "name: x\n", "models/a.sql": "select 1\n", "models/a.yml": "models:\n"},
    )

    assert scan(tmp_path).test_frameworks == []


def test_operations_tree(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "infra/main.tf": 'resource "null_resource" "x" {}\n',
            "infra/modules/net/vpc.tf": 'variable "cidr" {}\n',
            "k8s/deployment.yaml": "# app\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            "  name: web\n",
            "k8s/service.yml": "---\napiVersion: v1\nkind: Service\n",
            "config/settings.yaml": "debug: true\nkind_of: thing\n",  # not a manifest
            "charts/web/Chart.yaml": "apiVersion: v2\nname: web\n",
            "site.yml": "- hosts: all\n  tasks:\n    - ping:\n",
            "roles/web/tasks/main.yml": "- name: install\n  apt: name=nginx\n",
            "Dockerfile": "FROM python:3.11\n",
            "docker-compose.yml": "services: {}\n",
        },
    )

    found = scan(tmp_path)

    assert {
        ("Terraform", "infra/main.tf"),
        ("Terraform", "infra/modules/net/vpc.tf"),
        ("Kubernetes manifest", "k8s/deployment.yaml"),
        ("Kubernetes manifest", "k8s/service.yml"),
        ("Chart.yaml", "charts/web/Chart.yaml"),
        ("Ansible playbook", "site.yml"),
        ("Ansible role", "roles/web/"),
        ("Dockerfile", "Dockerfile"),
        ("docker-compose.yml", "docker-compose.yml"),
    } <= markers(found)
    manifests = {m.path for m in found.markers if m.name == "Kubernetes manifest"}
    assert manifests == {"k8s/deployment.yaml", "k8s/service.yml"}
    assert language(found, "HCL").files == 2
    assert language(found, "Dockerfile").files == 1
    assert_valid(found)


def test_documentation_trees(tmp_path: Path) -> None:
    write_files(
        tmp_path / "mkdocs",
        {
            "mkdocs.yml": "site_name: Docs\nnav:\n  - index.md\n",
            "docs/index.md": "# Welcome\n" * 50,
            "docs/guide/install.md": "# Install\n" * 50,
            ".markdownlint.yaml": "default: true\n",
        },
    )
    write_files(
        tmp_path / "sphinx",
        {"docs/conf.py": "project = 'x'\n", "docs/index.rst": "Title\n=====\n" * 30},
    )

    mkdocs = scan(tmp_path / "mkdocs")
    sphinx = scan(tmp_path / "sphinx")

    assert mkdocs.languages[0].name == "Markdown"
    assert language(mkdocs, "Markdown").files == 2
    assert {("mkdocs.yml", "mkdocs.yml"), (".markdownlint.yaml", ".markdownlint.yaml")} <= (
        markers(mkdocs)
    )
    assert ("Sphinx", "docs/conf.py") in markers(sphinx)
    assert {lang.name for lang in sphinx.languages} == {"reStructuredText", "Python"}


def test_ci_systems(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".github/workflows/test.yaml": "on: push\n",
            ".github/workflows/README.md": "not a workflow\n",
            ".gitlab-ci.yml": "test:\n  script: make\n",
            ".circleci/config.yml": "version: 2.1\n",
            "azure-pipelines.yml": "steps: []\n",
            "Jenkinsfile": "pipeline {}\n",
            ".travis.yml": "language: python\n",
            "bitbucket-pipelines.yml": "pipelines: {}\n",
        },
    )

    found = scan(tmp_path)

    assert {(c.system, c.path) for c in found.ci} == {
        ("GitHub Actions", ".github/workflows/test.yaml"),
        ("GitLab CI", ".gitlab-ci.yml"),
        ("CircleCI", ".circleci/config.yml"),
        ("Azure Pipelines", "azure-pipelines.yml"),
        ("Jenkins", "Jenkinsfile"),
        ("Travis CI", ".travis.yml"),
        ("Bitbucket Pipelines", "bitbucket-pipelines.yml"),
    }
    assert language(found, "Groovy").files == 1  # the Jenkinsfile


def test_manifests_count_only_near_the_root(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "packages/web/package.json": "{}",
            "tests/fixtures/old/proj/pyproject.toml": "[tool.mypy]\n",
            "a/b/c/d/deep.tf": "",
        },
    )

    found = markers(scan(tmp_path))

    assert ("package.json", "packages/web/package.json") in found
    assert not any(path.endswith("pyproject.toml") for _, path in found)
    assert ("Terraform", "a/b/c/d/deep.tf") in found


def test_marker_examples_are_capped(tmp_path: Path) -> None:
    write_files(tmp_path, {f"sql/q{i:03}.sql": "select 1\n" for i in range(40)})

    found = scan(tmp_path)

    sql = [m for m in found.markers if m.name == "SQL"]
    assert len(sql) == discovery.MARKER_EXAMPLES
    assert sql[0] == Marker("SQL", "sql/q000.sql")
    assert len(found.paths) == 40  # every file is still in paths


# --- what is skipped ----------------------------------------------------------------------------

SKIPPABLE: dict[str, str | bytes] = {
    "app.py": "print('hi')\n",
    "node_modules/left-pad/index.js": "module.exports = 1;\n" * 1000,
    ".venv/pyvenv.cfg": "home = /usr/bin\n",
    ".venv/lib/python3.11/site-packages/x.py": "X = 1\n" * 1000,
    "myenv/pyvenv.cfg": "home = /usr/bin\n",
    "myenv/lib/y.py": "Y = 1\n",
    "build/lib/app.py": "print('hi')\n",
    "pkg/__pycache__/app.cpython-311.pyc": b"\x00\x01",
    "debug.log": "noise\n",
    "out/report.txt": "generated\n",
}


def test_skipped_folders_outside_git(tmp_path: Path) -> None:
    write_files(tmp_path, SKIPPABLE)

    found = scan(tmp_path)

    assert found.paths == ("app.py", "debug.log", "out/report.txt")
    assert found.languages[0].name == "Python"
    assert language(found, "Python").files == 1
    assert "JavaScript" not in {lang.name for lang in found.languages}
    assert set(found.skipped) == {
        ".venv/ (virtualenv)",
        "build/ (build output)",
        "myenv/ (virtualenv)",
        "node_modules/ (vendored dependencies)",
        "pkg/__pycache__/ (cache)",
    }


def test_skipped_and_ignored_in_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_files(repo, {**SKIPPABLE, ".gitignore": "node_modules/\n.venv/\n*.log\nout/\n"})
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-f", "build/lib/app.py")  # tracked, but skipped by its folder's name
    commit_all(repo, "initial")

    found = scan(repo)

    assert found.paths == (".gitignore", "app.py")
    assert language(found, "Python").files == 1
    assert "node_modules/ (vendored dependencies)" in found.skipped
    assert ".venv/ (virtualenv)" in found.skipped
    assert "build/ (build output)" in found.skipped
    assert "pkg/__pycache__/ (cache)" in found.skipped  # committed, still skipped
    assert "myenv/ (virtualenv)" in found.skipped
    assert "git-ignored: 1 file and 1 folder (out/, debug.log)" in found.skipped
    assert found.git.is_repo
    assert_valid(found)


def test_vendored_folders_at_any_depth(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "packages/a/node_modules/x/index.js": "1\n",
            "packages/a/index.js": "1\n",
            "services/api/.venv/pyvenv.cfg": "",
            "services/api/.venv/bin/tool.py": "",
        },
    )

    found = scan(tmp_path)

    assert found.paths == ("packages/a/index.js",)
    assert "packages/a/node_modules/ (vendored dependencies)" in found.skipped
    assert "services/api/.venv/ (virtualenv)" in found.skipped


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may read (restored afterwards so tmp_path can be removed)."""
    if os.geteuid() == 0:
        pytest.skip("root reads every folder, so nothing is unreadable")
    folder = tmp_path / "tree" / "locked"
    write_files(folder, {"secret.py": "X = 1\n"})
    write_files(tmp_path / "tree", {"open.py": "Y = 1\n"})
    folder.chmod(0)
    yield tmp_path / "tree"
    folder.chmod(stat.S_IRWXU)


def test_unreadable_folder_outside_git(locked: Path) -> None:
    found = scan(locked)

    assert found.paths == ("open.py",)
    assert "unreadable: locked/ (Permission denied)" in found.skipped


def test_unreadable_folder_in_a_repository(locked: Path) -> None:
    git(locked, "init", "-q", "-b", "main")

    found = scan(locked)

    assert found.paths == ("open.py",)
    assert any(entry.startswith("unreadable: locked/") for entry in found.skipped)


def test_unreadable_manifest_is_listed(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file, so nothing is unreadable")
    write_files(tmp_path, {"package.json": "{}"})
    (tmp_path / "package.json").chmod(0)
    try:
        found = scan(tmp_path)
    finally:
        (tmp_path / "package.json").chmod(stat.S_IRUSR | stat.S_IWUSR)

    assert ("package.json", "package.json") in markers(found)
    assert "unreadable: package.json (Permission denied)" in found.skipped


def test_unparsable_manifests_are_listed(tmp_path: Path) -> None:
    write_files(tmp_path, {"pyproject.toml": "[tool.mypy\n", "package.json": "{not json"})

    found = scan(tmp_path)

    assert any(entry.startswith("unparsable: pyproject.toml") for entry in found.skipped)
    assert any(entry.startswith("unparsable: package.json") for entry in found.skipped)
    assert ("mypy config", "pyproject.toml") not in markers(found)


@pytest.mark.parametrize("with_git", [False, True], ids=["walk", "git"])
def test_symlinks_are_never_followed_into_folders(tmp_path: Path, with_git: bool) -> None:
    root = tmp_path / "tree"
    outside = tmp_path / "outside"
    write_files(outside, {"big.py": "Z = 1\n" * 1000})
    write_files(root, {"a/real.py": "A = 1\n"})
    (root / "a" / "up").symlink_to("..")  # a loop: a/up/a/up/...
    (root / "self").symlink_to("self")  # a link to itself
    (root / "out").symlink_to(outside)
    (root / "out.py").symlink_to(outside / "big.py")
    (root / "alias.py").symlink_to("a/real.py")
    (root / "gone.py").symlink_to("missing.py")
    (root / "b").symlink_to("a")
    if with_git:
        git(root, "init", "-q", "-b", "main")

    found = scan(root)

    assert found.paths == ("a/real.py", "alias.py")
    assert {
        "symlink loop: a/up",
        "symlink loop: self",
        "symlink out of the tree: out",
        "symlink out of the tree: out.py",
        "broken symlink: gone.py",
        "symlink to a folder: b",
    } == set(found.skipped)
    assert language(found, "Python").bytes == 2 * len("A = 1\n")


# --- odd roots ----------------------------------------------------------------------------------


def test_empty_directory(tmp_path: Path) -> None:
    found = scan(tmp_path)

    assert found.files_scanned == 0
    assert found.paths == ()
    assert (found.languages, found.markers, found.test_frameworks, found.ci) == ([], [], [], [])
    assert found.skipped == []
    assert found.git == GitState(is_repo=False, branch=None, clean=None, commits=None)
    assert found.duration_seconds >= 0
    assert_valid(found)


def test_directory_outside_any_repository(tmp_path: Path) -> None:
    write_files(tmp_path, {"notes.md": "# notes\n", "script.sh": "echo hi\n"})

    found = scan(tmp_path)

    assert found.git == GitState(is_repo=False)
    assert found.paths == ("notes.md", "script.sh")
    assert {lang.name for lang in found.languages} == {"Markdown", "Shell"}
    assert found.document()["git"] == {
        "is_repo": False,
        "branch": None,
        "clean": None,
        "commits": None,
    }


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "trunk")
    assert scan(tmp_path).git == GitState(is_repo=True, branch="trunk", clean=True, commits=0)

    write_files(tmp_path, {"main.py": "print(1)\n"})
    found = scan(tmp_path)

    assert found.git == GitState(is_repo=True, branch="trunk", clean=False, commits=0)
    assert found.paths == ("main.py",)  # untracked files are scanned too
    assert_valid(found)


def test_detached_head_and_dirty_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "A = 1\n"})
    write_files(repo, {"a.py": "A = 2\n"})
    commit_all(repo, "second")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    write_files(repo, {"a.py": "A = 3\n"})
    index = (repo / ".git" / "index").read_bytes()

    found = scan(repo)

    assert found.git == GitState(is_repo=True, branch=None, clean=False, commits=1)
    assert (repo / ".git" / "index").read_bytes() == index  # discovery wrote nothing


def test_subfolder_of_a_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**PYTHON_PROJECT, ".gitignore": "*.log\n"})
    write_files(repo, {"src/demo/trace.log": "x\n"})

    found = scan(repo / "src")

    assert found.paths == ("demo/__init__.py",)
    assert found.git.is_repo
    assert any(entry.startswith("git-ignored: 1 file") for entry in found.skipped)


def test_binary_only_content_has_no_language(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "blob.bin": os.urandom(4096)},
    )

    found = scan(tmp_path)

    assert found.languages == []
    assert found.files_scanned == 2
    assert_valid(found)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_root_that_is_not_a_directory_is_invalid_input(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "nothing-here"
    if kind == "file":
        root.write_text("x")

    with pytest.raises(DiscoveryRootInvalid) as caught:
        scan(root)

    assert isinstance(caught.value, InvalidInput)
    assert caught.value.exit_code == EXIT_INVALID
    reason = "no such directory" if kind == "missing" else "not a directory"
    assert str(caught.value).startswith(f"cannot scan {root}: {reason}")
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


# --- tools --------------------------------------------------------------------------------------


def tools_on_path(
    folder: Path, monkeypatch: pytest.MonkeyPatch, scripts: Mapping[str, str]
) -> None:
    """Shell scripts named like tools, alone on PATH."""
    folder.mkdir()
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))


def test_tools_found_with_their_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools_on_path(
        tmp_path / "bin",
        monkeypatch,
        {
            "ruff": 'echo "ruff 0.6.9"',
            "dbt": 'printf "Core:\\n  - installed: 1.8.0\\n"',
            "quiet": 'echo "quiet 2.0" >&2',  # some tools print their version on stderr
            "broken": 'echo "usage: broken" >&2; exit 2',
            "go": '[ "$1" = version ] && echo "go version go1.22.0 linux/amd64"',
        },
    )
    names = ("ruff", "dbt", "quiet", "broken", "go", "absent")

    found = {t.name: t for t in scan(tmp_path, tools=names).tools}

    assert list(found) == list(names)
    assert found["ruff"].version == "ruff 0.6.9"
    assert found["ruff"].path == str(tmp_path / "bin" / "ruff")
    assert found["dbt"].version == "- installed: 1.8.0"
    assert found["quiet"].version == "quiet 2.0"
    assert found["broken"].found is True
    assert found["broken"].version is None
    assert found["go"].version == "go version go1.22.0 linux/amd64"
    assert found["absent"] == discovery.ToolFound("absent", found=False)


def test_versions_are_not_probed_when_asked_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    tools_on_path(tmp_path / "bin", monkeypatch, {"ruff": f': > "{marker}"; echo ruff 1'})

    (ruff,) = scan(tmp_path, tools=("ruff",), probe_versions=False).tools

    assert (ruff.found, ruff.version) == (True, None)
    assert not marker.exists()


def test_version_probes_run_in_parallel_and_time_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery.tools, "VERSION_TIMEOUT", 1.0)
    sleep = shutil.which("sleep")  # PATH will hold only the fake tools
    scripts = {f"slow{i}": f"{sleep} 0.6; echo slow 1.0" for i in range(8)}
    scripts["hangs"] = f"{sleep} 30; echo never"
    tools_on_path(tmp_path / "bin", monkeypatch, scripts)

    started = time.monotonic()
    found = {t.name: t.version for t in scan(tmp_path, tools=tuple(scripts)).tools}
    elapsed = time.monotonic() - started

    assert found["hangs"] is None
    assert all(found[f"slow{i}"] == "slow 1.0" for i in range(8))
    assert elapsed < 2.5  # eight 0.6 s probes and a 1 s timeout, side by side


def test_default_tools_document_validates(tmp_path: Path) -> None:
    found = discover(tmp_path, probe_versions=False)

    assert [t.name for t in found.tools] == list(discovery.DEFAULT_TOOLS)
    assert next(t for t in found.tools if t.name == "git").found
    assert_valid(found)


# --- the document -------------------------------------------------------------------------------


def test_document_is_the_discovery_of_a_bootstrap_report(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PYTHON_PROJECT)
    found = scan(repo)

    document = found.document()

    assert set(document) == {
        "languages",
        "markers",
        "test_frameworks",
        "ci",
        "tools",
        "git",
        "files_scanned",
        "skipped",
        "duration_seconds",
    }
    assert document["markers"][0] == {"name": found.markers[0].name, "path": found.markers[0].path}
    assert {"name": "pytest", "config": "pyproject.toml"} in document["test_frameworks"]
    assert_valid(found)
    broken = report(found)
    broken["discovery"]["paths"] = list(found.paths)  # paths stay out of the report
    assert [i.path for i in registry().issues(broken, "bootstrap_report.v1")] == [
        "$.discovery.paths"
    ]


def test_data_languages_carry_no_share_in_the_document(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.py": "x = 1\n", "data.json": "[]" * 100})

    languages = {lang["name"]: lang for lang in scan(tmp_path).document()["languages"]}

    assert languages["Python"]["share"] == 1.0
    assert "share" not in languages["JSON"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/app.py", "Python"),
        ("web/App.TSX", "TypeScript"),
        ("Dockerfile", "Dockerfile"),
        ("deploy/Dockerfile.prod", "Dockerfile"),
        ("Makefile", "Makefile"),
        ("Jenkinsfile", "Groovy"),
        ("infra/main.tf", "HCL"),
        ("README.md", "Markdown"),
        (".bashrc", None),
        ("logo.png", None),
        ("LICENSE", None),
    ],
)
def test_language_of(path: str, expected: str | None) -> None:
    assert language_of(path) == expected
