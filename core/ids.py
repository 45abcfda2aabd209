"""Identifiers: ULIDs (time-ordered, sortable as text) for every record UET names itself."""

from __future__ import annotations

import re

from ulid import ULID

ULID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_id() -> str:
    """A fresh ULID as its 26-character text form."""
    return str(ULID())


def is_ulid(text: str) -> bool:
    return bool(ULID_PATTERN.match(text))
