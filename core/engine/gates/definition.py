"""Gate definitions: what a gate runs, and where gate definitions come from.

A gate is a named check (``"unit": {"run": ["python", "-m", "pytest", "-q"]}``) declared in a
bundle's ``gates``, in a project profile, or in a gates file for ``uet gate run``. Every source
is validated against ``gate_result.v1#/$defs/gate_definition`` before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.contracts import read_json, registry
from core.errors import DocumentInvalid, Issue

DEFINITION_REF = "https://uet.dev/schema/gate_result.v1.json#/$defs/gate_definition"
# A plain gates file: {"gates": {name: definition}}; bundles and project profiles carry the
# same object under the same key and are validated against their own schemas instead.
GATES_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["gates"],
    "properties": {
        "gates": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {
                "$ref": "https://uet.dev/schema/run_record.v1.json#/$defs/identifier"
            },
            "additionalProperties": {"$ref": DEFINITION_REF},
        }
    },
}
_OWN_SCHEMA = ("workstream_spec.v1", "project_profile.v1")


@dataclass(frozen=True)
class GateDefinition:
    """One declared gate. ``blocking`` gates fail the attempt (or ``uet gate run``)."""

    name: str
    run: tuple[str, ...]
    type: str | None = None
    description: str | None = None
    blocking: bool = True
    timeout_seconds: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None  # relative to the checkout the gate runs in
    junit_xml: str | None = None  # where the command writes JUnit XML, relative to the checkout
    requires: tuple[str, ...] = ()  # executables that must be on PATH
    scope: str = "tree"  # "patch": judges only the change, so combinations need not rerun it

    @classmethod
    def from_document(cls, name: str, doc: Mapping[str, Any]) -> GateDefinition:
        timeout = doc.get("timeout_seconds")
        return cls(
            name=name,
            run=tuple(doc["run"]),
            type=doc.get("type"),
            description=doc.get("description"),
            blocking=bool(doc.get("blocking", True)),
            timeout_seconds=float(timeout) if timeout is not None else None,
            env=dict(doc.get("env", {})),
            cwd=doc.get("cwd"),
            junit_xml=doc.get("junit_xml"),
            requires=tuple(doc.get("requires", ())),
            scope=str(doc.get("scope", "tree")),
        )

    def document(self) -> dict[str, Any]:
        """The definition as written in a bundle (defaults left out)."""
        doc: dict[str, Any] = {"run": list(self.run)}
        optional = {
            "type": self.type,
            "description": self.description,
            "timeout_seconds": self.timeout_seconds,
            "env": dict(self.env) or None,
            "cwd": self.cwd,
            "junit_xml": self.junit_xml,
            "requires": list(self.requires) or None,
        }
        doc.update({key: value for key, value in optional.items() if value is not None})
        if not self.blocking:
            doc["blocking"] = False
        if self.scope != "tree":
            doc["scope"] = self.scope
        return doc

    @property
    def regated(self) -> bool:
        """Whether the merge queue runs this gate again on a combination: a blocking gate
        that judges the whole tree."""
        return self.blocking and self.scope == "tree"


def definitions(gates: Mapping[str, Mapping[str, Any]]) -> dict[str, GateDefinition]:
    return {name: GateDefinition.from_document(name, doc) for name, doc in gates.items()}


def load_gates(path: Path) -> dict[str, GateDefinition]:
    """The gates declared in the JSON file at ``path``: a gates file (``{"gates": {...}}``),
    a workstream bundle or a project profile. DocumentInvalid (exit 2) lists every problem."""
    source = str(path)
    _, document = read_json(path)
    schema = document.get("schema_version") if isinstance(document, dict) else None
    if isinstance(document, list) or schema == "workstream_spec.v1":
        found = _bundle_gates(document, source)
    else:
        if schema in _OWN_SCHEMA:
            registry().validate(document, str(schema), source)
        else:
            problems = registry().issues_against(document, GATES_FILE_SCHEMA, source)
            if problems:
                raise DocumentInvalid(source, problems)
        found = definitions(document["gates"])
    if not found:
        raise DocumentInvalid(source, [Issue("$", "declares no gates", source)])
    return found


def declared_in(workstreams: Iterable[Mapping[str, Any]]) -> dict[str, GateDefinition]:
    """The gates the workstreams of a bundle (or of a run) declare; names are shared by the
    whole bundle, the first declaration of a name standing."""
    found: dict[str, Any] = {}
    for ws in workstreams:
        for name, document in (ws.get("gates") or {}).items():
            found.setdefault(name, document)
    return definitions(found)


def _bundle_gates(document: Any, source: str) -> dict[str, GateDefinition]:
    registry().validate(document, "workstream_spec.v1", source)
    return declared_in(document if isinstance(document, list) else [document])
