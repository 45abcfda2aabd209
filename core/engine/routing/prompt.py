"""The prompt an agent tool gets, rendered from the task.

Plain Markdown sections, in the order an agent needs them: the objective, the files in scope,
the constraints it must respect (write scope, forbidden paths, patch limits), how the work is
accepted (criteria and gates), and, from the second attempt on, what failed last time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_LIMITS = (
    ("max_files", "change at most {} files"),
    ("max_changed_lines", "change at most {} lines"),
)


def render_prompt(request: Mapping[str, Any], feedback: str | None = None) -> str:
    sections = [request.get("prompt") or f"Complete task {request['task_id']}."]
    files = request.get("files") or []
    if files:
        sections.append("## Files in scope\n" + "\n".join(f"- {path}" for path in files))
    constraints = _constraints(request)
    if constraints:
        sections.append("## Constraints\n" + "\n".join(f"- {line}" for line in constraints))
    accept = [f"- {line}" for line in request.get("acceptance") or []]
    accept += [f"- the `{gate}` gate passes" for gate in request.get("gates") or []]
    if accept:
        sections.append("## Acceptance\n" + "\n".join(accept))
    if feedback:
        sections.append("## The previous attempt failed\n" + feedback.strip())
    return "\n\n".join(sections) + "\n"


def _constraints(request: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    scope = request.get("scope") or {}
    policy = request.get("patch_policy") or {}
    write = scope.get("write") or policy.get("write_scope")
    if write:
        lines.append("only change files matching: " + ", ".join(write))
    forbidden = [*(scope.get("forbidden") or []), *(policy.get("forbidden") or [])]
    if forbidden:
        lines.append("never touch: " + ", ".join(dict.fromkeys(forbidden)))
    for key, text in _LIMITS:
        if policy.get(key) is not None:
            lines.append(text.format(policy[key]))
    if policy.get("allow_binary") is False:
        lines.append("no binary files")
    if request.get("writes"):
        lines.append("do not commit: leave your changes in the working tree")
    return lines
