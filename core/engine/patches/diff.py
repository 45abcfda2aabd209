"""Reading what ``git diff --raw --numstat --patch -z`` prints, in one pass.

One git process yields all three views of a change: the raw entries (modes, status letters,
renames) and the numstat entries (added/removed lines, ``-`` for binary files) are NUL-separated
and come first; after an empty entry, the patch text itself follows. Reading them together
saves a git process per patch and keeps paths exact (``-z`` paths are never quoted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_STATUS = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type_changed",
}
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"
NO_MODE = "000000"


@dataclass(frozen=True, slots=True)
class ParsedDiff:
    files: list[dict[str, Any]]  # patch_artifact.v1 ``files`` entries
    patch: bytes  # the unified diff (with binary patches), as git apply reads it
    hunks: int

    @property
    def stats(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "added": sum(int(f.get("added", 0)) for f in self.files),
            "removed": sum(int(f.get("removed", 0)) for f in self.files),
            "hunks": self.hunks,
        }


class DiffFormatError(ValueError):
    """git printed something this parser does not understand (a git version difference)."""


def parse(output: bytes) -> ParsedDiff:
    """Parse ``git diff -z --raw --numstat --patch --binary --full-index`` output."""
    tokens = output.split(b"\0")
    index = 0
    raw: list[tuple[str, str, bool, str, list[str]]] = []  # modes, same blob, status, paths
    while index < len(tokens) and tokens[index].startswith(b":"):
        fields = tokens[index][1:].decode().split(" ")
        if len(fields) != 5:
            raise DiffFormatError(f"unexpected raw diff entry {tokens[index][:80]!r}")
        old_mode, new_mode, old_blob, new_blob, status = fields
        count = 2 if status[:1] in ("R", "C") else 1
        paths = [_decode(token) for token in tokens[index + 1 : index + 1 + count]]
        raw.append((old_mode, new_mode, old_blob == new_blob, status[:1], paths))
        index += 1 + count
    numstat: list[tuple[int | None, int | None]] = []
    for _ in raw:
        if index >= len(tokens):
            raise DiffFormatError("numstat entries missing")
        parts = tokens[index].split(b"\t", 2)
        if len(parts) != 3:
            raise DiffFormatError(f"unexpected numstat entry {tokens[index][:80]!r}")
        added, removed, path = parts
        numstat.append((_count(added), _count(removed)))
        index += 1 if path else 3  # a rename's paths follow as two more entries
    if raw:
        if index >= len(tokens) or tokens[index] != b"":
            raise DiffFormatError("patch text does not follow the summaries")
        index += 1
    patch = b"\0".join(tokens[index:])
    files = [_file(entry, counts) for entry, counts in zip(raw, numstat, strict=True)]
    hunks = patch.count(b"\n@@ -") + (1 if patch.startswith(b"@@ -") else 0)
    return ParsedDiff(files=files, patch=patch, hunks=hunks)


def _file(
    entry: tuple[str, str, bool, str, list[str]], counts: tuple[int | None, int | None]
) -> dict[str, Any]:
    old_mode, new_mode, same_content, status, paths = entry
    added, removed = counts
    change = _STATUS.get(status, "modified")
    if change == "modified" and old_mode != new_mode and same_content:
        change = "mode_changed"  # only the mode: content changes stay "modified"
    modes = {old_mode, new_mode} - {NO_MODE}
    record: dict[str, Any] = {
        "path": paths[-1],
        "old_path": paths[0] if len(paths) == 2 else None,
        "change": change,
        "binary": added is None,
        "symlink": SYMLINK_MODE in modes,
        "submodule": SUBMODULE_MODE in modes,
        "added": added or 0,
        "removed": removed or 0,
        "old_mode": None if old_mode == NO_MODE else old_mode,
        "new_mode": None if new_mode == NO_MODE else new_mode,
    }
    return record


def _count(token: bytes) -> int | None:
    if token == b"-":
        return None
    if not token.isdigit():
        raise DiffFormatError(f"unexpected line count {token[:20]!r}")
    return int(token)


def _decode(token: bytes) -> str:
    # Paths are bytes to git; keep undecodable ones visible rather than failing.
    return token.decode("utf-8", "surrogateescape")
