"""Timestamps as the ledger stores them: RFC 3339 text in UTC, microsecond precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> str:
    """The current time as ``2026-11-22T10:04:05.123456Z``."""
    return datetime.now(UTC).strftime(_FORMAT)


def after(seconds: float) -> str:
    """The time ``seconds`` from now, in the same form."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime(_FORMAT)


def seconds_since(text: str) -> float:
    """Seconds elapsed since the timestamp ``text``."""
    return (datetime.now(UTC) - parse(text)).total_seconds()


def seconds_until(text: str) -> float:
    """Seconds from now until the timestamp ``text`` (negative if it has passed)."""
    return (parse(text) - datetime.now(UTC)).total_seconds()


def parse(text: str) -> datetime:
    """Read a timestamp written by :func:`now` (or any RFC 3339 text) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_between(start: str, end: str) -> float:
    return (parse(end) - parse(start)).total_seconds()
