"""Python callables used by the example bundles' `call` tasks.

A `call` task names `module:function`; the bundle's own directory is searched first, so these
import as `demo_tasks:...`. Each is called with the task's `params` as keyword arguments and
returns JSON, which becomes the task's output (see `uet status`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def inventory(pattern: str = "*.json") -> dict[str, object]:
    """List the example bundles next to this file."""
    files = sorted(path.name for path in HERE.glob(pattern))
    return {"files": files, "count": len(files)}


def digest(name: str) -> dict[str, str]:
    """sha256 of one example file."""
    data = (HERE / name).read_bytes()
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": str(len(data))}


def combine(parts: int) -> dict[str, object]:
    """The fan-in step: a real pipeline would merge the shards' results here."""
    return {"combined_parts": parts, "status": "ok"}
