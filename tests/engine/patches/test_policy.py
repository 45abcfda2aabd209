"""Patch policy: merging levels (each only tightens), the always-refused paths and symlinks,
every violation reported, globs; hand cases, a hypothesis property, and a real change captured
from a worktree of a real git repository made in tmp_path.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.adapters.git import Git
from core.contracts import issues
from core.engine.patches.capture import capture
from core.engine.patches.copies import admin_dir
from core.engine.patches.policy import (
    Policy,
    check,
    compile_glob,
    levels_of,
    matches,
    symlink_escape,
    unsafe_path,
)

NewWorktree = Callable[..., Path]  # the conftest's new_worktree(commit=None)


def entry(path: str, change: str = "modified", **fields: Any) -> dict[str, Any]:
    """A patch_artifact.v1 ``files`` entry, as capture makes them."""
    record: dict[str, Any] = {
        "path": path,
        "old_path": None,
        "change": change,
        "binary": False,
        "symlink": False,
        "submodule": False,
        "added": 1,
        "removed": 0,
        "old_mode": None if change == "added" else "100644",
        "new_mode": None if change == "deleted" else "100644",
    }
    record.update(fields)
    return record


# -- merging levels ---------------------------------------------------------------------------


def test_no_levels_is_the_loosest_policy() -> None:
    policy = Policy.merge([])
    assert policy == Policy()
    assert (policy.max_files, policy.max_changed_lines, policy.write_scopes) == (None, None, ())
    assert (policy.allow_binary, policy.allow_deletions, policy.allow_submodules) == (
        True,
        True,
        False,
    )
    assert check([entry("anything/at/all.txt", added=10_000)], policy) == []


def test_merge_only_tightens() -> None:
    project = {
        "schema_version": "patch_policy.v1",
        "max_files": 10,
        "max_changed_lines": 100,
        "forbidden": ["secrets/**"],
        "allow_binary": True,
        "oscillation_window": 2,
    }
    workstream = {
        "max_files": 20,  # looser: ignored
        "max_changed_lines": 50,
        "forbidden": ["**/*.pem", "secrets/**"],
        "allow_binary": False,
        "allow_deletions": False,
        "oscillation_window": 5,
    }
    task = {"max_files": 3, "allow_binary": True, "allow_deletions": True, "oscillation_window": 1}
    policy = Policy.merge([project, workstream, task])
    assert policy.max_files == 3
    assert policy.max_changed_lines == 50
    assert policy.forbidden == (("secrets/**",), ("**/*.pem", "secrets/**"))
    assert policy.allow_binary is False, "a false permission at any level wins"
    assert policy.allow_deletions is False
    assert policy.oscillation_window == 5, "the larger window is kept"
    assert Policy.merge([{"oscillation_window": 0}]).oscillation_window == 0
    assert Policy.merge([{"max_files": 4}]).oscillation_window is None


def test_smallest_maximum_wins_whatever_the_order() -> None:
    levels = [{"max_files": 5, "max_changed_lines": 7}, {"max_files": 2}, {"max_changed_lines": 9}]
    for order in (levels, levels[::-1], [levels[1], levels[0], levels[2]]):
        policy = Policy.merge(order)
        assert (policy.max_files, policy.max_changed_lines) == (2, 7)


def test_every_write_scope_must_match() -> None:
    workstream = {"write_scope": ["src/**", "docs/**"]}
    task = {"write_scope": ["docs/**", "README.md"]}
    policy = Policy.merge([workstream, task])
    assert policy.write_scopes == (("src/**", "docs/**"), ("docs/**", "README.md"))
    assert check([entry("docs/guide.md")], policy) == []
    # Allowed by the workstream, not by the task.
    assert check([entry("src/app.py")], policy) == [
        "src/app.py: outside the write scope (docs/**, README.md)"
    ]
    # Allowed by the task, not by the workstream.
    assert check([entry("README.md")], policy) == [
        "README.md: outside the write scope (src/**, docs/**)"
    ]
    # Allowed by neither: both scopes say so.
    assert check([entry("other.txt")], policy) == [
        "other.txt: outside the write scope (src/**, docs/**)",
        "other.txt: outside the write scope (docs/**, README.md)",
    ]


def test_an_empty_write_scope_allows_nothing() -> None:
    policy = Policy.merge([{"write_scope": []}])
    assert check([entry("a.txt")], policy) == ["a.txt: outside the write scope (nothing)"]
    assert check([], policy) == []


def test_forbidden_globs_accumulate() -> None:
    policy = Policy.merge([{"forbidden": ["secrets/**"]}, {"forbidden": ["**/*.lock"]}])
    assert check([entry("secrets/key")], policy) == [
        "secrets/key: forbidden path (matches secrets/**)"
    ]
    assert check([entry("a/b/poetry.lock")], policy) == [
        "a/b/poetry.lock: forbidden path (matches **/*.lock)"
    ]
    assert check([entry("src/app.py")], policy) == []


@pytest.mark.parametrize(
    ("levels", "allowed"),
    [
        ([], False),
        ([{}], False),
        ([{"allow_submodules": True}], True),
        ([{}, {"allow_submodules": True}, {}], True),
        ([{"allow_submodules": True}, {"allow_submodules": False}], False),
        ([{"allow_submodules": False}, {"allow_submodules": True}], False),
        ([{"allow_submodules": True}, {"allow_submodules": True}], True),
    ],
)
def test_submodules_need_a_level_allowing_them_and_none_forbidding(
    levels: list[dict[str, Any]], allowed: bool
) -> None:
    policy = Policy.merge(levels)
    assert policy.allow_submodules is allowed
    change = [entry("vendor/lib", submodule=True, old_mode="160000", new_mode="160000")]
    expected = [] if allowed else ["vendor/lib: submodule change (not allowed by the policy)"]
    assert check(change, policy) == expected


def test_document_is_a_valid_patch_policy() -> None:
    assert issues(Policy().document(), "patch_policy.v1") == []
    policy = Policy.merge(
        [
            {
                "max_files": 4,
                "max_changed_lines": 40,
                "write_scope": ["src/**", "tests/**"],
                "forbidden": ["secrets/**"],
                "allow_submodules": True,
                "tests_required": [{"paths": ["src/**"], "tests": ["tests/**"]}],
                "oscillation_window": 3,
            },
            {
                "write_scope": ["src/**"],
                "forbidden": ["secrets/**", "*.pem"],
                "allow_binary": False,
            },
        ]
    )
    document = policy.document()
    assert issues(document, "patch_policy.v1") == []
    assert document == {
        "allow_binary": False,
        "allow_submodules": True,
        "allow_deletions": True,
        "max_files": 4,
        "max_changed_lines": 40,
        "write_scope": ["src/**"],
        "forbidden": ["secrets/**", "*.pem"],
        "tests_required": [{"paths": ["src/**"], "tests": ["tests/**"]}],
        "oscillation_window": 3,
    }


def test_levels_of_workstream_and_task() -> None:
    workstream = {
        "patch_policy": {"max_files": 5, "forbidden": ["secrets/**"]},
        "scope": {"write": ["src/**", "docs/**"], "forbidden": ["src/generated/**"]},
    }
    task = {"scope": {"write": ["docs/**"]}}
    levels = levels_of(None, workstream, {}, task)
    assert levels == [
        {"max_files": 5, "forbidden": ["secrets/**"]},
        {"write_scope": ["src/**", "docs/**"], "forbidden": ["src/generated/**"]},
        {"write_scope": ["docs/**"]},
    ]
    policy = Policy.merge(levels)
    assert check([entry("docs/a.md")], policy) == []
    assert check([entry("src/generated/x.py")], policy) == [
        "src/generated/x.py: outside the write scope (docs/**)",
        "src/generated/x.py: forbidden path (matches src/generated/**)",
    ]
    # A declared but empty write scope is a level of its own: nothing may be written.
    assert levels_of({"scope": {"write": []}}) == [{"write_scope": []}]
    assert levels_of({"scope": {"forbidden": []}}, {"patch_policy": {}}) == []


# -- monotonic tightening (hypothesis) --------------------------------------------------------

PATHS = [
    "README.md",
    "src/a.py",
    "src/gen/x.py",
    "docs/r.md",
    "tests/test_a.py",
    "secrets/k.bin",
    "a/b/c.py",
    ".github/w.yml",
]
GLOBS = ["src/**", "docs/**", "**/*.py", "*", "tests/**", "**", "*.md", "src/*.py", "[as]*/**"]
COUNT_REASON = re.compile(r"^changes \d+ (files|lines); the policy allows at most \d+$")


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def levels(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1 to 5 patch_policy.v1 levels. Only the first may allow submodules: a later level saying
    so loosens by design (submodules are refused until some level allows them)."""
    drawn: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 5))):
        candidates = {
            "max_files": draw(optional(st.integers(0, 6))),
            "max_changed_lines": draw(optional(st.integers(0, 40))),
            "write_scope": draw(optional(st.lists(st.sampled_from(GLOBS), max_size=3))),
            "forbidden": draw(optional(st.lists(st.sampled_from(GLOBS), max_size=2))),
            "allow_binary": draw(optional(st.booleans())),
            "allow_deletions": draw(optional(st.booleans())),
            "allow_submodules": draw(optional(st.booleans() if index == 0 else st.just(False))),
            "tests_required": draw(
                optional(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "paths": st.lists(st.sampled_from(GLOBS), min_size=1, max_size=2),
                                "tests": st.lists(st.sampled_from(GLOBS), min_size=1, max_size=2),
                            }
                        ),
                        max_size=2,
                    )
                )
            ),
            "oscillation_window": draw(optional(st.integers(0, 5))),
        }
        drawn.append({key: value for key, value in candidates.items() if value is not None})
    return drawn


changes = st.lists(
    st.builds(
        entry,
        st.sampled_from(PATHS),
        st.sampled_from(["added", "modified", "deleted", "renamed", "mode_changed"]),
        binary=st.booleans(),
        submodule=st.booleans(),
        added=st.integers(0, 15),
        removed=st.integers(0, 15),
    ),
    max_size=6,
)


def path_reasons(reasons: Sequence[str]) -> set[str]:
    return {reason for reason in reasons if not COUNT_REASON.match(reason)}


def count_kinds(reasons: Sequence[str]) -> set[str]:
    return {match.group(1) for reason in reasons if (match := COUNT_REASON.match(reason))}


@settings(max_examples=200, deadline=None)
@given(levels(), changes)
def test_more_levels_never_accept_what_fewer_rejected(
    drawn: list[dict[str, Any]], files: list[dict[str, Any]]
) -> None:
    earlier: list[str] | None = None
    for count in range(1, len(drawn) + 1):
        policy = Policy.merge(drawn[:count])
        reasons = check(files, policy)
        if earlier is not None:
            if earlier:
                assert reasons, f"level {count} accepted what {count - 1} levels rejected"
            assert path_reasons(earlier) <= path_reasons(reasons)
            assert count_kinds(earlier) <= count_kinds(reasons)
        earlier = reasons
    assert issues(Policy.merge(drawn).document(), "patch_policy.v1") == []


# -- always refused ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../x", "climbs out"),
        ("a/../../x", "climbs out"),
        ("src/..", "climbs out"),
        ("a\\..\\..\\x", "climbs out"),
        ("/etc/passwd", "absolute path"),
        ("C:\\x", "absolute path"),
        ("c:/x", "absolute path"),
        ("\\\\server\\share", "absolute path"),
        (".git/config", "touches .git/"),
        ("sub/.git/hooks/x", "touches .git/"),
        (".GIT/config", "touches .git/"),
        (".Git/HEAD", "touches .git/"),
        (".git", "touches .git/"),
        (".git./config", "touches .git/"),
        (".git /config", "touches .git/"),
        ("", "empty or malformed"),
        ("a\0b", "empty or malformed"),
    ],
)
def test_unsafe_paths_are_refused_whatever_the_policy(path: str, why: str) -> None:
    reason = unsafe_path(path)
    assert reason is not None
    assert why in reason
    loosest = Policy.merge([{"allow_submodules": True, "write_scope": ["**"]}])
    if path:
        assert check([entry(path)], loosest) == [f"{path}: {reason}"]


@pytest.mark.parametrize(
    "path",
    ["src/app.py", ".github/workflows/ci.yml", "a/.gitignore", ".gitkeep", "git/config", "x..y"],
)
def test_ordinary_paths_are_safe(path: str) -> None:
    assert unsafe_path(path) is None


def test_a_rename_from_an_unsafe_path_is_refused() -> None:
    change = [entry("src/hook.py", "renamed", old_path=".git/hooks/pre-commit")]
    assert check(change, Policy()) == [".git/hooks/pre-commit: touches .git/"]


@pytest.mark.parametrize(
    ("path", "target", "why"),
    [
        ("link", "/etc", "outside the repository"),
        ("link", "/", "outside the repository"),
        ("link", "../../outside", "outside the repository"),
        ("link", "../..", "outside the repository"),
        ("link", "..", "outside the repository"),
        ("a/b/link", "../../../x", "outside the repository"),
        ("a/link", "b/../../../x", "outside the repository"),
        ("link", "C:\\Windows", "outside the repository"),
        ("link", ".git", "into .git"),
        ("link", ".git/config", "into .git"),
        ("a/link", "../.git/hooks", "into .git"),
        ("link", "sub/.GIT/x", "into .git"),
        ("link", "", "unreadable"),
    ],
)
def test_escaping_symlinks_are_refused(path: str, target: str, why: str) -> None:
    reason = symlink_escape(path, target)
    assert reason is not None
    assert why in reason
    change = [entry(path, "added", symlink=True, old_mode=None, new_mode="120000")]
    assert check(change, Policy(), {path: target}) == [f"{path}: {reason}"]


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("link", "docs/readme.md"),
        ("docs/link", "readme.md"),
        ("a/b/link", "../../docs/readme.md"),
        ("a/link", ".."),
        ("link", "."),
        ("link", "./.github"),
    ],
)
def test_symlinks_within_the_repository_are_fine(path: str, target: str) -> None:
    assert symlink_escape(path, target) is None
    change = [entry(path, "added", symlink=True, old_mode=None, new_mode="120000")]
    assert check(change, Policy(), {path: target}) == []


def test_a_deleted_symlink_is_not_checked_for_its_target() -> None:
    change = [entry("link", "deleted", symlink=True, old_mode="120000", new_mode=None)]
    assert check(change, Policy(), {"link": "/etc"}) == []


def test_captured_symlinks_are_checked(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    (worktree / "fine").symlink_to("docs/readme.md")
    (worktree / "etc").symlink_to("/etc")
    (worktree / "docs/up").symlink_to("../..")
    (worktree / "hooks").symlink_to(".git/hooks")
    admin = admin_dir(worktree)
    assert admin is not None
    patch = capture(repo, worktree, admin, base)
    assert patch is not None
    assert check(patch.files, Policy(), patch.symlink_targets) == [
        "docs/up: symlink points outside the repository (../..)",
        "etc: symlink points outside the repository (/etc)",
        "hooks: symlink points into .git (.git/hooks)",
    ]


# -- the rules, every violation reported ------------------------------------------------------


def test_every_violation_is_reported() -> None:
    policy = Policy.merge(
        [
            {"max_files": 0, "allow_binary": False},
            {"write_scope": ["src/**"], "forbidden": ["secrets/**"]},
        ]
    )
    change = [entry("secrets/key.bin", "added", binary=True, added=0)]
    assert check(change, policy) == [
        "secrets/key.bin: outside the write scope (src/**)",
        "secrets/key.bin: forbidden path (matches secrets/**)",
        "secrets/key.bin: binary file (the policy forbids binary files)",
        "changes 1 files; the policy allows at most 0",
    ]


def test_every_file_is_checked() -> None:
    policy = Policy.merge([{"write_scope": ["src/**"], "allow_deletions": False}])
    change = [entry("src/ok.py"), entry("docs/a.md"), entry("src/gone.py", "deleted")]
    assert check(change, policy) == [
        "docs/a.md: outside the write scope (src/**)",
        "src/gone.py: deletion (the policy forbids deleting files)",
    ]


def test_binary_files_forbidden() -> None:
    policy = Policy.merge([{"allow_binary": False}])
    assert check([entry("img.png", "added", binary=True)], policy) == [
        "img.png: binary file (the policy forbids binary files)"
    ]
    assert check([entry("img.png", "modified", binary=True)], policy) != []
    # Deleting a binary file adds none.
    assert check([entry("img.png", "deleted", binary=True)], policy) == []
    assert check([entry("img.png", "added", binary=True)], Policy()) == []


def test_deletions_forbidden() -> None:
    policy = Policy.merge([{"allow_deletions": False}])
    assert check([entry("src/a.py", "deleted")], policy) == [
        "src/a.py: deletion (the policy forbids deleting files)"
    ]
    assert check([entry("src/a.py", "modified"), entry("src/b.py", "added")], policy) == []


def test_tests_required() -> None:
    policy = Policy.merge([{"tests_required": [{"paths": ["src/**"], "tests": ["tests/**"]}]}])
    assert check([entry("src/x.py")], policy) == [
        "changes src/x.py without touching its tests (tests/**)"
    ]
    assert check([entry("src/x.py"), entry("tests/test_x.py")], policy) == []
    assert check([entry("docs/x.md")], policy) == []
    assert check([entry("tests/test_x.py")], policy) == []
    # Rules add up across levels: each is checked.
    two = Policy.merge(
        [
            {"tests_required": [{"paths": ["src/**"], "tests": ["tests/**"]}]},
            {"tests_required": [{"paths": ["**/*.py"], "tests": ["tests/unit/**", "spec/**"]}]},
        ]
    )
    assert check([entry("src/x.py"), entry("tests/test_x.py")], two) == [
        "changes src/x.py without touching its tests (tests/unit/**, spec/**)"
    ]


def test_max_files_and_lines_name_the_counts() -> None:
    policy = Policy.merge([{"max_files": 2, "max_changed_lines": 10}])
    change = [entry(f"f{i}.txt", added=3, removed=1) for i in range(3)]
    assert check(change, policy) == [
        "changes 3 files; the policy allows at most 2",
        "changes 12 lines; the policy allows at most 10",
    ]
    # At the limit is allowed.
    assert check(change[:2], Policy.merge([{"max_files": 2, "max_changed_lines": 8}])) == []


@pytest.mark.parametrize(
    "level",
    [{"forbidden": ["secrets/**"]}, {"write_scope": ["src/**"]}],
    ids=["forbidden", "write scope"],
)
def test_a_rename_is_checked_at_both_paths(level: dict[str, Any]) -> None:
    change = [entry("src/key.py", "renamed", old_path="secrets/key.py", added=0)]
    assert check(change, Policy.merge([level])) != []


# -- globs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a.py", True),
        ("*.py", "src/a.py", False),
        ("src/*", "src/a.py", True),
        ("src/*", "src/a/b.py", False),
        ("src/*.py", "src/.hidden.py", True),
        ("src/**", "src/a.py", True),
        ("src/**", "src/a/b/c.py", True),
        ("src/**", "src", False),
        ("src/**", "srcx/a.py", False),
        ("src/**", "other/src/a.py", False),
        ("**/*.py", "a.py", True),
        ("**/*.py", "a/b/c.py", True),
        ("**/*.py", "a/b/c.pyc", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/c", False),
        ("**", "anything/at/all", True),
        ("/src/*.py", "src/a.py", True),
        ("?.md", "a.md", True),
        ("?.md", "ab.md", False),
        ("a?b", "a/b", False),
        ("[ab].txt", "a.txt", True),
        ("[ab].txt", "b.txt", True),
        ("[ab].txt", "c.txt", False),
        ("[!ab].txt", "c.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("a.b", "axb", False),
        ("a+(b)", "a+(b)", True),
        ("[unclosed", "[unclosed", True),
    ],
)
def test_globs(pattern: str, path: str, expected: bool) -> None:
    """compile_glob: root-relative globs, for the markers of ``uet init``'s profiles."""
    assert bool(compile_glob(pattern).match(path)) is expected


# Policy globs mean what they mean in a .gitignore at the repository root: each case is
# checked against git itself (`git check-ignore`) as well as against `matches`.
GITIGNORE_CASES = [
    (["tests"], "tests/test_a.py", True),
    (["tests"], "a/tests/x.py", True),
    (["tests"], "tests", True),
    (["tests"], "testsuite/x.py", False),
    (["inventory/"], "inventory/a.py", True),
    (["inventory/"], "x/inventory/b.py", True),
    (["inventory/"], "inventory", False),  # a file of that name is not the folder
    (["*.lock"], "poetry.lock", True),
    (["*.lock"], "a/b/c.lock", True),
    (["*.lock", "!keep.lock"], "keep.lock", False),
    (["*.lock", "!keep.lock"], "other.lock", True),
    (["*.py"], "src/a.py", True),
    (["src/*"], "src/a.py", True),
    (["src/*"], "src/a/b.py", True),  # src/a is taken, and with it what it holds
    (["docs/*.md"], "docs/a.md", True),
    (["docs/*.md"], "docs/x/a.md", False),
    (["/src/*.py"], "src/a.py", True),
    (["/src/*.py"], "x/src/a.py", False),
    (["src/**"], "src/a/b/c.py", True),
    (["src/**"], "other/src/a.py", False),
    (["**/*.py"], "a/b/c.py", True),
    (["a/**/b"], "a/x/y/b", True),
    (["a/**/b"], "a/b", True),
    (["?.md"], "ab.md", False),
    (["a?b"], "a/b", False),
    (["[!ab].txt"], "c.txt", True),
    (["[!ab].txt"], "a.txt", False),
    (["a[!x]b"], "a/b", False),  # no bracket expression takes "/"
    (["a[!x]b"], "ayb", True),
    (["src/**", "docs/*.md"], "docs/a.md", True),
    (["src/**", "*.md"], "docs/a.md", True),
    ([], "docs/a.md", False),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), GITIGNORE_CASES)
def test_policy_globs_mean_what_gitignore_means(
    tmp_path: Path, patterns: list[str], path: str, expected: bool
) -> None:
    assert matches(path, patterns) is expected
    git_init = ["git", "init", "-q", str(tmp_path)]
    subprocess.run(git_init, check=True, capture_output=True)
    (tmp_path / ".gitignore").write_text("".join(f"{line}\n" for line in patterns))
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("x")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", path], cwd=tmp_path, capture_output=True, check=False
    )
    assert (ignored.returncode == 0) is expected, "git reads the pattern otherwise"


def test_a_later_level_cannot_take_back_what_an_earlier_level_forbade() -> None:
    policy = Policy.merge([{"forbidden": ["*.lock"]}, {"forbidden": ["!poetry.lock"]}])
    assert check([entry("poetry.lock")], policy) == ["poetry.lock: forbidden path (matches *.lock)"]
    one_level = Policy.merge([{"forbidden": ["*.lock", "!poetry.lock"]}])
    assert check([entry("poetry.lock")], one_level) == []


def test_the_issue_s_folders_are_forbidden_as_gitignore_would_have_them() -> None:
    policy = Policy.merge([{"forbidden": ["inventory/", "tests"]}])
    assert check([entry("inventory/models.py"), entry("tests/test_models.py")], policy) == [
        "inventory/models.py: forbidden path (matches inventory/)",
        "tests/test_models.py: forbidden path (matches tests)",
    ]


def test_a_negated_class_stays_in_its_segment() -> None:
    assert not matches("a/b", ["a[!x]b"])
    assert not matches("src/x/y.py", ["src[!_]x/*.py"])


def check_levels(levels: Sequence[Mapping[str, Any]], files: list[dict[str, Any]]) -> list[str]:
    return check(files, Policy.merge(levels))


def test_project_workstream_task_levels_together() -> None:
    project = {"forbidden": [".github/**"], "max_changed_lines": 200}
    workstream = {
        "patch_policy": {"allow_binary": False},
        "scope": {"write": ["src/**", "tests/**"]},
    }
    task = {"scope": {"write": ["src/api/**", "tests/**"]}}
    levels = [project, *levels_of(workstream, task)]
    assert check_levels(levels, [entry("src/api/v1.py"), entry("tests/test_v1.py")]) == []
    assert check_levels(levels, [entry("src/core.py")]) == [
        "src/core.py: outside the write scope (src/api/**, tests/**)"
    ]
    assert check_levels(levels, [entry("src/api/logo.png", binary=True)]) == [
        "src/api/logo.png: binary file (the policy forbids binary files)"
    ]
