"""Where a process's output goes: a log file capped in size, with its tail kept in memory."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from core.engine.execution.outcome import LogFile

_TAIL_BYTES = 400


class Sink:
    """One output stream: written to ``path`` up to ``cap`` bytes, its tail kept in memory."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        self.cap = cap
        self.seen = 0
        self.kept = 0
        self.tail = b""
        self._file: IO[bytes] | None = None

    def feed(self, data: bytes) -> None:
        self.seen += len(data)
        self.tail = (self.tail + data)[-_TAIL_BYTES:]
        room = self.cap - self.kept
        if room <= 0:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("wb")
        chunk = data[:room]
        self._file.write(chunk)
        self.kept += len(chunk)
        if len(data) > room:
            self._file.write(f"\n[uet: output truncated at {self.cap} bytes]\n".encode())

    def close(self) -> LogFile | None:
        if self._file is None:
            return None
        self._file.close()
        return LogFile(str(self.path), self.seen, self.seen > self.cap)

    def last_line(self) -> str:
        lines = self.tail.decode("utf-8", "replace").strip().splitlines()
        return lines[-1].strip() if lines else ""
