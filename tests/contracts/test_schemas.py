"""The seventeen schemas: well formed, resolvable, consistent, and checked against examples.

``examples/<name>.valid*.json`` must produce no issues; ``examples/<name>.invalid.json`` must be
reported at every JSON path listed in ``<name>.invalid.expect.json`` (and nowhere else).
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from core.contracts import SCHEMA_NAMES, issues, registry, validate
from core.errors import DocumentInvalid, UnknownSchema

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"
SCHEMA_DIR = HERE.parents[1] / "schema"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "https://uet.dev/schema/"
WS = "workstream_spec.v1"
# Embedded inside other documents (tasks in bundles, policies in profiles), so the version is
# allowed but not required; every other document must say which schema it follows.
OPTIONAL_VERSION = frozenset({"task_spec.v1", "patch_policy.v1"})
EXAMPLE_FILE = re.compile(
    r"^(?P<name>[a-z_]+\.v1)\.(?:valid(?:-[a-z0-9-]+)?|invalid|invalid\.expect)\.json$"
)
MINIMAL_BUNDLE = {
    "schema_version": "workstream_spec.v1",
    "workstream_id": "ws-x",
    "name": "demo",
    "tasks": [
        {"task_id": "a", "run": ["echo", "hi"]},
        {"task_id": "b", "depends_on": ["a"], "call": "pkg.mod:function", "params": {"n": 1}},
    ],
}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


ON_DISK: dict[str, dict[str, Any]] = {
    path.name.removesuffix(".json"): load(path) for path in sorted(SCHEMA_DIR.glob("*.json"))
}
# Built from the files alone, independently of core.contracts.
OWN_REGISTRY: Registry[Any] = Registry().with_resources(
    (schema["$id"], DRAFT202012.create_resource(schema))
    for schema in ON_DISK.values()
    if isinstance(schema, dict) and "$id" in schema
)


def lookup(name: str, ref: str) -> Any:
    """What ``ref``, written inside schema ``name``, points at."""
    return OWN_REGISTRY.resolver(base_uri=ON_DISK[name]["$id"]).lookup(ref).contents


def document_root(name: str) -> dict[str, Any]:
    """The object schema a document of ``name`` follows (a bundle's is one workstream)."""
    schema = ON_DISK[name]
    if "properties" in schema:
        return schema
    ref = schema["else"]["$ref"]  # workstream_spec: one workstream, or a list of them
    assert schema["then"]["items"]["$ref"] == ref
    root: dict[str, Any] = lookup(name, ref)
    return root


def refs(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """Every ``$ref`` below ``node`` as (JSON pointer of the referring schema, reference)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield pointer or "/", value
            else:
                yield from refs(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from refs(item, f"{pointer}/{index}")


def nested_ids(node: Any, top: bool = True) -> Iterator[str]:
    if isinstance(node, dict):
        if not top and isinstance(node.get("$id"), str):
            yield node["$id"]
        for value in node.values():
            yield from nested_ids(value, top=False)
    elif isinstance(node, list):
        for item in node:
            yield from nested_ids(item, top=False)


def within(path: str, expected: str) -> bool:
    return path == expected or path.startswith((f"{expected}.", f"{expected}["))


def bundle(*tasks: dict[str, Any], **workstream: Any) -> dict[str, Any]:
    return {"schema_version": WS, "workstream_id": "ws", "tasks": list(tasks), **workstream}


def ok(task_id: str) -> dict[str, Any]:
    return {"task_id": task_id, "run": ["true"]}


def pairs(document: Any, name: str = WS) -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in issues(document, name)]


# --- the schema files ------------------------------------------------------------------------


def test_schema_directory_holds_exactly_the_seventeen_registered_schemas() -> None:
    assert len(SCHEMA_NAMES) == len(set(SCHEMA_NAMES)) == 17
    assert sorted(ON_DISK) == sorted(SCHEMA_NAMES)
    assert registry().names == SCHEMA_NAMES


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_a_versioned_draft_2020_12_schema(name: str) -> None:
    schema = ON_DISK[name]
    assert registry().schema(name) == schema  # the registry serves the files in schema/
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12
    assert schema["$id"] == f"{ID_PREFIX}{name}.json"
    root = document_root(name)
    assert root["type"] == "object"
    assert root["additionalProperties"] is False  # typos are reported, never ignored
    assert root["properties"]["schema_version"]["const"] == name
    if name not in OPTIONAL_VERSION:
        assert "schema_version" in root["required"]


def test_the_reference_walk_sees_local_and_cross_file_references() -> None:
    found = list(refs(ON_DISK[WS]))
    assert ("/$defs/workstream/properties/tasks/items", "task_spec.v1.json") in found
    assert ("/else", "#/$defs/workstream") in found
    assert sum(len(list(refs(schema))) for schema in ON_DISK.values()) > 100


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_reference_resolves(name: str) -> None:
    schema = ON_DISK[name]
    # References resolve against the file's own $id only when no subschema changes the base.
    assert list(nested_ids(schema)) == []
    shipped = {"", *(f"{other}.json" for other in SCHEMA_NAMES)}
    found = list(refs(schema))
    core_validator = registry().validator(name)
    broken: list[str] = []
    for where, ref in found:
        target = ref.partition("#")[0]
        if target not in shipped:
            broken.append(f"{where}: {ref} (not a relative reference to a shipped schema)")
            continue
        try:
            contents = lookup(name, ref)
        except Unresolvable as exc:
            broken.append(f"{where}: {ref} ({exc!r})")
            continue
        if not isinstance(contents, dict | bool):
            broken.append(f"{where}: {ref} resolves to {type(contents).__name__}, not a schema")
        # And through core's registry, as the validators use it.
        absolute = urljoin(schema["$id"], ref)
        try:
            list(core_validator.evolve(schema={"$ref": absolute}).iter_errors(None))
        except Unresolvable as exc:
            broken.append(f"{where}: {ref} unresolvable in core's registry ({exc!r})")
    assert not broken, f"{name}: broken references:\n" + "\n".join(broken)


# --- cross-schema consistency ----------------------------------------------------------------

LIFECYCLES = {
    "run": ("run_record.v1", "#/$defs/run_state"),
    "task": ("run_record.v1", "#/$defs/task_state"),
    "attempt": ("step_attempt.v1", "#/properties/state"),
    "worker": ("worker_record.v1", "#/properties/state"),
    "patch": ("patch_ledger_entry.v1", "#/$defs/state"),
    "gate": ("gate_result.v1", "#/properties/state"),
}


@pytest.mark.parametrize("machine", sorted(LIFECYCLES))
def test_lifecycle_event_kinds_name_exactly_the_states_of_their_machine(machine: str) -> None:
    kinds = lookup("run_event.v1", "#/$defs/kind")["enum"]
    name, pointer = LIFECYCLES[machine]
    states = lookup(name, pointer)["enum"]
    events = [kind.split(".", 1)[1] for kind in kinds if kind.startswith(f"{machine}.")]
    assert sorted(events) == sorted(states)
    assert len(set(kinds)) == len(kinds)


def test_run_counters_count_every_task_state() -> None:
    counters = lookup("run_record.v1", "#/$defs/task_counters")["properties"]
    states = lookup("run_record.v1", "#/$defs/task_state")["enum"]
    assert sorted(set(counters) - {"total"}) == sorted(states)


def test_requests_and_attempts_agree_on_actions_and_retry_settings() -> None:
    request = ON_DISK["execution_request.v1"]["properties"]
    assert request["action"] == ON_DISK["step_attempt.v1"]["properties"]["action"]
    retry = lookup("task_spec.v1", "#/$defs/retry")["properties"]
    assert sorted(request["retry"]["properties"]) == sorted(retry)
    assert sorted(request["retry"]["required"]) == sorted(retry)  # resolved: all filled in


# --- examples ----------------------------------------------------------------------------------


def test_every_example_file_belongs_to_a_schema_and_each_schema_has_its_set() -> None:
    strays = []
    for path in sorted(EXAMPLES.iterdir()):
        match = EXAMPLE_FILE.match(path.name)
        if match is None or match["name"] not in SCHEMA_NAMES:
            strays.append(path.name)
    assert not strays, f"example files no test reads: {strays}"
    for name in SCHEMA_NAMES:
        assert (EXAMPLES / f"{name}.valid.json").is_file()
        assert (EXAMPLES / f"{name}.invalid.json").is_file()
        assert (EXAMPLES / f"{name}.invalid.expect.json").is_file()


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_valid_examples_have_no_issues(name: str) -> None:
    paths = sorted(EXAMPLES.glob(f"{name}.valid*.json"))
    assert paths
    plain = Draft202012Validator(ON_DISK[name], registry=OWN_REGISTRY)
    for path in paths:
        document = load(path)
        assert issues(document, name) == [], path.name
        assert plain.is_valid(document), path.name  # the schema alone agrees
        validate(document, name)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_invalid_example_is_reported_at_every_expected_path(name: str) -> None:
    document = load(EXAMPLES / f"{name}.invalid.json")
    expected = load(EXAMPLES / f"{name}.invalid.expect.json")
    assert expected
    assert all(isinstance(path, str) and path.startswith("$") for path in expected)
    found = issues(document, name, source=f"{name}.invalid.json")
    reported = [issue.path for issue in found]
    missing = [path for path in expected if path not in reported]
    assert not missing, f"{name}: expected issues at {missing}, got {reported}"
    unexplained = [path for path in reported if not any(within(path, e) for e in expected)]
    assert not unexplained, f"{name}: unexpected issues at {unexplained}"
    assert len(set(found)) == len(found)
    for issue in found:
        assert issue.path.startswith("$")
        assert issue.message
        assert issue.source == f"{name}.invalid.json"


def test_workstream_examples_cover_one_a_list_and_the_minimal_bundle() -> None:
    assert load(EXAMPLES / f"{WS}.valid-minimal.json") == MINIMAL_BUNDLE
    listed = load(EXAMPLES / f"{WS}.valid-list.json")
    assert isinstance(listed, list)
    assert len(listed) == 2
    assert len({workstream["workstream_id"] for workstream in listed}) == 2
    assert isinstance(load(EXAMPLES / f"{WS}.valid.json"), dict)


# --- error quality (workstream_spec.v1) --------------------------------------------------------


def test_a_typo_in_a_task_key_is_reported_at_the_key_with_a_suggestion() -> None:
    found = issues(bundle(ok("a"), {"task_id": "b", "depend_on": ["a"], "run": ["true"]}), WS)
    assert len(found) == 1
    assert found[0].path.endswith(".depend_on")
    assert found[0].path == "$.tasks[1].depend_on"
    assert "did you mean 'depends_on'" in found[0].message


def test_a_typo_in_a_workstream_key_is_reported_too() -> None:
    assert pairs(bundle(ok("a"), concurency={"max_parallel": 2})) == [
        ("$.concurency", "unknown property (did you mean 'concurrency'?)")
    ]
    [(path, message)] = pairs(bundle({"task_id": "a", "run": ["true"], "frobnicate": 1}))
    assert path == "$.tasks[0].frobnicate"
    assert message.startswith("unknown property (allowed: ")
    assert "depends_on" in message


def test_a_task_with_run_and_call_must_choose_one() -> None:
    found = pairs(bundle({"task_id": "a", "run": ["make"], "call": "build:main"}))
    assert found == [("$.tasks[0]", "cannot have both 'run' and 'call': choose one")]
    [(_, message)] = pairs(bundle({"task_id": "a", "run": ["make"], "tool": "aider"}))
    assert "cannot have both" in message


def test_a_task_with_nothing_to_do_needs_one_action() -> None:
    found = pairs(bundle(ok("a"), {"task_id": "b", "name": "idle"}))
    assert found == [("$.tasks[1]", "needs one of 'run', 'call', 'tool' or 'kind'")]


def test_params_are_only_allowed_with_call() -> None:
    found = pairs(bundle({"task_id": "a", "run": ["true"], "params": {"n": 1}}))
    assert found == [("$.tasks[0].params", "only allowed together with 'call'")]


def test_a_wrong_version_and_missing_keys_are_named() -> None:
    assert pairs({"schema_version": "workstream_spec.v2"}) == [
        ("$", "missing required properties 'workstream_id' and 'tasks'"),
        ("$.schema_version", "must be 'workstream_spec.v1', not 'workstream_spec.v2'"),
    ]


def test_every_broken_task_is_reported() -> None:
    tasks = [ok(f"t{i}") for i in range(6)]
    tasks[1] = {"task_id": "t1"}
    tasks[3] = {"task_id": "t3", "run": ["make"], "call": "build:main"}
    tasks[4] = {"task_id": "t4", "run": ["true"], "depend_on": ["t1"]}
    found = issues(bundle(*tasks), WS)
    task_paths = {re.sub(r"^(\$\.tasks\[\d+\]).*$", r"\1", issue.path) for issue in found}
    assert task_paths == {"$.tasks[1]", "$.tasks[3]", "$.tasks[4]"}


def test_every_broken_workstream_of_a_list_is_reported() -> None:
    document = [
        bundle(ok("a"), {"task_id": "b"}, workstream_id="one"),
        bundle(ok("c"), {"task_id": "d", "run": []}, workstream_id="two"),
        5,
    ]
    assert sorted(issue.path for issue in issues(document, WS)) == [
        "$[0].tasks[1]",
        "$[1].tasks[1].run",
        "$[2]",
    ]
    assert pairs([]) == [("$", "[] should be non-empty")]


def test_the_best_issue_leads_and_the_rest_follow_with_indexes_in_numeric_order() -> None:
    tasks = [ok(f"t{i}") for i in range(12)]
    for index in (2, 9, 10, 11):
        tasks[index] = {"task_id": f"t{index}", "run": []}
    expected = {"$.tasks[2].run", "$.tasks[9].run", "$.tasks[10].run", "$.tasks[11].run"}

    def index(path: str) -> int:
        return int(path.split("[", 1)[1].split("]", 1)[0])

    paths = [issue.path for issue in issues(bundle(*tasks), WS)]
    assert sorted(paths) == sorted(expected)
    # Whichever task error leads, at least three follow; as text "[10]" < "[2]" < "[9]".
    assert paths[1:] == sorted(paths[1:], key=index)

    # A shallow error is the most relevant one: it leads, every task error follows in order.
    paths = [issue.path for issue in issues(bundle(*tasks, concurency={}), WS)]
    assert paths == ["$.concurency", *sorted(expected, key=index)]


# --- validate() and DocumentInvalid -------------------------------------------------------------


def test_validate_accepts_a_valid_document_quietly() -> None:
    assert validate(MINIMAL_BUNDLE, WS) is None


def test_validate_raises_document_invalid_with_every_issue() -> None:
    document = load(EXAMPLES / f"{WS}.invalid.json")
    with pytest.raises(DocumentInvalid) as caught:
        validate(document, WS, source="bundle.json")
    error = caught.value
    expected = issues(document, WS, "bundle.json")
    assert len(expected) > 1
    assert list(error.issues) == expected
    assert error.source == "bundle.json"
    text = str(error)
    assert text.startswith(f"bundle.json: {len(expected)} problems")
    for issue in error.issues:
        assert f"{issue.path}: {issue.message}" in text
    assert error.exit_code == 2
    assert error.code == "UET101"


def test_validate_without_a_source_names_the_schema() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        validate(bundle({"task_id": "a"}), WS)
    assert str(caught.value).startswith(f"{WS}: 1 problem\n")
    assert "$.tasks[0]" in str(caught.value)


def test_document_invalid_pickles_with_its_issues() -> None:
    document = bundle({"task_id": "a"}, {"task_id": "b b", "run": ["x"]})
    with pytest.raises(DocumentInvalid) as caught:
        validate(document, WS, source="bundle.json")
    error = caught.value
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DocumentInvalid
    assert copy.issues == error.issues
    assert copy.source == error.source
    assert str(copy) == str(error)


def test_an_unknown_schema_name_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(UnknownSchema) as caught:
        issues({}, "workstream_spec.v2")
    assert caught.value.name == "workstream_spec.v2"
    assert WS in str(caught.value)
