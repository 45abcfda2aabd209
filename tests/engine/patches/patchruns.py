"""Small helpers for tests that run writing tasks on a real repository: a tool that writes
one file, and a run of a one-workstream bundle of such tasks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.runs import run_bundle
from core.state import Ledger

PY = sys.executable


def write(path: str, content: str) -> list[str]:
    """argv of a tool that writes ``content`` to ``path`` (relative to its copy)."""
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    return [PY, "-c", code, path, content]


def run(ledger: Ledger, repo: Path, tasks: list[dict[str, Any]]) -> RunResult:
    """Run ``tasks`` as one workstream on ``repo``, two workers, no signal handlers."""
    document = {"schema_version": "workstream_spec.v1", "workstream_id": "ws", "tasks": tasks}
    bundle = check_bundle(json.loads(json.dumps(document)))
    return run_bundle(ledger, bundle, RunOptions(parallel=2, repo=repo, handle_signals=False))
