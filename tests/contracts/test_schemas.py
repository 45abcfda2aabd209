"""The seventeen schemas: valid, resolvable, and each with a valid and an invalid example.

Examples live in ``examples/<name>.valid*.json`` and ``<name>.invalid.json``; the JSON paths an
invalid example must be reported at are listed in ``<name>.invalid.expect.json``.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from core.contracts import SCHEMA_NAMES, issues, registry, validate
from core.errors import DocumentInvalid

EXAMPLES = Path(__file__).parent / "examples"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"
RECORDS_WITH_REQUIRED_VERSION = set(SCHEMA_NAMES) - {
    "task_spec.v1",
    "patch_policy.v1",
    "workstream_spec.v1",
}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_exactly_the_seventeen_schemas_are_shipped() -> None:
    on_disk = sorted(path.name.removesuffix(".json") for path in SCHEMA_DIR.glob("*.v1.json"))
    assert on_disk == sorted(SCHEMA_NAMES)
    assert len(SCHEMA_NAMES) == 17


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = registry().schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://uet.dev/schema/{name}.json"
    version = (
        schema.get("properties", {}).get("schema_version")
        or schema["$defs"]["workstream"]["properties"]["schema_version"]
    )
    assert version == {"const": name}
    if name in RECORDS_WITH_REQUIRED_VERSION:
        assert "schema_version" in schema["required"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_reference_resolves(name: str) -> None:
    schema = registry().schema(name)
    resolver = registry().validator(name)._resolver  # the registry-backed resolver
    refs = list(_refs(schema))
    for ref in refs:
        resolved = resolver.lookup(ref)
        assert isinstance(resolved.contents, dict | bool), ref


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_valid_examples_have_no_issues(name: str) -> None:
    paths = sorted(EXAMPLES.glob(f"{name}.valid*.json"))
    assert paths, f"no valid example for {name}"
    for path in paths:
        assert issues(load(path), name) == [], path.name


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_invalid_example_is_reported_at_the_expected_paths(name: str) -> None:
    document = load(EXAMPLES / f"{name}.invalid.json")
    expected = load(EXAMPLES / f"{name}.invalid.expect.json")
    found = issues(document, name, source="example")
    reported = [issue.path for issue in found]
    missing = [path for path in expected if path not in reported]
    assert not missing, f"{name}: expected issues at {missing}, got {reported}"
    assert all(issue.path.startswith("$") and issue.message for issue in found)
    assert all(issue.source == "example" for issue in found)


def bundle(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": "workstream_spec.v1", "workstream_id": "ws", "tasks": list(tasks)}


def test_error_messages_say_what_to_change() -> None:
    found = {
        issue.path: issue.message
        for issue in issues(
            bundle(
                {"task_id": "a", "run": ["true"], "call": "m:f"},
                {"task_id": "b"},
                {"task_id": "c", "depend_on": ["a"], "run": ["true"]},
                {"task_id": "d", "run": ["true"], "params": {}},
            ),
            "workstream_spec.v1",
        )
    }
    assert found["$.tasks[0]"] == "cannot have both 'run' and 'call': choose one"
    assert found["$.tasks[1]"] == "needs one of 'run', 'call', 'tool' or 'kind'"
    assert found["$.tasks[2].depend_on"] == "unknown property (did you mean 'depends_on'?)"
    assert found["$.tasks[3].params"] == "only allowed together with 'call'"
    wrong_version = issues({"schema_version": "workstream_spec.v2"}, "workstream_spec.v1")
    assert [(i.path, i.message) for i in wrong_version] == [
        ("$", "missing required properties 'workstream_id' and 'tasks'"),
        ("$.schema_version", "must be 'workstream_spec.v1', not 'workstream_spec.v2'"),
    ]


def test_all_errors_are_reported_in_document_order_after_the_best() -> None:
    tasks = [{"task_id": f"t{i}", "run": ["true"]} for i in range(12)]
    for index in (2, 10, 11):
        tasks[index] = {"task_id": f"t{index}", "run": []}
    found = [issue.path for issue in issues(bundle(*tasks), "workstream_spec.v1")]
    assert sorted(found[1:], key=found.index) == found[1:]
    assert set(found) == {"$.tasks[2].run", "$.tasks[10].run", "$.tasks[11].run"}
    rest = found[1:]
    assert rest == sorted(rest, key=lambda path: int(path.split("[")[1].split("]")[0]))


def test_validate_raises_with_every_issue_and_pickles() -> None:
    document = bundle({"task_id": "a"}, {"task_id": "b b", "run": ["x"]})
    with pytest.raises(DocumentInvalid) as caught:
        validate(document, "workstream_spec.v1", source="bundle.json")
    error = caught.value
    assert list(error.issues) == issues(document, "workstream_spec.v1", "bundle.json")
    for issue in error.issues:
        assert issue.path in str(error)
    assert error.exit_code == 2
    copy = pickle.loads(pickle.dumps(error))
    assert copy.issues == error.issues
    assert str(copy) == str(error)


def test_list_bundle_paths_are_indexed() -> None:
    found = issues([bundle({"task_id": "a", "run": ["true"]}), 5], "workstream_spec.v1")
    assert [i.path for i in found] == ["$[1]"]
