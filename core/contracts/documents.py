"""Reading JSON documents from disk with errors that say where the file is broken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import DocumentInvalid, Issue


def load_json(path: str | Path) -> Any:
    """Parse the JSON file at ``path``; unreadable or malformed files raise DocumentInvalid."""
    return read_json(path)[1]


def read_json(path: str | Path) -> tuple[str, Any]:
    """The text of the JSON file at ``path`` and the document it holds."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentInvalid(source, [Issue("$", "file not found")]) from None
    except IsADirectoryError:
        raise DocumentInvalid(source, [Issue("$", "is a directory, not a JSON file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentInvalid(source, [Issue("$", f"cannot read: {exc}")]) from None
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise DocumentInvalid(source, [Issue("$", where)]) from None
