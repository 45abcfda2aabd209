"""The schema registry: every ``schema/*.v1.json`` loaded once, cross-references resolved locally.

Schemas reference each other by relative ``$ref`` (``task_spec.v1.json#/$defs/argv``); all of
them are registered under their ``$id`` up front, so resolution never touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from core.contracts.messages import to_issue
from core.errors import DocumentInvalid, Issue, UnknownSchema
from core.resources import data_dir

SCHEMA_NAMES: tuple[str, ...] = (
    "run_record.v1",
    "step_attempt.v1",
    "run_event.v1",
    "phase_spec.v1",
    "workstream_spec.v1",
    "task_spec.v1",
    "execution_request.v1",
    "router_config.v1",
    "patch_artifact.v1",
    "patch_ledger_entry.v1",
    "patch_policy.v1",
    "worker_record.v1",
    "gate_result.v1",
    "cost_record.v1",
    "project_profile.v1",
    "profile.v1",
    "bootstrap_report.v1",
)


class SchemaRegistry:
    """The loaded schemas of one directory, with a compiled validator per schema."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._schemas: dict[str, dict[str, Any]] = {}
        for name in SCHEMA_NAMES:
            path = directory / f"{name}.json"
            with path.open(encoding="utf-8") as handle:
                self._schemas[name] = json.load(handle)
        resources = [
            (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
            for schema in self._schemas.values()
        ]
        self._registry: Registry[Any] = Registry().with_resources(resources)
        self._validators: dict[str, Draft202012Validator] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return SCHEMA_NAMES

    def schema(self, name: str) -> dict[str, Any]:
        try:
            return self._schemas[name]
        except KeyError:
            raise UnknownSchema(name, SCHEMA_NAMES) from None

    def validator(self, name: str) -> Draft202012Validator:
        validator = self._validators.get(name)
        if validator is None:
            validator = Draft202012Validator(self.schema(name), registry=self._registry)
            self._validators[name] = validator
        return validator

    def iter_errors(self, document: Any, name: str) -> Iterator[ValidationError]:
        return self.validator(name).iter_errors(document)

    def issues(self, document: Any, name: str, source: str = "") -> list[Issue]:
        """Every problem of ``document`` against schema ``name``, the most relevant first."""
        return _ranked(list(self.iter_errors(document, name)), source)

    def issues_against(
        self, document: Any, schema: dict[str, Any], source: str = ""
    ) -> list[Issue]:
        """Like :meth:`issues`, for a small schema of the caller's that ``$ref``s the shipped
        ones by their ``$id`` (a gates file is a map of ``gate_definition``s, for instance)."""
        validator = Draft202012Validator(schema, registry=self._registry)
        return _ranked(list(validator.iter_errors(document)), source)

    def validate(self, document: Any, name: str, source: str = "") -> None:
        """Raise :class:`DocumentInvalid` listing every problem, or return quietly."""
        found = self.issues(document, name, source)
        if found:
            raise DocumentInvalid(source or name, found)


def _ranked(errors: list[ValidationError], source: str) -> list[Issue]:
    if not errors:
        return []
    # The best match leads; the rest follow in document order, which is how people read.
    best = best_match(errors, key=relevance)
    top = best
    while top is not None and top.parent is not None:
        top = top.parent  # best_match may descend into an anyOf; drop that anyOf below
    errors.sort(key=_document_order)
    ordered = [error for error in errors if error is not top]
    leading = [best] if best is not None else []
    seen: set[Issue] = set()
    result: list[Issue] = []
    for error in leading + ordered:
        issue = to_issue(error, source)
        if issue not in seen:
            seen.add(issue)
            result.append(issue)
    return result


def _document_order(error: ValidationError) -> list[tuple[int, str]]:
    # Array indexes compare as numbers ($.tasks[2] before $.tasks[10]), keys as text.
    return [
        (part, "") if isinstance(part, int) else (-1, str(part)) for part in error.absolute_path
    ]


@cache
def registry() -> SchemaRegistry:
    """The registry of the schemas shipped with this uet (loaded on first use)."""
    return SchemaRegistry(data_dir("schema"))


def issues(document: Any, name: str, source: str = "") -> list[Issue]:
    return registry().issues(document, name, source)


def validate(document: Any, name: str, source: str = "") -> None:
    registry().validate(document, name, source)
