"""Where a secret could have been left on disk: one walk of the given folders reading every
file's bytes, plus the ledger's SQLite file and its -wal checked by name (so a check cannot
pass because the database was not where the walk looked).

The secret is looked for as UTF-8 and as JSON writes it (``\\u00e9``, ``\\"``, ``\\\\``), so
a value stored inside a JSON column is found whatever its characters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from core.state import Ledger


def forms(secret: str) -> set[bytes]:
    """The byte strings a stored copy of ``secret`` would contain."""
    return {
        secret.encode(),
        json.dumps(secret)[1:-1].encode(),
        json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
    }


def files_holding(secret: str, roots: Iterable[Path]) -> list[str]:
    """Every file under ``roots`` (or a root that is a file) whose bytes hold ``secret``."""
    needles = forms(secret)
    found: set[str] = set()
    for root in roots:
        paths = [root] if root.is_file() else root.rglob("*") if root.is_dir() else []
        for path in paths:
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if any(needle in data for needle in needles):
                    found.add(str(path))
    return sorted(found)


def attempt_caches() -> list[Path]:
    """UET's folders outside the project: the attempts' copies and caches."""
    roots = [Path.home() / ".cache" / "uet"]
    if os.environ.get("UET_WORKTREES"):
        roots.append(Path(os.environ["UET_WORKTREES"]))
    return roots


def assert_no_secret_stored(secret: str, ledger: Ledger, *more: Path, shown: str = "") -> None:
    """No file of the ledger (database, -wal, logs, patches), of the attempt caches or of
    ``more`` holds ``secret``, and neither does ``shown`` (what reached the terminal)."""
    database = Path(ledger.location)
    assert database.is_file(), database
    checked = [database, Path(f"{database}-wal"), database.parent, ledger.artifacts_dir]
    leaked = files_holding(secret, [*checked, *attempt_caches(), *more])
    assert leaked == [], f"the secret is stored in {leaked}"
    for needle in forms(secret):
        assert needle.decode() not in shown, "the secret reached the terminal"
