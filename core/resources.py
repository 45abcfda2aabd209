"""Where the shipped data lives: schema/ and profiles/.

In a source checkout (or an editable install) they sit at the top of the repository, next to
``core/``. A wheel carries copies under ``core/_data/`` (see ``pyproject.toml``). The installed
copy wins when both exist, so an installed uet never reads a stray checkout's files.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the directory holding the shipped ``name`` data ("schema" or "profiles")."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"uet's {name}/ directory is missing (looked in {_PACKAGE_DIR / '_data'} and "
        f"{_PACKAGE_DIR.parent}); reinstall uet"
    )
