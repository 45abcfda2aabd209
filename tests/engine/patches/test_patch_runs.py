"""Patch-first runs end to end: real git repositories in tmp_path, real tool processes (small
Python programs run with this interpreter), a real SQLite ledger.

Each run must leave the user's checkout exactly as it was (working tree, HEAD, branch, config,
hooks): every test compares a checksum taken before and after.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitrepos import branch_log, checksum, git, make_repo, trailer_values

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.runs import run_bundle
from core.errors import DocumentInvalid, NotARepository, RepositoryEmpty
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable


def write(path: str, content: str) -> list[str]:
    """argv of a tool that writes ``content`` to ``path`` (relative to its working directory)."""
    code = (
        "import pathlib, sys; p = pathlib.Path(sys.argv[1]); "
        "p.parent.mkdir(parents=True, exist_ok=True); p.write_text(sys.argv[2])"
    )
    return [PY, "-c", code, path, content]


def python(code: str) -> list[str]:
    return [PY, "-c", code]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """The user's repository; its checksum must be the same after the test as before."""
    repo = make_repo(
        tmp_path / "project",
        {
            "README.md": "hello\n",
            "src/app.py": "VALUE = 1\n",
            "tests/test_app.py": "from src.app import VALUE\n\n\ndef test_value():\n"
            "    assert VALUE == 1\n",
            "src/__init__.py": "",
        },
    )
    before = checksum(repo)
    yield repo
    assert checksum(repo) == before, "the run changed the user's checkout"


def bundle(tasks: list[dict[str, Any]], **workstream: Any) -> Any:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": tasks,
        **workstream,
    }
    return check_bundle(json.loads(json.dumps(document)))


def run(ledger: Ledger, repo: Path, tasks: list[dict[str, Any]], **workstream: Any) -> RunResult:
    options = RunOptions(parallel=2, repo=repo, handle_signals=False, kill_grace_seconds=0.5)
    return run_bundle(ledger, bundle(tasks, **workstream), options)


def patches_by_task(ledger: Ledger, run_id: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for patch in ledger.list_patches(run_id):
        found.setdefault(patch["task_id"], []).append(dict(patch))
    return found


UNIT_GATE = {"unit": {"run": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"], "type": "unit"}}


def test_writing_tasks_land_one_commit_each_on_the_integration_branch(
    ledger: Ledger, project: Path
) -> None:
    result = run(
        ledger,
        project,
        [
            {"task_id": "notes", "writes": True, "run": write("docs/notes.md", "notes\n")},
            {
                "task_id": "bump",
                "writes": True,
                "depends_on": ["notes"],
                "run": write("src/app.py", "VALUE = 1\nOTHER = 2\n"),
                "gates": ["unit"],
            },
        ],
        gates=UNIT_GATE,
    )
    assert result.state == "succeeded", result.reason
    run_row = ledger.get_run(result.run_id)
    assert run_row is not None
    branch = run_row["integration_branch"]
    assert branch == f"uet/{result.run_id}"
    assert run_row["base_commit"] == git(project, "rev-parse", "HEAD")
    assert branch_log(project, branch)[:2] == ["uet: bump", "uet: notes"]
    assert git(project, "show", f"{branch}:src/app.py") == "VALUE = 1\nOTHER = 2"
    found = patches_by_task(ledger, result.run_id)
    assert [p["state"] for p in found["notes"] + found["bump"]] == ["committed", "committed"]
    patch_ids = [found["notes"][0]["patch_id"], found["bump"][0]["patch_id"]]
    assert sorted(trailer_values(project, branch, "Uet-Patch")) == sorted(patch_ids)
    assert trailer_values(project, branch, "Uet-Run") == [result.run_id] * 2
    bump = found["bump"][0]
    assert [step["state"] for step in bump["history"]] == [
        "created",
        "validated",
        "applied",
        "verified",
        "committed",
    ]
    assert bump["base_commit"] == git(project, "rev-parse", f"{branch}~1")  # after notes landed
    assert Path(bump["diff_path"]).read_text().startswith("diff --git a/src/app.py")
    gates = ledger.list_gate_results(patch_id=bump["patch_id"])
    assert [(g["gate"], g["state"], g["totals"]) for g in gates] == [
        ("unit", "passed", {"tests": 1, "failed": 0, "errors": 0, "skipped": 0, "passed": 1})
    ]
    # The gate judged exactly the tree that landed.
    assert gates[0]["tree_sha"] == git(project, "rev-parse", f"{branch}^{{tree}}")
    assert gates[0]["scope"] == "attempt"
    attempts = {a["task_id"]: a for a in ledger.list_attempts(result.run_id)}
    assert attempts["bump"]["patch_id"] == bump["patch_id"]
    kinds = [e["kind"] for e in ledger.list_events(result.run_id) if e["task_id"] == "bump"]
    assert kinds.index("patch.verified") < kinds.index("patch.committed")
    assert kinds.index("patch.committed") < kinds.index("task.succeeded")
    assert not (project / ".worktrees" / result.run_id).exists(), "worktrees are removed"
    assert len(git(project, "worktree", "list").splitlines()) == 1, "and git's records of them"


def test_a_task_that_changes_nothing_succeeds_without_a_patch_unless_it_expects_one(
    ledger: Ledger, project: Path
) -> None:
    result = run(
        ledger,
        project,
        [
            {"task_id": "noop", "writes": True, "run": python("pass")},
            {"task_id": "expects", "writes": True, "expect_change": True, "run": python("pass")},
        ],
    )
    states = {t["task_id"]: t for t in ledger.list_tasks(result.run_id)}
    assert states["noop"]["state"] == "succeeded"
    assert states["expects"]["state"] == "failed"
    assert "changed nothing" in (states["expects"]["state_reason"] or "")
    assert ledger.list_patches(result.run_id) == []


def test_a_failing_blocking_gate_rejects_the_patch_and_keeps_feedback_for_the_next_attempt(
    ledger: Ledger, project: Path
) -> None:
    breaks_then_fixes = python(
        "import os, pathlib; p = pathlib.Path('src/app.py'); "
        "first = os.environ['UET_ATTEMPT'] == '1'; "
        "p.write_text('VALUE = 2\\n' if first else 'VALUE = 1\\nX = 0\\n')"
    )
    result = run(
        ledger,
        project,
        [
            {
                "task_id": "fix",
                "writes": True,
                "run": breaks_then_fixes,
                "gates": ["unit"],
                "max_attempts": 2,
                "retry": {"backoff_seconds": 0},
            }
        ],
        gates=UNIT_GATE,
    )
    assert result.state == "succeeded", result.reason
    first, second = ledger.list_attempts(result.run_id, task_id="fix")
    assert first["state"] == "failed"
    assert first["feedback"] is not None
    assert "gate 'unit' failed" in first["feedback"]
    assert "tests/test_app.py:5" in first["feedback"]  # the failing assert, located
    assert second["state"] == "succeeded"
    rejected, committed = ledger.list_patches(result.run_id)
    assert rejected["state"] == "rejected"
    assert rejected["state_reason"] == "gate 'unit' failed"
    assert committed["state"] == "committed"
    failures = ledger.list_gate_results(patch_id=rejected["patch_id"])[0]["failures"]
    assert failures is not None
    assert failures[0]["file"] == "tests/test_app.py"
    assert failures[0]["line"] == 5


def test_a_non_blocking_gate_failure_only_warns(ledger: Ledger, project: Path) -> None:
    result = run(
        ledger,
        project,
        [{"task_id": "t", "writes": True, "run": write("x.txt", "x\n"), "gates": ["style"]}],
        gates={"style": {"run": python("raise SystemExit(3)"), "blocking": False}},
    )
    assert result.state == "succeeded"
    (gate,) = ledger.list_gate_results(result.run_id)
    assert (gate["state"], gate["decision"]) == ("failed", "warn")
    (patch,) = ledger.list_patches(result.run_id)
    verified = next(step for step in patch["history"] if step["state"] == "verified")
    assert verified["reason"] == "0 of 1 gate(s) passed; non-blocking style did not"


def test_the_same_failing_diff_again_is_quarantined_instead_of_retried(
    ledger: Ledger, project: Path, tmp_path: Path
) -> None:
    result = run(
        ledger,
        project,
        [
            {
                "task_id": "stuck",
                "writes": True,
                "run": write("src/app.py", "VALUE = 3\n"),
                "gates": ["unit"],
                "max_attempts": 5,
                "retry": {"backoff_seconds": 0},
            }
        ],
        gates=UNIT_GATE,
    )
    assert result.state == "failed"
    attempts = ledger.list_attempts(result.run_id, task_id="stuck")
    assert len(attempts) == 2, "the second identical diff stops the retries"
    first, second = ledger.list_patches(result.run_id)
    assert (first["state"], second["state"]) == ("rejected", "quarantined")
    assert first["sha256"] == second["sha256"]
    assert second["relations"] == {"oscillates_with": [first["patch_id"]]}
    quarantined = Path(second["quarantine_path"] or "")
    assert quarantined.parent.name == ".quarantine"
    assert quarantined.read_bytes() == Path(second["diff_path"]).read_bytes()
    assert attempts[1]["retryable"] is False


def test_a_patch_that_no_longer_applies_is_retried_on_the_new_head(
    ledger: Ledger, project: Path
) -> None:
    # Both start at the base; whichever lands second conflicts on the same line and runs
    # again on the new head, where its change applies.
    result = run(
        ledger,
        project,
        [
            {
                "task_id": task,
                "writes": True,
                "run": write("src/app.py", f"VALUE = '{task}'\n"),
                "max_attempts": 2,
            }
            for task in ("a", "b")
        ],
    )
    assert result.state == "succeeded", result.reason
    found = patches_by_task(ledger, result.run_id)
    states = sorted(p["state"] for patches in found.values() for p in patches)
    assert states == ["apply_failed", "committed", "committed"]
    retried = next(task for task, patches in found.items() if len(patches) == 2)
    assert [p["state"] for p in found[retried]] == ["apply_failed", "committed"]
    branch = f"uet/{result.run_id}"
    assert git(project, "show", f"{branch}:src/app.py") == f"VALUE = '{retried}'"
    attempts = ledger.list_attempts(result.run_id, task_id=retried)
    assert [a["attempt_no"] for a in attempts] == [1, 2]


def test_a_conflict_with_no_attempts_left_quarantines_the_patch(
    ledger: Ledger, project: Path
) -> None:
    result = run(
        ledger,
        project,
        [
            {"task_id": "a", "writes": True, "run": write("src/app.py", "VALUE = 'a'\n")},
            {"task_id": "b", "writes": True, "run": write("src/app.py", "VALUE = 'b'\n")},
        ],
    )
    assert result.state == "failed"
    found = patches_by_task(ledger, result.run_id)
    loser = next(p[0] for p in found.values() if p[0]["state"] != "committed")
    assert loser["state"] == "quarantined"
    assert [s["state"] for s in loser["history"]][-2:] == ["apply_failed", "quarantined"]
    assert Path(loser["quarantine_path"] or "").is_file()
    task = next(t for t in ledger.list_tasks(result.run_id) if t["task_id"] == loser["task_id"])
    assert task["state"] == "failed"
    assert "does not apply" in (task["state_reason"] or "")


def test_policy_levels_only_tighten(ledger: Ledger, project: Path) -> None:
    result = run(
        ledger,
        project,
        [
            {
                "task_id": "wide",
                "writes": True,
                "scope": {"write": ["src/**", "docs/**"]},
                "run": write("docs/x.md", "x\n"),
            },
            {"task_id": "inside", "writes": True, "run": write("src/y.py", "Y = 1\n")},
        ],
        scope={"write": ["src/**"]},
        patch_policy={"max_files": 5},
    )
    wide = patches_by_task(ledger, result.run_id)["wide"][0]
    assert wide["state"] == "rejected"
    assert wide["validation"] is not None
    assert wide["validation"]["reasons"] == ["docs/x.md: outside the write scope (src/**)"]
    assert patches_by_task(ledger, result.run_id)["inside"][0]["state"] == "committed"


def test_the_project_profile_constraints_are_the_broadest_level(
    ledger: Ledger, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "profiled", {"README.md": "x\n"})
    profile = {
        "schema_version": "project_profile.v1",
        "project_name": "profiled",
        "profile_id": "generic",
        "domain": "generic",
        "gates": {},
        "constraints": {"max_files": 1, "forbidden": ["secrets/**"]},
    }
    (repo / ".uet").mkdir()
    (repo / ".uet" / "project_profile.json").write_text(json.dumps(profile))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "profile")
    tool = python(
        "import pathlib; pathlib.Path('secrets').mkdir(); "
        "pathlib.Path('secrets/key').write_text('k'); pathlib.Path('b.txt').write_text('b')"
    )
    result = run(
        ledger,
        repo,
        [{"task_id": "t", "writes": True, "run": tool, "patch_policy": {"max_files": 5}}],
    )
    (patch,) = ledger.list_patches(result.run_id)
    assert patch["validation"] is not None
    assert patch["validation"]["reasons"] == [
        "secrets/key: forbidden path (matches secrets/**)",
        "changes 2 files; the policy allows at most 1",
    ]
    (task,) = ledger.list_tasks(result.run_id)
    assert task["request"]["policy_levels"][0] == profile["constraints"]


def test_keep_worktrees_keeps_the_worktree_of_a_failed_attempt(
    ledger: Ledger, project: Path
) -> None:
    options = RunOptions(parallel=1, repo=project, keep_worktrees=True, handle_signals=False)
    result = run_bundle(
        ledger,
        bundle(
            [
                {
                    "task_id": "bad",
                    "writes": True,
                    "run": write("src/app.py", "VALUE = 9\n"),
                    "gates": ["unit"],
                },
                {"task_id": "good", "writes": True, "run": write("ok.txt", "ok\n")},
            ],
            gates=UNIT_GATE,
        ),
        options,
    )
    (bad,) = ledger.list_attempts(result.run_id, task_id="bad")
    (good,) = ledger.list_attempts(result.run_id, task_id="good")
    kept = Path(bad["worktree"] or "")
    assert kept.is_dir()
    assert (kept / "src" / "app.py").read_text() == "VALUE = 9\n"
    assert not Path(good["worktree"] or "").exists()
    assert git(project, "worktree", "list").count("\n") == 0, "a copy is no git worktree"


def test_relative_cwd_of_a_writing_task_is_inside_its_worktree(
    ledger: Ledger, project: Path
) -> None:
    result = run(
        ledger,
        project,
        [{"task_id": "sub", "writes": True, "cwd": "src", "run": write("new.py", "N = 1\n")}],
    )
    assert result.state == "succeeded", result.reason
    (patch,) = ledger.list_patches(result.run_id)
    assert [f["path"] for f in patch["files"]] == ["src/new.py"]


def test_a_writing_task_cannot_work_outside_the_repository(ledger: Ledger, project: Path) -> None:
    tasks = [{"task_id": "t", "writes": True, "cwd": "../elsewhere", "run": write("x", "x")}]
    with pytest.raises(DocumentInvalid) as caught:
        run(ledger, project, tasks)
    (issue,) = caught.value.issues
    assert issue.path == "$.tasks[0].cwd"
    assert "is outside it" in issue.message
    assert ledger.list_runs() == []


def test_a_run_with_writing_tasks_needs_a_repository_with_a_commit(
    ledger: Ledger, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    tasks = [{"task_id": "t", "writes": True, "run": write("x", "x")}]
    with pytest.raises(NotARepository, match="not a git repository"):
        run(ledger, plain, tasks)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(RepositoryEmpty, match="no commits"):
        run(ledger, empty, tasks)
    assert ledger.list_runs() == [], "nothing is recorded for a run that cannot start"


def test_tasks_that_do_not_write_run_where_they_always_did(ledger: Ledger, tmp_path: Path) -> None:
    result = run_bundle(
        ledger,
        bundle([{"task_id": "t", "run": python("pass")}]),
        RunOptions(parallel=1, handle_signals=False),
    )
    row = ledger.get_run(result.run_id)
    assert row is not None
    assert (row["repo"], row["integration_branch"]) == (None, None)
