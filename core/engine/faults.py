"""Crash points for durability tests: ``UET_FAULT=<point>:<n>`` kills the process with SIGKILL
the n-th time execution passes ``point``, exactly as ``kill -9`` would at that instant.

A kill -9 from outside lands wherever the process happens to be; the windows that matter
(between a git commit and the ledger write that records it) are a few milliseconds wide, so
tests name them instead of hoping to hit them. Unset (always, outside tests) this costs one
dictionary lookup per point.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV_VAR = "UET_FAULT"
_passes: Counter[str] = Counter()


def point(name: str) -> None:
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    wanted, _, count = spec.partition(":")
    if wanted != name:
        return
    _passes[name] += 1
    if _passes[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
