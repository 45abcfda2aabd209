"""Contracts: the seventeen versioned JSON Schemas, loaded once, and document validation.

>>> from core.contracts import validate
>>> validate({"schema_version": "workstream_spec.v1", "workstream_id": "ws",
...           "tasks": [{"task_id": "a", "run": ["true"]}]}, "workstream_spec.v1")
"""

from core.contracts.documents import load_json, read_json
from core.contracts.registry import SCHEMA_NAMES, SchemaRegistry, issues, registry, validate

__all__ = [
    "SCHEMA_NAMES",
    "SchemaRegistry",
    "issues",
    "load_json",
    "read_json",
    "registry",
    "validate",
]
