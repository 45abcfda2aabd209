"""How long a task waits before its next attempt: exponential backoff with jitter.

Jitter spreads retries of tasks that failed together (a shared service hiccup) so they do not
hit it again in lockstep: each delay is drawn between half and all of the exponential value.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any


def backoff_delay(
    failed_attempt_no: int, policy: Mapping[str, Any], rng: random.Random | None = None
) -> float:
    """Seconds to wait after attempt ``failed_attempt_no`` (1-based) failed."""
    exponential = float(policy["backoff_seconds"]) * 2.0 ** (failed_attempt_no - 1)
    delay = min(exponential, float(policy["max_backoff_seconds"]))
    if policy.get("jitter", True):
        delay *= 0.5 + (rng or random).random() / 2
    return delay
