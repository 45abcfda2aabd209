"""Which ledger to open: ``--ledger URL``, else ``$UET_LEDGER``, else the project's default.

URLs follow the SQLAlchemy convention: ``sqlite:///relative/path.db`` (three slashes, relative
to the current directory) and ``sqlite:////absolute/path.db`` (four). A bare filesystem path is
accepted as a SQLite file. The default is ``.ledger/framework.db`` at the project root: the
nearest directory upwards holding ``.uet/`` or ``.git``, or the current directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidLedgerURL

ENV_VAR = "UET_LEDGER"
DEFAULT_RELATIVE = Path(".ledger") / "framework.db"


@dataclass(frozen=True, slots=True)
class LedgerURL:
    scheme: str  # "sqlite" | "postgresql"
    url: str
    path: Path | None = None  # for sqlite


def project_root(start: Path | None = None) -> Path:
    """The nearest ancestor of ``start`` (default: cwd) marked by ``.uet/`` or ``.git``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".uet").is_dir() or (candidate / ".git").exists():
            return candidate
    return here


def parse(url: str, *, base: Path | None = None) -> LedgerURL:
    """Parse a ledger URL (or a bare path), resolving relative SQLite paths against ``base``."""
    base = base or Path.cwd()
    if "://" not in url:
        if not url.strip():
            raise InvalidLedgerURL(url, "empty")
        return LedgerURL("sqlite", _sqlite_url(base / url), (base / url).resolve())
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise InvalidLedgerURL(url, "expected sqlite:///relative/path or sqlite:////abs/path")
        raw = rest[1:]  # one slash separates the (empty) host from the path
        path = Path(raw) if raw.startswith("/") else base / raw
        return LedgerURL("sqlite", url, path.resolve())
    if scheme in ("postgresql", "postgres"):
        return LedgerURL("postgresql", url)
    raise InvalidLedgerURL(url, f"unsupported scheme {scheme!r} (use sqlite:/// or postgresql://)")


def resolve(explicit: str | None = None, *, cwd: Path | None = None) -> LedgerURL:
    """The ledger this invocation uses: explicit URL, then $UET_LEDGER, then the default."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if chosen:
        return parse(chosen, base=cwd)
    path = project_root(cwd) / DEFAULT_RELATIVE
    return LedgerURL("sqlite", _sqlite_url(path), path)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"
