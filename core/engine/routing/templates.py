"""argv templates: placeholders that expand to whole argv items, never through a shell.

``{prompt}``, ``{prompt_file}``, ``{worktree}`` and ``{feedback}`` become one item each;
``{files}`` becomes one item per file (none when the task names no files), and ``{feedback}``
none when there is no feedback yet. A placeholder must be the whole item: text around it could
not be expanded without guessing how the tool splits it. Whatever the values contain (quotes,
``$(...)``, ``;``, newlines) reaches the tool byte for byte, with one exception: nothing
reaches it as an option that was not written in the template. A ``{files}`` item starting
with ``-`` is given as ``./-name``, so that a file called ``-rf`` or ``--help`` reaches the
tool as a file; a ``{prompt}`` or ``{feedback}`` text starting with ``-`` gets a leading
space (feedback quotes what the previous attempt left, a file name such as
``--dangerously-skip-permissions`` included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

PLACEHOLDERS = ("prompt", "prompt_file", "files", "worktree", "feedback")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_issues(argv: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(index, problem) for each argv item with an unknown or embedded placeholder."""
    for index, item in enumerate(argv):
        for match in _PLACEHOLDER.finditer(item):
            name = match[1]
            if name not in PLACEHOLDERS:
                known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                yield index, f"unknown placeholder {{{name}}} (known: {known})"
            elif match[0] != item:
                yield index, f"{{{name}}} must be a whole argv item, not part of {item!r}"


def uses(argv: Sequence[str], name: str) -> bool:
    return f"{{{name}}}" in argv


def expand(argv: Sequence[str], values: Mapping[str, Sequence[str]]) -> list[str]:
    """``argv`` with each placeholder item replaced by its values (zero or more items)."""
    result: list[str] = []
    for item in argv:
        match = _PLACEHOLDER.fullmatch(item)
        if match and match[1] in values:
            given = values[match[1]]
            result.extend(map(_GUARDS.get(match[1], str), given))
        else:
            result.append(item)
    return result


def as_operand(path: str) -> str:
    """``path`` as a command line cannot take for an option: ``-rf`` becomes ``./-rf``."""
    return f"./{path}" if path.startswith("-") else path


def as_text(text: str) -> str:
    """``text`` as a command line cannot take for an option: ``--yes`` becomes `` --yes``."""
    return f" {text}" if text.startswith("-") else text


_GUARDS = {"files": as_operand, "prompt": as_text, "feedback": as_text}
