"""Self-protection: by default no patch may change UET's own files (``.uet/**``) or CI
definitions; a policy allows them explicitly with ``allow_protected``, and like every policy
setting a later level can only narrow what an earlier one allowed (the real runs are in
tests/engine/routing/test_protected_runs.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.contracts import issues
from core.engine.patches.policy import PROTECTED, Policy, check, protected


def entry(path: str, change: str = "modified", **fields: Any) -> dict[str, Any]:
    return {"path": path, "old_path": None, "change": change, "added": 1, "removed": 0, **fields}


PROTECTED_PATHS = [
    ".uet/project_profile.json",
    ".uet/router_config.json",
    ".uet/phases/implement.json",
    ".github/workflows/ci.yml",
    ".github/actions/setup/action.yml",
    ".gitlab-ci.yml",
    ".circleci/config.yml",
    "azure-pipelines.yml",
    "Jenkinsfile",
    ".buildkite/pipeline.yml",
    ".ci/run",
    ".travis.yml",
    ".UET/router_config.json",  # the same folder on a case-insensitive filesystem
    ".GitHub/Workflows/ci.yml",
]


@pytest.mark.parametrize("path", PROTECTED_PATHS)
def test_uets_files_and_ci_definitions_are_protected_by_default(path: str) -> None:
    guarded = protected(path)
    assert guarded in PROTECTED
    assert check([entry(path)], Policy()) == [
        f"{path}: protected path (matches {guarded}: UET's own files and CI definitions change "
        "only where a policy's allow_protected names them)"
    ]


@pytest.mark.parametrize(
    "path",
    ["src/app.py", "docs/ci.md", "src/.uet.py", "github/workflows/x.yml", "tests/.ci_helper.py"],
)
def test_ordinary_paths_are_not_protected(path: str) -> None:
    assert protected(path) is None
    assert check([entry(path)], Policy()) == []


def test_a_rename_out_of_a_protected_folder_is_a_change_to_it() -> None:
    change = [entry("old-ci.yml", "renamed", old_path=".github/workflows/ci.yml")]
    assert [r.split(":")[0] for r in check(change, Policy())] == [".github/workflows/ci.yml"]


def test_a_policy_allows_protected_paths_explicitly() -> None:
    policy = Policy.merge([{"allow_protected": [".github/workflows/**"]}])
    assert check([entry(".github/workflows/ci.yml")], policy) == []
    assert [r.split(":")[0] for r in check([entry(".uet/router_config.json")], policy)] == [
        ".uet/router_config.json"
    ]
    everything = Policy.merge([{"allow_protected": ["**"]}])
    assert check([entry(p) for p in PROTECTED_PATHS], everything) == []


@pytest.mark.parametrize(
    ("levels", "allowed"),
    [
        ([{"allow_protected": [".github/**"]}, {}], True),
        ([{"allow_protected": [".github/**"]}, {"allow_protected": [".github/workflows/*"]}], True),
        ([{"allow_protected": [".github/**"]}, {"allow_protected": [".uet/**"]}], False),
        ([{"allow_protected": [".github/**"]}, {"allow_protected": []}], False),
        ([{"max_files": 3}], False),
    ],
)
def test_a_later_level_can_only_narrow_what_is_allowed(
    levels: list[dict[str, Any]], allowed: bool
) -> None:
    policy = Policy.merge(levels)
    reasons = check([entry(".github/workflows/ci.yml")], policy)
    assert (reasons == []) is allowed


def test_allow_protected_is_part_of_the_schema_and_the_document() -> None:
    level = {"schema_version": "patch_policy.v1", "allow_protected": [".github/workflows/**"]}
    assert issues(level, "patch_policy.v1") == []
    assert issues({"allow_protected": True}, "patch_policy.v1") != []
    document = Policy.merge([level]).document()
    assert document["allow_protected"] == [".github/workflows/**"]
    assert issues(document, "patch_policy.v1") == []
