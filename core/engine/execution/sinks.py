"""Where a process's output goes: a log file capped in size, with its tail kept in memory.

With a :class:`~core.secrets.Redactor` the sink redacts what it writes as it writes it: the
file never holds a secret, not even while the tool runs or after UET is killed. Only the last
``longest secret - 1`` bytes wait in memory for the next chunk (a secret could straddle two
chunks); :meth:`Sink.close` writes them out. Without secrets nothing is held back.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from core.engine.execution.outcome import LogFile
from core.secrets import Redactor, StreamRedactor

_TAIL_BYTES = 1024


class Sink:
    """One output stream: written to ``path`` up to ``cap`` bytes, its tail kept in memory,
    the secrets of ``redact`` replaced before anything is written or kept."""

    def __init__(self, path: Path, cap: int, redact: Redactor | None = None) -> None:
        self.path = path
        self.cap = cap
        self.seen = 0
        self.kept = 0
        self.truncated = False
        self.tail = b""
        self._file: IO[bytes] | None = None
        self._redact = redact if redact else None
        self._scrub: StreamRedactor | None = None  # made on the first byte: most print nothing

    def feed(self, data: bytes) -> None:
        self.seen += len(data)
        if self._redact is not None:
            if self._scrub is None:
                self._scrub = self._redact.stream()
            data = self._scrub.feed(data)
            if not data:
                return
        self._write(data)

    def _write(self, data: bytes) -> None:
        self.tail = (self.tail + data)[-_TAIL_BYTES:]
        room = self.cap - self.kept
        if room <= 0:
            self.truncated = True
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("wb")
        chunk = data[:room]
        self._file.write(chunk)
        self.kept += len(chunk)
        if len(data) > room:
            self.truncated = True
            self._file.write(f"\n[uet: output truncated at {self.cap} bytes]\n".encode())

    def close(self) -> LogFile | None:
        if self._scrub is not None:
            rest = self._scrub.flush()
            self._scrub = None
            if rest:
                self._write(rest)
        if self._file is None:
            return None
        self._file.close()
        return LogFile(str(self.path), self.seen, self.truncated)

    def last_lines(self, count: int = 3, width: int = 160) -> list[str]:
        """The last ``count`` non-blank lines written (redacted, each cut at ``width``)."""
        lines = [line.strip() for line in self.tail.decode("utf-8", "replace").splitlines()]
        if self.seen > len(self.tail) and len(lines) > 1:
            lines = lines[1:]  # the first began before the tail did
        kept = [line for line in lines if line][-count:]
        return [line if len(line) <= width else line[: width - 1] + "…" for line in kept]
