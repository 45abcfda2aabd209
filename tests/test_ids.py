"""Our fast ULIDs agree with python-ulid, the reference implementation."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st
from ulid import ULID

from core.ids import is_ulid, new_id, timestamp_of


def test_new_ids_parse_back_with_python_ulid() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert is_ulid(text)
        parsed = ULID.from_str(text)
        assert str(parsed) == text
        assert before <= parsed.milliseconds <= after


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_encoding_matches_the_reference_for_any_value(value: int) -> None:
    from core import ids

    ours = "".join([ids._PAIRS[(value >> shift) & 1023] for shift in ids._SHIFTS])
    assert ours == str(ULID.from_int(value))


def test_timestamp_of() -> None:
    text = new_id()
    assert abs(timestamp_of(text).timestamp() - time.time()) < 5
