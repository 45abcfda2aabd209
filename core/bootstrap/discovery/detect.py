"""From facts to findings: markers, test frameworks and CI configurations, each found by a
table of detectors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.bootstrap.discovery.facts import MARKER_DEPTH, MARKER_EXAMPLES, Facts, Tree, sniff
from core.bootstrap.discovery.result import CIConfig, Marker, TestFramework

# --- markers ----------------------------------------------------------------------------------

# (marker name, or None for the file's own name; file name patterns; folders deep, None: any)
_FILE_MARKERS: tuple[tuple[str | None, tuple[str, ...], int | None], ...] = (
    (None, ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "Pipfile.lock", "poetry.lock",
            "uv.lock", "tox.ini", "noxfile.py", "requirements*.txt", "environment.yml",
            "package.json", "tsconfig.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
            "Cargo.toml", "go.mod", "pom.xml", "build.gradle", "build.gradle.kts",
            "CMakeLists.txt", "Makefile", "Gemfile", "composer.json", "dbt_project.yml",
            "Chart.yaml", "kustomization.yaml", "kustomization.yml", "Dockerfile",
            "docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml",
            "ansible.cfg", "mkdocs.yml", "mkdocs.yaml", "book.toml", "docusaurus.config.*",
            ".pre-commit-config.yaml", ".eslintrc*", "eslint.config.*", ".markdownlint*",
            ".sqlfluff", ".yamllint*", ".prettierrc*", "Jenkinsfile"), MARKER_DEPTH),
    ("mypy config", ("mypy.ini", ".mypy.ini"), MARKER_DEPTH),
    ("ruff config", ("ruff.toml", ".ruff.toml"), MARKER_DEPTH),
    (".NET project", ("*.csproj", "*.fsproj", "*.vbproj"), MARKER_DEPTH + 1),
    (".NET solution", ("*.sln",), MARKER_DEPTH),
    ("Terraform", ("*.tf",), None),
    ("SQL", ("*.sql",), None),
)  # fmt: skip


def markers(facts: Facts) -> list[Marker]:
    found: list[Marker] = []
    for name, patterns, depth in _FILE_MARKERS:
        for path in facts.tree.named(patterns, depth):
            found.append(Marker(name or path.rpartition("/")[2], path))
    for detect in _DERIVED_MARKERS:
        found.extend(detect(facts))
    return _capped(found)


def _capped(markers: list[Marker]) -> list[Marker]:
    counts: dict[str, int] = {}
    kept: list[Marker] = []
    for marker in dict.fromkeys(markers):
        counts[marker.name] = counts.get(marker.name, 0) + 1
        if counts[marker.name] <= MARKER_EXAMPLES:
            kept.append(marker)
    return kept


def _config_markers(facts: Facts) -> list[Marker]:
    """mypy and ruff configured inside pyproject.toml or setup.cfg."""
    found: list[Marker] = []
    for rel, pyproject in facts.pyprojects.items():
        tool = pyproject.get("tool")
        if isinstance(tool, dict):
            found += [Marker(f"{name} config", rel) for name in ("mypy", "ruff") if name in tool]
    for rel, sections in facts.ini_sections.items():
        if rel.endswith("setup.cfg") and "mypy" in sections:
            found.append(Marker("mypy config", rel))
    return found


_FOLDER_HINT = re.compile(r"dags/|great_expectations|conf\.py$|roles/")


def _folder_markers(facts: Facts) -> list[Marker]:
    """Airflow DAG folders, Great Expectations projects, Sphinx docs, Ansible roles."""
    found: list[Marker] = []
    for path in facts.tree.paths:
        if not _FOLDER_HINT.search(path):
            continue
        parts = path.split("/")
        if path.endswith(".py") and "dags" in parts[:-1]:
            found.append(Marker("Airflow DAG folder", _folder(parts, "dags")))
        if "great_expectations" in parts[:-1]:
            found.append(Marker("Great Expectations", _folder(parts, "great_expectations")))
        elif parts[-1] == "great_expectations.yml":
            found.append(Marker("Great Expectations", "/".join(parts[:-1]) + "/" or path))
        if parts[-1] == "conf.py" and len(parts) <= 4 and {"docs", "doc"} & set(parts[:-1]):
            found.append(Marker("Sphinx", path))
        if len(parts) >= 4 and parts[-4] == "roles" and parts[-2:] == ["tasks", "main.yml"]:
            found.append(Marker("Ansible role", "/".join(parts[:-2]) + "/"))
    return found


def _folder(parts: list[str], name: str) -> str:
    return "/".join(parts[: parts.index(name) + 1]) + "/"


def _yaml_markers(facts: Facts) -> list[Marker]:
    return [Marker(kind, path) for path, kind in facts.yaml_kinds.items()]


_DERIVED_MARKERS: tuple[Callable[[Facts], list[Marker]], ...] = (
    _config_markers,
    _folder_markers,
    _yaml_markers,
)

# --- test frameworks --------------------------------------------------------------------------

_PYTEST_DEPENDENCY = re.compile(r"""(^|["'\s])pytest\b""", re.M)


def _pytest(facts: Facts) -> TestFramework | None:
    tree, ini = facts.tree, facts.ini_sections
    configs = [  # in pytest's order of precedence
        *tree.named(("pytest.ini", ".pytest.ini")),
        *(rel for rel, doc in facts.pyprojects.items() if _has_pytest_table(doc)),
        *(rel for rel, sections in ini.items() if "pytest" in sections and rel[-7:] == "tox.ini"),
        *(rel for rel, sections in ini.items() if "tool:pytest" in sections),
        *tree.named(("conftest.py",), None),
    ]
    if configs:
        return TestFramework("pytest", min(configs, key=lambda rel: rel.count("/")))
    declared = any(
        _PYTEST_DEPENDENCY.search(tree.manifest(rel) or "")
        for rel in [*facts.pyprojects, *tree.named(("requirements*.txt",))]
    )
    if declared or (facts.python_tests and not facts.uses_testcase):
        return TestFramework("pytest", None)
    return None


def _has_pytest_table(pyproject: dict[str, Any]) -> bool:
    tool = pyproject.get("tool")
    pytest = tool.get("pytest") if isinstance(tool, dict) else None
    return isinstance(pytest, dict)  # [tool.pytest.ini_options], or pytest 9's [tool.pytest]


def _unittest(facts: Facts) -> TestFramework | None:
    return TestFramework("unittest", None) if facts.uses_testcase else None


@dataclass(frozen=True)
class _JsRunner:
    """A JavaScript test runner: found by a config file of its own, or in a package.json by
    its package among the dependencies or its command in a script."""

    name: str
    package: str
    command: str
    configs: tuple[str, ...]

    def __call__(self, facts: Facts) -> TestFramework | None:
        configs = facts.tree.named(self.configs)
        if configs:
            return TestFramework(self.name, configs[0])
        command = re.compile(rf"(^|[\s/&;]){re.escape(self.command)}(\s|$)")
        for rel, package in facts.packages.items():
            if self.package in _dependencies(package) or any(
                command.search(script) for script in _scripts(package)
            ):
                return TestFramework(self.name, rel)
        return None


def _dependencies(package: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        table = package.get(key)
        if isinstance(table, dict):
            names.update(table)
    return names


def _scripts(package: dict[str, Any]) -> list[str]:
    scripts = package.get("scripts")
    if not isinstance(scripts, dict):
        return []
    return [value for value in scripts.values() if isinstance(value, str)]


def _go_test(facts: Facts) -> TestFramework | None:
    if not any(p.endswith("_test.go") for p in facts.tree.with_ext(".go")):
        return None
    modules = facts.tree.named(("go.mod",))
    return TestFramework("go test", modules[0] if modules else None)


def _cargo_test(facts: Facts) -> TestFramework | None:
    manifests = facts.tree.named(("Cargo.toml",))
    if manifests and facts.tree.with_ext(".rs"):
        return TestFramework("cargo test", manifests[0])
    return None


_DBT_TESTS = re.compile(r"^\s*-?\s*(?:data_)?tests:", re.M)


def _dbt_tests(facts: Facts) -> TestFramework | None:
    projects = facts.tree.named(("dbt_project.yml",))
    if not projects:
        return None
    base = projects[0].rpartition("/")[0]
    prefix = f"{base}/" if base else ""
    singular = [p for p in facts.tree.with_ext(".sql") if p.startswith(f"{prefix}tests/")]
    models = [p for p in facts.tree.with_ext(".yml", ".yaml") if p.startswith(f"{prefix}models/")]
    if singular or sniff(facts.tree, models, _DBT_TESTS):
        return TestFramework("dbt tests", projects[0])
    return None


def _rspec(facts: Facts) -> TestFramework | None:
    configs = facts.tree.named((".rspec",))
    specs = [p for p in facts.tree.with_ext(".rb") if p.endswith("_spec.rb")]
    return TestFramework("rspec", configs[0] if configs else None) if configs or specs else None


def _phpunit(facts: Facts) -> TestFramework | None:
    configs = facts.tree.named(("phpunit.xml", "phpunit.xml.dist"))
    return TestFramework("phpunit", configs[0]) if configs else None


_JS = ("js", "ts", "mjs", "cjs", "mts", "cts")


def _configs(tool: str) -> tuple[str, ...]:
    return tuple(f"{tool}.config.{ext}" for ext in _JS)


_FRAMEWORKS: tuple[Callable[[Facts], TestFramework | None], ...] = (
    _pytest,
    _unittest,
    _JsRunner("jest", "jest", "jest", (*_configs("jest"), "jest.config.json")),
    _JsRunner("vitest", "vitest", "vitest", _configs("vitest")),
    _JsRunner("mocha", "mocha", "mocha", (".mocharc*",)),
    _JsRunner("playwright", "@playwright/test", "playwright", _configs("playwright")),
    _JsRunner("cypress", "cypress", "cypress", _configs("cypress")),
    _go_test,
    _cargo_test,
    _dbt_tests,
    _rspec,
    _phpunit,
)


def frameworks(facts: Facts) -> list[TestFramework]:
    """The test frameworks found, in the order of ``_FRAMEWORKS``."""
    return [found for detect in _FRAMEWORKS if (found := detect(facts)) is not None]


# --- CI ---------------------------------------------------------------------------------------

_CI: tuple[tuple[str, str], ...] = (
    ("GitHub Actions", ".github/workflows/*.yml"),
    ("GitHub Actions", ".github/workflows/*.yaml"),
    ("GitLab CI", ".gitlab-ci.yml"),
    ("CircleCI", ".circleci/config.yml"),
    ("Azure Pipelines", "azure-pipelines.yml"),
    ("Azure Pipelines", "azure-pipelines.yaml"),
    ("Jenkins", "Jenkinsfile"),
    ("Travis CI", ".travis.yml"),
    ("Bitbucket Pipelines", "bitbucket-pipelines.yml"),
)


def ci_configs(tree: Tree) -> list[CIConfig]:
    found: list[CIConfig] = []
    for system, pattern in _CI:
        folder, _, name = pattern.rpartition("/")
        found += [
            CIConfig(system, path)
            for path in tree.named((name,), pattern.count("/"))
            if path.rpartition("/")[0] == folder
        ]
    return found
