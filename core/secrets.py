"""Secrets in the environment: passed to tools, never written to the ledger or to logs.

A variable is secret when its name looks like one: ``*_KEY``, ``*_TOKEN``, ``*_SECRET`` or
anything containing ``PASSWORD`` (any case). Bundles and router configs may not set such
variables themselves (their text is stored in the ledger); tools get them from UET's own
environment. Whatever UET stores that a tool could have printed (log files, errors, outputs,
gate feedback) goes through :class:`Redactor`, which replaces each secret value by
``[redacted:NAME]``:

- logs as they are written (:meth:`Redactor.stream`), so no file ever holds a secret, not
  even for a moment, not even after kill -9;
- JSON values (:meth:`Redactor.value`) by walking them and redacting each string on its
  decoded characters (never the serialised text, where ``é``, ``"`` or ``\\`` are escaped).
  A number or boolean whose JSON text holds a secret (``PIN_KEY=1234`` and an output of
  ``1234``, or ``91234.5``) becomes that text redacted, a string: ``"[redacted:PIN_KEY]"``,
  ``"9[redacted:PIN_KEY].5"``. Its type changes; its value does not reach the ledger.
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
        # Longest first, so a secret containing another is replaced whole (a regex
        # alternation takes the first alternative that matches at a position).
        self._secrets = sorted(found.items(), key=lambda item: (-len(item[0]), item[0]))
        self._text_masks = {value: f"[redacted:{name}]" for value, name in self._secrets}
        self._byte_masks = {
            value.encode(): mask.encode() for value, mask in self._text_masks.items()
        }
        self._text_pattern: re.Pattern[str] | None = (
            re.compile("|".join(map(re.escape, self._text_masks))) if found else None
        )
        self._byte_pattern: re.Pattern[bytes] | None = (
            re.compile(b"|".join(map(re.escape, self._byte_masks))) if found else None
        )
        self.longest = max((len(value) for value in self._byte_masks), default=0)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def secrets(self) -> list[tuple[str, str]]:
        """(name, value) of each secret, longest value first (for scanners, never to show)."""
        return [(name, value) for value, name in self._secrets]

    def text(self, value: str) -> str:
        if not self._secrets or not any(secret in value for secret, _ in self._secrets):
            return value
        assert self._text_pattern is not None  # noqa: S101 - there are secrets
        return self._text_pattern.sub(lambda match: self._text_masks[match[0]], value)

    def data(self, value: bytes) -> bytes:
        """``value`` (bytes, e.g. a log or a diff) with each secret's UTF-8 bytes replaced."""
        if not self._secrets or not any(secret in value for secret in self._byte_masks):
            return value
        assert self._byte_pattern is not None  # noqa: S101 - there are secrets
        return self._byte_pattern.sub(lambda match: self._byte_masks[match[0]], value)

    def value(self, value: Any) -> Any:
        """A JSON value with every secret in its strings (keys included) replaced; a number
        or boolean whose JSON text holds a secret becomes that text redacted (a string).
        Unchanged values are returned as they are, not copied."""
        if not self._secrets:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            items = [
                (self.text(key) if isinstance(key, str) else key, self._walk(item))
                for key, item in value.items()
            ]
            same = all(
                new_key is key and new is item
                for (new_key, new), (key, item) in zip(items, value.items(), strict=True)
            )
            return value if same else dict(items)
        if isinstance(value, (list, tuple)):
            walked = [self._walk(item) for item in value]
            same = all(new is item for new, item in zip(walked, value, strict=True))
            return value if same else walked
        if isinstance(value, (bool, int, float)):
            shown = json.dumps(value)
            cleaned = self.text(shown)
            return value if cleaned == shown else cleaned
        return value

    def stream(self) -> StreamRedactor:
        """A redactor for one stream of bytes that arrives in chunks (a log being written)."""
        return StreamRedactor(self)

    def file(self, path: str | Path) -> None:
        """Rewrite ``path`` with the secrets replaced, if it holds any: for files a tool or
        gate writes itself (a JUnit report), which UET cannot redact as they are written."""
        if not self._secrets:
            return
        target = Path(path)
        try:
            data = target.read_bytes()
        except OSError:
            return
        cleaned = self.data(data)
        if cleaned != data:
            target.write_bytes(cleaned)


class StreamRedactor:
    """Redacts a byte stream chunk by chunk: :meth:`feed` returns what may be written now and
    holds back the last ``longest - 1`` bytes, the most a secret could straddle into the next
    chunk; :meth:`flush` returns the rest at the end of the stream.

    A secret starting before the held-back tail lies wholly in what was received (it is at
    most ``longest`` bytes long), so it is replaced before anything is written; one starting
    in the tail is decided with the next chunk.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._needles = list(redactor._byte_masks)
        self._masks = redactor._byte_masks
        self._pattern = redactor._byte_pattern
        self._hold = max(redactor.longest - 1, 0)
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        buffer = self._pending + chunk if self._pending else chunk
        boundary = len(buffer) - self._hold
        if boundary <= 0:
            self._pending = buffer
            return b""
        if self._pattern is None or not any(needle in buffer for needle in self._needles):
            self._pending = buffer[boundary:]
            return buffer[:boundary]
        parts: list[bytes] = []
        written = 0
        for match in self._pattern.finditer(buffer):
            if match.start() >= boundary:
                break  # may be the start of a longer secret: decided with the next chunk
            parts += (buffer[written : match.start()], self._masks[match[0]])
            written = match.end()
        end = max(boundary, written)
        parts.append(buffer[written:end])
        self._pending = buffer[end:]
        return b"".join(parts)

    def flush(self) -> bytes:
        """The held-back tail, redacted. A stream cut in the middle of a secret (a tool killed
        while printing it) ends with part of it: a trailing piece of at least half a secret
        (and 4 bytes) is masked too."""
        rest, self._pending = self._pending, b""
        if not rest:
            return rest
        rest = self._redactor.data(rest)
        for secret, mask in self._masks.items():
            for size in range(len(secret) - 1, max(len(secret) // 2, _MIN_LENGTH) - 1, -1):
                if rest.endswith(secret[:size]):
                    return rest[:-size] + mask
        return rest


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
