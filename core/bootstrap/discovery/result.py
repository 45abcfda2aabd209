"""What discovery returns: a ``Discovery`` and its parts, and the error for a root that is
not a directory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InvalidInput


class DiscoveryRootInvalid(InvalidInput):
    """``uet init`` was pointed at something that is not a directory."""

    code = "UET120"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot scan {path}: {reason}; pass the folder of a project")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.path, self.reason))


@dataclass(frozen=True)
class Language:
    name: str
    files: int
    bytes: int
    share: float | None  # of the bytes of every language but data formats; None for those


@dataclass(frozen=True)
class Marker:
    name: str
    path: str  # relative POSIX path; folders end with "/"


@dataclass(frozen=True)
class TestFramework:
    __test__ = False  # not a pytest test class, despite the name

    name: str
    config: str | None


@dataclass(frozen=True)
class CIConfig:
    system: str
    path: str


@dataclass(frozen=True)
class ToolFound:
    name: str
    found: bool
    path: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class GitState:
    is_repo: bool
    branch: str | None = None  # None when HEAD is detached, or outside a repository
    clean: bool | None = None  # nothing staged, modified or untracked; None outside
    commits: int | None = None  # 0 in a repository without commits; None outside


@dataclass(frozen=True)
class Discovery:
    root: Path
    languages: list[Language]
    markers: list[Marker]
    test_frameworks: list[TestFramework]
    ci: list[CIConfig]
    tools: list[ToolFound]
    git: GitState
    paths: tuple[str, ...] = field(repr=False)  # every file scanned, sorted
    files_scanned: int
    skipped: list[str]
    duration_seconds: float
    sizes: Mapping[str, int] = field(default_factory=dict, repr=False)  # path -> bytes

    def document(self) -> dict[str, Any]:
        """The ``discovery`` object of a bootstrap_report.v1 (``root`` and ``paths`` aside)."""
        return {
            "languages": [_language_document(language) for language in self.languages],
            "markers": [{"name": m.name, "path": m.path} for m in self.markers],
            "test_frameworks": [{"name": t.name, "config": t.config} for t in self.test_frameworks],
            "ci": [{"system": c.system, "path": c.path} for c in self.ci],
            "tools": [
                {"name": t.name, "found": t.found, "path": t.path, "version": t.version}
                for t in self.tools
            ],
            "git": {
                "is_repo": self.git.is_repo,
                "branch": self.git.branch,
                "clean": self.git.clean,
                "commits": self.git.commits,
            },
            "files_scanned": self.files_scanned,
            "skipped": list(self.skipped),
            "duration_seconds": self.duration_seconds,
        }


def _language_document(language: Language) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": language.name,
        "files": language.files,
        "bytes": language.bytes,
    }
    if language.share is not None:
        document["share"] = language.share
    return document
