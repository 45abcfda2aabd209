"""Loading bundles: every problem reported with its JSON path, nothing half-accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from core.engine.bundle import check_bundle, load_bundle
from core.errors import DocumentInvalid


def paths(exc: DocumentInvalid) -> list[str]:
    return [issue.path for issue in exc.issues]


def test_minimal_bundle_loads_and_plans(write_bundle: Callable[..., Path]) -> None:
    path = write_bundle(
        [
            {"task_id": "a", "run": ["echo", "hi"]},
            {"task_id": "b", "depends_on": ["a"], "call": "json:dumps", "params": {"obj": 1}},
        ]
    )
    bundle = load_bundle(path)
    assert [entry.spec["task_id"] for entry in bundle.tasks] == ["a", "b"]
    assert bundle.plan.waves == (("a",), ("b",))
    assert len(bundle.sha256) == 64


def test_list_of_workstreams_shares_one_task_namespace(write_bundle: Callable[..., Path]) -> None:
    first = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "one",
        "tasks": [{"task_id": "a", "run": ["true"]}],
    }
    second = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "two",
        "tasks": [{"task_id": "b", "depends_on": ["a"], "run": ["true"]}],
    }
    bundle = load_bundle(write_bundle([first, second]))
    assert [(e.workstream_id, e.spec["task_id"], e.path) for e in bundle.tasks] == [
        ("one", "a", "$[0].tasks[0]"),
        ("two", "b", "$[1].tasks[0]"),
    ]


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"tasks": [\n  {"task_id": "a",}\n]}')
    with pytest.raises(DocumentInvalid) as caught:
        load_bundle(path)
    assert "line 2" in caught.value.issues[0].message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentInvalid, match="file not found"):
        load_bundle(tmp_path / "nope.json")


def test_every_problem_is_listed(write_bundle: Callable[..., Path]) -> None:
    path = write_bundle(
        [
            {"task_id": "a", "run": ["true"]},
            {"task_id": "a", "run": ["true"]},
            {"task_id": "b", "depends_on": ["zz", "a"], "run": ["true"]},
            {"task_id": "c", "call": "no_such_module_xyz:go"},
            {"task_id": "d", "call": "json:no_such_function"},
            {"task_id": "e", "run": []},
            {"task_id": "f", "depend_on": ["a"], "run": ["true"]},
        ]
    )
    with pytest.raises(DocumentInvalid) as caught:
        load_bundle(path)
    found = {issue.path: issue.message for issue in caught.value.issues}
    assert "duplicate task id 'a'" in found["$.tasks[1].task_id"]
    assert "unknown task 'zz'" in found["$.tasks[2].depends_on[0]"]
    assert "cannot import 'no_such_module_xyz'" in found["$.tasks[3].call"]
    assert "no attribute 'no_such_function'" in found["$.tasks[4].call"]
    assert "non-empty" in found["$.tasks[5].run"]
    assert "did you mean 'depends_on'" in found["$.tasks[6].depend_on"]
    assert str(path) in str(caught.value)


def test_cycle_is_named_with_the_path_of_its_first_edge(write_bundle: Callable[..., Path]) -> None:
    path = write_bundle(
        [
            {"task_id": "a", "depends_on": ["c"], "run": ["true"]},
            {"task_id": "b", "depends_on": ["a"], "run": ["true"]},
            {"task_id": "c", "depends_on": ["b"], "run": ["true"]},
            {"task_id": "free", "run": ["true"]},
        ]
    )
    with pytest.raises(DocumentInvalid) as caught:
        load_bundle(path)
    (issue,) = caught.value.issues
    assert issue.path == "$.tasks[0].depends_on[0]"
    assert issue.message == "dependency cycle: a -> c -> b -> a"


def test_self_dependency(write_bundle: Callable[..., Path]) -> None:
    with pytest.raises(DocumentInvalid) as caught:
        load_bundle(write_bundle([{"task_id": "a", "depends_on": ["a"], "run": ["true"]}]))
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("$.tasks[0].depends_on[0]", "a task cannot depend on itself")
    ]


def test_tool_tasks_validate_but_cannot_be_routed_yet() -> None:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "fix", "tool": "aider", "prompt": "fix the bug"}],
    }
    with pytest.raises(DocumentInvalid) as caught:
        check_bundle(document)
    assert caught.value.issues[0].path == "$.tasks[0].tool"
    assert "router config" in caught.value.issues[0].message


def test_call_is_imported_from_the_bundle_directory(tmp_path: Path) -> None:
    (tmp_path / "local_helpers_for_bundle.py").write_text("def go():\n    return 1\n")
    path = tmp_path / "b.json"
    path.write_text(
        json.dumps(
            {
                "schema_version": "workstream_spec.v1",
                "workstream_id": "ws",
                "tasks": [{"task_id": "a", "call": "local_helpers_for_bundle:go"}],
            }
        )
    )
    assert load_bundle(path).tasks[0].spec["call"] == "local_helpers_for_bundle:go"
