"""What the files say: the scanned paths indexed by name and extension, and the manifests
near the root (pyproject.toml, setup.cfg, tox.ini, package.json) and the beginnings of YAML
and Python test files, read once for every detector."""

from __future__ import annotations

import configparser
import fnmatch
import functools
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.bootstrap.discovery.files import Scan, Skips

MARKER_DEPTH = 2  # folders below the root where manifests and tool configs count
MARKER_EXAMPLES = 10  # paths listed per marker name
YAML_READS, YAML_HEAD = 200, 2048
SNIFF_READS, SNIFF_HEAD = 50, 8192
MANIFEST_LIMIT = 1 << 20


@dataclass
class Tree:
    """The scanned paths, indexed for the questions markers and frameworks ask."""

    root: str
    paths: tuple[str, ...]
    sizes: Mapping[str, int]
    skips: Skips
    by_ext: dict[str, list[str]] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)
    shallow: dict[str, list[str]] = field(default_factory=dict)  # by name, near the root

    def __post_init__(self) -> None:
        for path in self.paths:
            name = path.rpartition("/")[2]
            stem, dot, ext = name.rpartition(".")
            if dot and stem:
                self.by_ext.setdefault(f".{ext.lower()}", []).append(path)
            self.by_name.setdefault(name, []).append(path)
            if path.count("/") <= MARKER_DEPTH + 1:
                self.shallow.setdefault(name, []).append(path)

    def named(self, patterns: Sequence[str], depth: int | None = MARKER_DEPTH) -> list[str]:
        """Paths whose file name matches a pattern, within ``depth`` folders, shallowest first."""
        index = self.by_name if depth is None or depth > MARKER_DEPTH + 1 else self.shallow
        matches = _matcher(tuple(patterns))
        found = [
            path
            for name, paths in index.items()
            if matches(name)
            for path in paths
            if depth is None or path.count("/") <= depth
        ]
        return sorted(found, key=_shallow_first)

    def with_ext(self, *exts: str) -> list[str]:
        found = [path for ext in exts for path in self.by_ext.get(ext, ())]
        return sorted(found, key=_shallow_first)

    def read(self, rel: str, limit: int) -> str | None:
        """The first ``limit`` bytes of a scanned file as text; None (and a note) on failure."""
        try:
            with open(os.path.join(self.root, rel), "rb") as handle:
                return handle.read(limit).decode("utf-8", "replace")
        except OSError as exc:
            self.skips.add(f"unreadable: {rel} ({exc.strerror or exc})")
            return None

    def manifest(self, rel: str) -> str | None:
        if self.sizes.get(rel, 0) > MANIFEST_LIMIT:
            self.skips.add(f"too large to read: {rel} ({self.sizes[rel]} bytes)")
            return None
        return self.read(rel, MANIFEST_LIMIT)


def _shallow_first(path: str) -> tuple[int, str]:
    return (path.count("/"), path)


@functools.cache
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], object]:
    """One compiled regex for a set of file name globs (one match per name, not per glob)."""
    return re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns)).match


_TESTCASE = re.compile(r"\bunittest\.TestCase\b|from unittest import[^\n]*\bTestCase\b")


@dataclass
class Facts:
    """The tree plus what its manifests say, read once for every detector."""

    tree: Tree
    pyprojects: dict[str, dict[str, Any]]
    ini_sections: dict[str, set[str]]  # setup.cfg and tox.ini -> their section names
    packages: dict[str, dict[str, Any]]  # package.json -> parsed
    yaml_kinds: dict[str, str]  # path -> "Kubernetes manifest" or "Ansible playbook"

    @classmethod
    def gather(cls, scan: Scan) -> Facts:
        tree = Tree(scan.root, tuple(sorted(scan.files)), scan.files, scan.skips)
        return cls(
            tree=tree,
            pyprojects=_parsed(tree, "pyproject.toml", tomllib.loads),
            ini_sections=_ini_sections(tree),
            packages=_parsed(tree, "package.json", _json_object),
            yaml_kinds=_yaml_kinds(tree),
        )

    @functools.cached_property
    def python_tests(self) -> list[str]:
        return self.tree.named(("test_*.py", "*_test.py"), None)

    @functools.cached_property
    def uses_testcase(self) -> bool:
        """Whether Python test files subclass unittest.TestCase (the first few are read)."""
        return sniff(self.tree, self.python_tests, _TESTCASE)


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _parsed(
    tree: Tree, name: str, parse: Callable[[str], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = {}
    for rel in tree.named((name,))[: MARKER_EXAMPLES * 2]:
        text = tree.manifest(rel)
        if text is None:
            continue
        try:
            parsed[rel] = parse(text)
        except ValueError as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            tree.skips.add(f"unparsable: {rel} ({str(exc).splitlines()[0]})")
    return parsed


def _ini_sections(tree: Tree) -> dict[str, set[str]]:
    sections: dict[str, set[str]] = {}
    for rel in tree.named(("setup.cfg", "tox.ini")):
        text = tree.manifest(rel)
        if text is None:
            continue
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string(text, source=rel)
        except configparser.Error as exc:
            tree.skips.add(f"unparsable: {rel} ({str(exc).splitlines()[0]})")
            continue
        sections[rel] = set(parser.sections())
    return sections


# YAML files that are something else for certain: not worth one of the YAML_READS.
_NOT_MANIFESTS = re.compile(
    r"(^|/)(\.github/|\.gitlab-ci|\.pre-commit|docker-compose|compose\.|mkdocs\.|"
    r"dbt_project\.|Chart\.|values[.-]|pnpm-lock|\.circleci/|azure-pipelines|\.travis|"
    r"bitbucket-pipelines|\.yamllint|\.markdownlint|codecov|\.readthedocs|environment\.)"
)
_K8S = (re.compile(r"^apiVersion:\s*\S", re.M), re.compile(r"^kind:\s*\S", re.M))
_PLAY = (re.compile(r"^-\s+(?:name:.*\n\s+)?hosts:\s*\S", re.M),
         re.compile(r"^\s+(?:tasks|roles|pre_tasks|post_tasks|import_tasks):", re.M))  # fmt: skip


def _yaml_kinds(tree: Tree) -> dict[str, str]:
    candidates = [p for p in tree.with_ext(".yml", ".yaml") if not _NOT_MANIFESTS.search(p)]
    if len(candidates) > YAML_READS:
        tree.skips.add(
            f"YAML contents: read {YAML_READS} of {len(candidates)} files "
            "(for Kubernetes manifests and Ansible playbooks)"
        )
    kinds: dict[str, str] = {}
    for rel in candidates[:YAML_READS]:
        head = tree.read(rel, YAML_HEAD)
        if head is None:
            continue
        if all(pattern.search(head) for pattern in _K8S):
            kinds[rel] = "Kubernetes manifest"
        elif all(pattern.search(head) for pattern in _PLAY):
            kinds[rel] = "Ansible playbook"
    return kinds


def sniff(tree: Tree, paths: Sequence[str], pattern: re.Pattern[str]) -> bool:
    """Whether the beginning of one of the first ``SNIFF_READS`` paths matches ``pattern``."""
    return any(pattern.search(tree.read(rel, SNIFF_HEAD) or "") for rel in paths[:SNIFF_READS])
