"""Timestamps as the ledger stores them: RFC 3339 text in UTC, microsecond precision."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """The current time as ``2026-11-22T10:04:05.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str) -> datetime:
    """Read a timestamp written by :func:`now` (or any RFC 3339 text) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_between(start: str, end: str) -> float:
    return (parse(end) - parse(start)).total_seconds()
