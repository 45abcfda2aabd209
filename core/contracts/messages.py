"""Turn jsonschema errors into issues people can act on: a JSON path and a plain sentence.

jsonschema's default messages describe the schema ("Additional properties are not allowed
('depend_on' was unexpected)"); users need to know what to change in their file
("$.tasks[1].depend_on: unknown property (did you mean 'depends_on'?)"). Rewrites are a table
keyed by the failing keyword; keywords not in the table keep jsonschema's message.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from core.errors import Issue

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parts: Iterable[str | int]) -> str:
    """Render a path as ``$.tasks[2].depends_on[0]`` (keys that are not identifiers quoted)."""
    rendered = ["$"]
    for part in parts:
        if isinstance(part, int):
            rendered.append(f"[{part}]")
        elif _SIMPLE_KEY.match(part):
            rendered.append(f".{part}")
        else:
            rendered.append(f"[{part!r}]")
    return "".join(rendered)


def _quoted(names: Sequence[str]) -> str:
    items = [f"'{name}'" for name in names]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


# jsonschema types these attributes as "value or Unset"; on a reported error they are set.
def _instance(error: ValidationError) -> Any:
    return error.instance


def _schema(error: ValidationError) -> Any:
    return error.schema


def _value(error: ValidationError) -> Any:
    return error.validator_value


def _required(error: ValidationError) -> tuple[list[str | int], str]:
    missing = [name for name in _value(error) if name not in _instance(error)]
    noun = "property" if len(missing) == 1 else "properties"
    return [], f"missing required {noun} {_quoted(missing).replace(' or ', ' and ')}"


def _additional(error: ValidationError) -> tuple[list[str | int], str]:
    properties = _schema(error).get("properties", {})
    known = sorted(properties)
    extra = sorted(key for key in _instance(error) if key not in properties)
    if not extra:  # additionalProperties is a schema here (a map of values): keep the default
        return [], error.message
    key = extra[0]
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (allowed: {', '.join(known)})"
    others = f"; also unknown: {', '.join(extra[1:])}" if len(extra) > 1 else ""
    return [key], f"unknown property{suggestion}{others}"


def _const(error: ValidationError) -> tuple[list[str | int], str]:
    return [], f"must be {_value(error)!r}, not {_instance(error)!r}"


def _pattern(error: ValidationError) -> tuple[list[str | int], str]:
    description = _schema(error).get("description")
    if description:
        return [], f"{_instance(error)!r} is not valid ({description.rstrip('.')})"
    return [], f"{_instance(error)!r} does not match {_value(error)!r}"


def _required_branches(branches: Sequence[Any]) -> list[str] | None:
    """For anyOf/oneOf whose branches only require one property each: those property names."""
    names: list[str] = []
    for branch in branches:
        if not isinstance(branch, dict) or set(branch) != {"required"}:
            return None
        if len(branch["required"]) != 1:
            return None
        names.append(branch["required"][0])
    return names


def _any_of(error: ValidationError) -> tuple[list[str | int], str]:
    names = _required_branches(_value(error))
    if names is not None:
        return [], f"needs one of {_quoted(names)}"
    return [], error.message


def _not(error: ValidationError) -> tuple[list[str | int], str]:
    forbidden = _value(error)
    if isinstance(forbidden, dict) and set(forbidden) == {"required"}:
        together = " and ".join(f"'{name}'" for name in forbidden["required"])
        return [], f"cannot have both {together}: choose one"
    return [], error.message


def _dependent_required(error: ValidationError) -> tuple[list[str | int], str]:
    instance = _instance(error)
    for key, needed in _value(error).items():
        if key in instance:
            missing = [name for name in needed if name not in instance]
            if missing:
                return [key], f"only allowed together with {_quoted(missing)}"
    return [], error.message


_REWRITES: dict[str, Callable[[ValidationError], tuple[list[str | int], str]]] = {
    "required": _required,
    "additionalProperties": _additional,
    "const": _const,
    "pattern": _pattern,
    "anyOf": _any_of,
    "oneOf": _any_of,
    "not": _not,
    "dependentRequired": _dependent_required,
}


def to_issue(error: ValidationError, source: str = "") -> Issue:
    """One jsonschema error as an :class:`Issue` with a JSON path and a readable message."""
    branching = error.validator in ("anyOf", "oneOf") and error.context
    if branching and _required_branches(_value(error)) is None:
        # "is not valid under any of the given schemas" says nothing: report the error of the
        # branch that came closest (for a nullable object, the object's own error).
        deeper = best_match([error])
        if deeper is not None and deeper is not error:
            return to_issue(deeper, source)
    rewrite = _REWRITES.get(str(error.validator))
    suffix: list[str | int] = []
    message = error.message
    if rewrite is not None:
        suffix, message = rewrite(error)
    return Issue(json_path([*error.absolute_path, *suffix]), message, source)
