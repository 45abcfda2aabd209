"""Secrets in the environment: passed to tools, never written to the ledger or to logs.

A variable is secret when its name looks like one: ``*_KEY``, ``*_TOKEN``, ``*_SECRET`` or
anything containing ``PASSWORD`` (any case). Bundles and router configs may not set such
variables themselves (their text is stored in the ledger); tools get them from UET's own
environment. Whatever UET stores that a tool could have printed (log files, errors, outputs,
gate feedback) goes through :class:`Redactor`, which replaces each secret value by
``[redacted:NAME]``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_SECRET_NAME = re.compile(r"(_KEY|_TOKEN|_SECRET)$|PASSWORD", re.IGNORECASE)
_MIN_LENGTH = 4  # shorter values would redact ordinary words


def is_secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


class Redactor:
    """Replaces the values of the secret variables of ``environ`` wherever they appear."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        found = {
            value: name
            for name, value in environ.items()
            if is_secret_name(name) and len(value) >= _MIN_LENGTH
        }
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(found.items(), key=lambda item: -len(item[0]))
        self._bytes = [
            (value.encode(), f"[redacted:{name}]".encode()) for value, name in self._secrets
        ]

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret, name in self._secrets:
            if secret in value:
                value = value.replace(secret, f"[redacted:{name}]")
        return value

    def value(self, value: Any) -> Any:
        """A JSON value with every secret in its strings replaced."""
        if not self._secrets or value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.text(value)
        text = json.dumps(value)
        cleaned = self.text(text)
        return value if cleaned == text else json.loads(cleaned)

    def file(self, path: str | Path) -> None:
        """Rewrite ``path`` (a log) with the secrets replaced, if it holds any."""
        if not self._secrets:
            return
        target = Path(path)
        try:
            data = target.read_bytes()
        except OSError:
            return
        cleaned = data
        for secret, replacement in self._bytes:
            cleaned = cleaned.replace(secret, replacement)
        if cleaned != data:
            target.write_bytes(cleaned)


def refuse_secret_names(env: object, where: str, document: str) -> list[tuple[str, str]]:
    """(JSON path, message) for each secret-looking name set by ``env`` (a document's
    ``env`` object, at ``where``): such values belong in UET's environment, not in a
    ``document`` the ledger stores."""
    names = env if isinstance(env, dict) else {}
    return [
        (
            f"{where}.{name}",
            "looks like a secret: set it in UET's environment instead (tools inherit it; the "
            f"{document} is stored in the ledger, the environment never is)",
        )
        for name in names
        if is_secret_name(name)
    ]
