"""Identifiers: ULIDs (time-ordered, sortable as text) for every record UET names itself.

A run writes several ids per task (attempts, events), so generation sits on the hot path.
python-ulid's ``str(ULID())`` encodes digit by digit in Python (~6 µs); :func:`new_id` builds
the same 26-character form from 10-bit chunks looked up in a table of digit pairs (~2 µs).
The layout is the ULID spec's: 48 bits of Unix milliseconds, then 80 random bits, in
Crockford base32; python-ulid remains the reference that reads them back
(:func:`timestamp_of`, and the tests).
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime

from ulid import ULID

ULID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [first + second for first in _DIGITS for second in _DIGITS]  # 1024 ten-bit chunks
_SHIFTS = tuple(range(120, -1, -10))  # 13 chunks cover the 130 bits of 26 digits


def new_id() -> str:
    """A fresh ULID as its 26-character text form."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def is_ulid(text: str) -> bool:
    return bool(ULID_PATTERN.match(text))


def timestamp_of(ulid_text: str) -> datetime:
    """When an id was made (the ULID's millisecond timestamp), as an aware datetime."""
    return ULID.from_str(ulid_text).datetime
