"""Capturing what a tool changed: real git repositories in tmp_path, real worktrees made by
`Worktrees`, and the "tool" is the test changing files (or running git) in the worktree.

A captured diff must apply back: every round-trip test applies it with the real `git apply` to
a clean worktree at the base and compares the two trees byte for byte (modes and symlinks too).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitrepos import write_files

from core.adapters.git import Git
from core.clock import now
from core.contracts import issues, registry
from core.engine.patches import diff
from core.engine.patches.capture import CapturedPatch, CaptureFailed, capture
from core.engine.patches.copies import admin_dir
from core.engine.patches.policy import Policy, check
from core.ids import new_id

BINARY = bytes(range(256)) * 3 + b"\0\0tail\0"
CommitAll = Callable[..., str]  # the conftest's commit_all(git, message, cwd=None)
NewWorktree = Callable[..., Path]  # the conftest's new_worktree(commit=None)


def capture_in(git: Git, worktree: Path, base: str) -> CapturedPatch | None:
    admin = admin_dir(worktree)
    assert admin is not None
    return capture(git, worktree, admin, base)


def captured(git: Git, worktree: Path, base: str) -> CapturedPatch:
    patch = capture_in(git, worktree, base)
    assert patch is not None, "the change was not captured"
    return patch


def by_path(patch: CapturedPatch) -> dict[str, dict[str, Any]]:
    return {entry["path"]: entry for entry in patch.files}


Snapshot = dict[str, tuple[str, bytes, bool]]


def snapshot(root: Path) -> Snapshot:
    """Every file and symlink under ``root`` (``.git`` aside): kind, content or target, and
    whether it is executable."""
    found: Snapshot = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] == ".git":
            continue
        if path.is_symlink():
            found[relative.as_posix()] = ("link", os.readlink(path).encode(), False)
        elif path.is_file():
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            found[relative.as_posix()] = ("file", path.read_bytes(), executable)
    return found


def assert_round_trip(git: Git, patch: CapturedPatch, changed: Path, fresh: Path) -> None:
    """Apply the captured diff to ``fresh`` (a clean worktree at the base): it must then hold
    exactly what the tool left in ``changed``."""
    assert snapshot(fresh) != snapshot(changed)
    git.run("apply", "--whitespace=nowarn", "-", data=patch.diff, cwd=fresh)
    assert snapshot(fresh) == snapshot(changed)


# -- nothing to capture -----------------------------------------------------------------------


def test_no_change_is_none(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    assert capture_in(repo, worktree, base) is None
    # Rewriting a file with what it already held is no change either.
    (worktree / "README.md").write_text("hello\n", encoding="utf-8")
    assert capture_in(repo, worktree, base) is None


def test_ignored_files_are_not_captured(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    write_files(worktree, {"debug.log": "noise\n", "build/out.o": b"\0obj", "src/x.log": "y"})
    assert capture_in(repo, worktree, base) is None


def test_only_the_unignored_file_is_captured(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    write_files(worktree, {"debug.log": "noise\n", "notes.txt": "kept\n"})
    assert [entry["path"] for entry in captured(repo, worktree, base).files] == ["notes.txt"]


# -- added, modified, deleted -----------------------------------------------------------------


def edit_app(worktree: Path, replacements: dict[int, str]) -> None:
    path = worktree / "src/app.py"
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, text in replacements.items():
        lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_three_changes(worktree: Path) -> None:
    write_files(worktree, {"src/new.py": "a = 1\nb = 2\nc = 3\n"})
    edit_app(worktree, {2: "line two", 18: "line eighteen"})  # far apart: two hunks
    (worktree / "docs/readme.md").unlink()


def test_added_modified_deleted(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    make_three_changes(worktree)
    patch = captured(repo, worktree, base)

    assert [entry["path"] for entry in patch.files] == [
        "docs/readme.md",
        "src/app.py",
        "src/new.py",
    ]
    files = by_path(patch)
    assert files["src/new.py"] == {
        "path": "src/new.py",
        "old_path": None,
        "change": "added",
        "binary": False,
        "symlink": False,
        "submodule": False,
        "added": 3,
        "removed": 0,
        "old_mode": None,
        "new_mode": "100644",
    }
    assert files["src/app.py"]["change"] == "modified"
    assert (files["src/app.py"]["added"], files["src/app.py"]["removed"]) == (2, 2)
    assert (files["src/app.py"]["old_mode"], files["src/app.py"]["new_mode"]) == (
        "100644",
        "100644",
    )
    assert files["docs/readme.md"]["change"] == "deleted"
    assert (files["docs/readme.md"]["added"], files["docs/readme.md"]["removed"]) == (0, 1)
    assert (files["docs/readme.md"]["old_mode"], files["docs/readme.md"]["new_mode"]) == (
        "100644",
        None,
    )
    # One hunk for the new file, two for app.py, one for the deletion.
    assert patch.stats == {"files": 3, "added": 5, "removed": 3, "hunks": 4}
    assert patch.base_commit == base
    assert patch.sha256 == hashlib.sha256(patch.diff).hexdigest()
    assert patch.size_bytes == len(patch.diff)
    assert patch.symlink_targets == {}
    assert patch.diff.startswith(b"diff --git a/docs/readme.md b/docs/readme.md\n")
    assert b"+line eighteen\n" in patch.diff


def test_added_modified_deleted_round_trip(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    make_three_changes(worktree)
    assert_round_trip(repo, captured(repo, worktree, base), worktree, new_worktree())


def test_the_same_change_twice_has_the_same_hash(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    first, second, other = new_worktree(), new_worktree(), new_worktree()
    make_three_changes(first)
    make_three_changes(second)
    make_three_changes(other)
    edit_app(other, {10: "line ten, changed"})
    one, two, three = (captured(repo, w, base) for w in (first, second, other))
    assert one.sha256 == two.sha256
    assert one.diff == two.diff
    assert one.files == two.files
    assert three.sha256 != one.sha256


def test_capture_is_repeatable_in_the_same_worktree(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    make_three_changes(worktree)
    assert captured(repo, worktree, base) == captured(repo, worktree, base)


# -- renames, modes, binary files, symlinks ---------------------------------------------------


@pytest.mark.parametrize("how", ["git mv", "plain move"])
def test_rename(repo: Git, base: str, new_worktree: NewWorktree, how: str) -> None:
    worktree = new_worktree()
    if how == "git mv":
        repo.run("mv", "docs/readme.md", "docs/guide.md", cwd=worktree)
    else:
        (worktree / "docs/readme.md").rename(worktree / "docs/guide.md")
    patch = captured(repo, worktree, base)
    (entry,) = patch.files
    assert entry["change"] == "renamed"
    assert (entry["old_path"], entry["path"]) == ("docs/readme.md", "docs/guide.md")
    assert (entry["added"], entry["removed"]) == (0, 0)
    assert patch.stats == {"files": 1, "added": 0, "removed": 0, "hunks": 0}
    assert_round_trip(repo, patch, worktree, new_worktree())


def test_rename_with_an_edit_counts_the_edited_lines(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    (worktree / "src/app.py").rename(worktree / "src/main.py")
    path = worktree / "src/main.py"
    path.write_text(path.read_text(encoding="utf-8").replace("line 3\n", "line three\n"))
    patch = captured(repo, worktree, base)
    (entry,) = patch.files
    assert (entry["change"], entry["old_path"], entry["path"]) == (
        "renamed",
        "src/app.py",
        "src/main.py",
    )
    assert (entry["added"], entry["removed"]) == (1, 1)
    assert patch.stats["hunks"] == 1
    assert_round_trip(repo, patch, worktree, new_worktree())


def test_mode_change_only(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    script = worktree / "src/app.py"
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    patch = captured(repo, worktree, base)
    (entry,) = patch.files
    assert entry["change"] == "mode_changed"
    assert (entry["old_mode"], entry["new_mode"]) == ("100644", "100755")
    assert (entry["added"], entry["removed"]) == (0, 0)
    assert patch.stats["hunks"] == 0
    assert_round_trip(repo, patch, worktree, new_worktree())


def test_mode_and_content_change_is_modified(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    edit_app(worktree, {1: "#!/bin/sh"})
    (worktree / "src/app.py").chmod(0o755)
    (entry,) = captured(repo, worktree, base).files
    assert entry["change"] == "modified"
    assert (entry["old_mode"], entry["new_mode"]) == ("100644", "100755")
    assert (entry["added"], entry["removed"]) == (1, 1)


def test_binary_file(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    write_files(worktree, {"assets/blob.bin": BINARY})
    edit_app(worktree, {5: "five"})
    patch = captured(repo, worktree, base)
    files = by_path(patch)
    assert files["assets/blob.bin"]["binary"] is True
    assert files["assets/blob.bin"]["change"] == "added"
    assert (files["assets/blob.bin"]["added"], files["assets/blob.bin"]["removed"]) == (0, 0)
    assert files["src/app.py"]["binary"] is False
    assert b"GIT binary patch" in patch.diff
    assert patch.stats == {"files": 2, "added": 1, "removed": 1, "hunks": 1}
    assert_round_trip(repo, patch, worktree, new_worktree())


def test_binary_file_changed_and_deleted(
    repo: Git, base: str, new_worktree: NewWorktree, commit_all: CommitAll
) -> None:
    write_files(repo.repo, {"assets/a.bin": BINARY, "assets/b.bin": BINARY[::-1]})
    start = commit_all(repo, "binary files")
    worktree = new_worktree(start)
    (worktree / "assets/a.bin").write_bytes(BINARY + b"\0more")
    (worktree / "assets/b.bin").unlink()
    patch = captured(repo, worktree, start)
    files = by_path(patch)
    assert (files["assets/a.bin"]["change"], files["assets/a.bin"]["binary"]) == ("modified", True)
    assert (files["assets/b.bin"]["change"], files["assets/b.bin"]["binary"]) == ("deleted", True)
    assert_round_trip(repo, patch, worktree, new_worktree(start))


def test_binary_content_and_mode_change_is_modified(
    repo: Git, base: str, new_worktree: NewWorktree, commit_all: CommitAll
) -> None:
    write_files(repo.repo, {"assets/a.bin": BINARY})
    start = commit_all(repo, "binary file")
    worktree = new_worktree(start)
    (worktree / "assets/a.bin").write_bytes(BINARY + b"\0changed")
    (worktree / "assets/a.bin").chmod(0o755)
    (entry,) = captured(repo, worktree, start).files
    assert (entry["old_mode"], entry["new_mode"], entry["binary"]) == ("100644", "100755", True)
    assert entry["change"] == "modified"


def test_symlink_added(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    (worktree / "link").symlink_to("docs/readme.md")
    (worktree / "docs/up").symlink_to("../README.md")
    patch = captured(repo, worktree, base)
    files = by_path(patch)
    for path in ("link", "docs/up"):
        assert files[path]["symlink"] is True
        assert files[path]["change"] == "added"
        assert files[path]["new_mode"] == "120000"
    assert patch.symlink_targets == {"link": "docs/readme.md", "docs/up": "../README.md"}
    assert check(patch.files, Policy(), patch.symlink_targets) == []
    assert_round_trip(repo, patch, worktree, new_worktree())


def test_symlink_leaving_the_repository_is_captured_and_refused(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    (worktree / "etc").symlink_to("/etc")
    (worktree / "src/out").symlink_to("../../outside")
    patch = captured(repo, worktree, base)
    assert patch.symlink_targets == {"etc": "/etc", "src/out": "../../outside"}
    assert check(patch.files, Policy(), patch.symlink_targets) == [
        "etc: symlink points outside the repository (/etc)",
        "src/out: symlink points outside the repository (../../outside)",
    ]


def test_symlink_deleted_and_retargeted(
    repo: Git, base: str, new_worktree: NewWorktree, commit_all: CommitAll
) -> None:
    (repo.repo / "gone").symlink_to("README.md")
    (repo.repo / "moving").symlink_to("README.md")
    start = commit_all(repo, "symlinks")
    worktree = new_worktree(start)
    (worktree / "gone").unlink()
    (worktree / "moving").unlink()
    (worktree / "moving").symlink_to("docs/readme.md")
    patch = captured(repo, worktree, start)
    files = by_path(patch)
    assert (files["gone"]["change"], files["gone"]["symlink"]) == ("deleted", True)
    assert (files["moving"]["change"], files["moving"]["symlink"]) == ("modified", True)
    assert patch.symlink_targets == {"moving": "docs/readme.md"}
    assert check(patch.files, Policy(), patch.symlink_targets) == []
    assert_round_trip(repo, patch, worktree, new_worktree(start))


def test_symlink_replaced_by_a_file_is_allowed(
    repo: Git, base: str, new_worktree: NewWorktree, commit_all: CommitAll
) -> None:
    (repo.repo / "link").symlink_to("README.md")
    start = commit_all(repo, "a symlink")
    worktree = new_worktree(start)
    (worktree / "link").unlink()
    (worktree / "link").write_text("a plain file now\n", encoding="utf-8")
    patch = captured(repo, worktree, start)
    (entry,) = patch.files
    assert (entry["change"], entry["old_mode"], entry["new_mode"]) == (
        "type_changed",
        "120000",
        "100644",
    )
    assert check(patch.files, Policy(), patch.symlink_targets) == []


def test_file_replaced_by_a_symlink_is_checked(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    (worktree / "README.md").unlink()
    (worktree / "README.md").symlink_to("/etc/passwd")
    patch = captured(repo, worktree, base)
    (entry,) = patch.files
    assert (entry["change"], entry["symlink"]) == ("type_changed", True)
    assert patch.symlink_targets == {"README.md": "/etc/passwd"}
    assert check(patch.files, Policy(), patch.symlink_targets) == [
        "README.md: symlink points outside the repository (/etc/passwd)"
    ]


# -- what the tool did with git ---------------------------------------------------------------


def test_committed_changes_count(
    repo: Git, base: str, new_worktree: NewWorktree, commit_all: CommitAll
) -> None:
    worktree = new_worktree()
    write_files(worktree, {"src/committed.py": "x = 1\n"})
    tool_commit = commit_all(repo, "the tool committed", cwd=worktree)
    assert tool_commit != base
    assert repo.rev_parse("HEAD") == base, "the tool's commit stays in its worktree"
    patch = captured(repo, worktree, base)
    assert [(e["path"], e["change"]) for e in patch.files] == [("src/committed.py", "added")]

    # Committed and uncommitted changes together; both are against the base.
    write_files(worktree, {"README.md": "hello again\n"})
    patch = captured(repo, worktree, base)
    assert [(e["path"], e["change"]) for e in patch.files] == [
        ("README.md", "modified"),
        ("src/committed.py", "added"),
    ]
    assert_round_trip(repo, patch, worktree, new_worktree())


def test_a_commit_and_its_revert_are_no_change(
    repo: Git, base: str, new_worktree: NewWorktree, commit_all: CommitAll
) -> None:
    worktree = new_worktree()
    write_files(worktree, {"README.md": "changed\n"})
    commit_all(repo, "change", cwd=worktree)
    repo.run("revert", "--no-edit", "HEAD", cwd=worktree)
    assert capture_in(repo, worktree, base) is None


def test_a_rewritten_dot_git_file_is_not_trusted(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    admin = admin_dir(worktree)
    assert admin is not None
    write_files(worktree, {"src/new.py": "n = 1\n"})
    shutil.rmtree(worktree / ".git")  # the copy's own repository, replaced by a pointer
    (worktree / ".git").write_text("gitdir: /nowhere\n", encoding="utf-8")
    patch = capture(repo, worktree, admin, base)
    assert patch is not None
    assert [entry["path"] for entry in patch.files] == ["src/new.py"]


def test_paths_with_spaces_and_non_ascii_names(
    repo: Git, base: str, new_worktree: NewWorktree
) -> None:
    worktree = new_worktree()
    names = ["dir with space/file name.txt", "naïve café.md", "日本語/ファイル.py", "tab\there.txt"]
    write_files(worktree, {name: f"{name}\n" for name in names})
    (worktree / "docs/readme.md").rename(worktree / "docs/lisez moi é.md")
    patch = captured(repo, worktree, base)
    files = by_path(patch)
    assert set(files) == {*names, "docs/lisez moi é.md"}
    assert files["docs/lisez moi é.md"]["old_path"] == "docs/readme.md"
    assert all(files[name]["change"] == "added" for name in names)
    assert_round_trip(repo, patch, worktree, new_worktree())


# -- a broken worktree ------------------------------------------------------------------------


def test_worktree_deleted_by_the_tool(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    admin = admin_dir(worktree)
    assert admin is not None
    shutil.rmtree(worktree)
    with pytest.raises(CaptureFailed, match="is gone"):
        capture(repo, worktree, admin, base)


def test_worktree_replaced_by_a_symlink(
    repo: Git, base: str, new_worktree: NewWorktree, tmp_path: Path
) -> None:
    worktree = new_worktree()
    admin = admin_dir(worktree)
    assert admin is not None
    elsewhere = tmp_path / "elsewhere"
    shutil.move(worktree, elsewhere)
    worktree.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(CaptureFailed, match="is gone"):
        capture(repo, worktree, admin, base)


def test_admin_dir_removed(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    admin = admin_dir(worktree)
    assert admin is not None
    assert not admin.is_relative_to(repo.common_dir()), "UET's git directory is its own"
    write_files(worktree, {"src/new.py": "n = 1\n"})
    shutil.rmtree(admin)
    with pytest.raises(CaptureFailed, match="UET's git directory of the copy"):
        capture(repo, worktree, admin, base)


def test_unknown_base_commit_fails(repo: Git, base: str, new_worktree: NewWorktree) -> None:
    worktree = new_worktree()
    write_files(worktree, {"src/new.py": "n = 1\n"})
    with pytest.raises(CaptureFailed, match="cannot read the copy's changes"):
        capture_in(repo, worktree, "f" * 40)


# -- the artifact ------------------------------------------------------------------------------


def test_capture_fields_make_a_valid_patch_artifact(
    repo: Git, base: str, new_worktree: NewWorktree, commit_all: CommitAll, tmp_path: Path
) -> None:
    (repo.repo / "old-link").symlink_to("README.md")
    write_files(repo.repo, {"assets/a.bin": BINARY})
    start = commit_all(repo, "more kinds of files")
    worktree = new_worktree(start)
    make_three_changes(worktree)  # added, modified, deleted
    (worktree / "README.md").rename(worktree / "README.txt")  # renamed
    (worktree / "tests/test_app.py").chmod(0o755)  # mode_changed
    (worktree / "assets/a.bin").write_bytes(BINARY[::-1])  # binary
    (worktree / "old-link").unlink()
    (worktree / "old-link").symlink_to("docs")  # symlink retargeted
    (worktree / "new-link").symlink_to("src/app.py")  # symlink added
    patch = captured(repo, worktree, start)
    changes = {entry["change"] for entry in patch.files}
    assert changes == {"added", "modified", "deleted", "renamed", "mode_changed"}

    diff_path = tmp_path / "patches" / "p.diff"
    document = {
        "schema_version": "patch_artifact.v1",
        "patch_id": new_id(),
        "run_id": new_id(),
        "task_id": "task-1",
        "attempt_id": new_id(),
        "base_commit": patch.base_commit,
        "diff_path": str(diff_path),
        "sha256": patch.sha256,
        "size_bytes": patch.size_bytes,
        "files": patch.files,
        "stats": patch.stats,
        "origin": {"tool": "test", "worktree": str(worktree), "branch": None},
        "created_at": now(),
    }
    assert issues(document, "patch_artifact.v1") == []
    # Each entry carries exactly the fields the schema describes, nothing more or less.
    item = registry().schema("patch_artifact.v1")["properties"]["files"]["items"]
    for entry in patch.files:
        assert set(entry) == set(item["properties"])
    assert_round_trip(repo, patch, worktree, new_worktree(start))


# -- diff.parse on hand-made input ------------------------------------------------------------

OLD = "1" * 40
NEW = "2" * 40


def raw(old_mode: str, new_mode: str, status: str, *paths: str) -> bytes:
    head = f":{old_mode} {new_mode} {OLD} {NEW} {status}".encode()
    return b"\0".join([head, *(path.encode() for path in paths)]) + b"\0"


def test_parse_empty_output() -> None:
    parsed = diff.parse(b"")
    assert (parsed.files, parsed.patch, parsed.hunks) == ([], b"", 0)
    assert parsed.stats == {"files": 0, "added": 0, "removed": 0, "hunks": 0}


def test_parse_hand_made_entries() -> None:
    patch = b"diff --git a/a b/a\n@@ -1 +1 @@\n-x\n+y\n@@ -9 +9 @@\n-p\n+q\n"
    output = (
        raw("100644", "100644", "M", "a")
        + raw("100644", "100644", "R087", "old name", "new name")
        + raw("000000", "100644", "A", "img.png")
        + b"2\t2\ta\0"
        + b"1\t0\t\0old name\0new name\0"
        + b"-\t-\timg.png\0"
        + b"\0"
        + patch
    )
    parsed = diff.parse(output)
    assert [(f["path"], f["old_path"], f["change"]) for f in parsed.files] == [
        ("a", None, "modified"),
        ("new name", "old name", "renamed"),
        ("img.png", None, "added"),
    ]
    assert parsed.files[2]["binary"] is True
    assert parsed.files[2]["old_mode"] is None
    assert parsed.patch == patch
    assert parsed.stats == {"files": 3, "added": 3, "removed": 2, "hunks": 2}


@pytest.mark.parametrize(
    "output",
    [
        pytest.param(b":100644 100644 abc M\0a\0", id="four fields"),
        pytest.param(b":100644 100644 abc def ghi M\0a\0", id="six fields"),
        pytest.param(b":\0a\0", id="empty entry"),
    ],
)
def test_parse_malformed_raw_entry(output: bytes) -> None:
    with pytest.raises(diff.DiffFormatError, match="unexpected raw diff entry"):
        diff.parse(output)


def test_parse_missing_numstat() -> None:
    with pytest.raises(diff.DiffFormatError, match="numstat entries missing"):
        diff.parse(raw("100644", "100644", "M", "a").rstrip(b"\0"))


def test_parse_patch_not_separated_from_the_summaries() -> None:
    output = raw("100644", "100644", "M", "a") + b"1\t1\ta\0diff --git a/a b/a\n"
    with pytest.raises(diff.DiffFormatError, match="patch text does not follow"):
        diff.parse(output)


@pytest.mark.parametrize(
    "numstat", [b"", b"garbage", b"x\ty\ta"], ids=["truncated", "no tabs", "not numbers"]
)
def test_parse_malformed_numstat(numstat: bytes) -> None:
    output = raw("100644", "100644", "M", "a") + numstat + b"\0"
    with pytest.raises(diff.DiffFormatError):
        diff.parse(output)
