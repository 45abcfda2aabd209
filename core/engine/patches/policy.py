"""Patch policy: what a patch may change before it is allowed anywhere near the repository.

Policies come in levels (project, workstream, task; a level's ``scope`` counts as one more
level), and each level can only tighten: the smallest maximum wins, forbidden globs add up, a
``false`` permission wins, and a changed path must fall inside the write scope of *every*
level that declares one. Some things are refused whatever any policy says: paths that climb out
of the repository or are absolute, anything under ``.git/``, symlinks that point outside the
repository (or into ``.git``), and submodule changes unless a policy allows them.

Protected by default, allowed only by a policy's ``allow_protected`` globs: UET's own project
files (``.uet/**``: the profile whose constraints are the project's policy, the router config,
the phase specs) and CI definitions (``.github/workflows/**``, ``.gitlab-ci.yml``, ...). A
patch that rewrote them could loosen the next run's policy or run code in CI with its secrets.

A check collects every violation, not just the first, so a rejected patch says all it did wrong.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# -- globs -------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """A glob relative to the repository root: ``*`` and ``?`` stay within a path segment,
    ``**`` spans any number of segments (``src/**`` is everything under ``src``)."""
    parts = pattern.strip("/").split("/")
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
            continue
        regex += _segment(part) + ("" if last else "/")
    return re.compile(rf"\A{regex}\Z", re.DOTALL)


def _segment(part: str) -> str:
    out = ""
    index = 0
    while index < len(part):
        char = part[index]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = part.find("]", index + 2)
            if end == -1:
                out += re.escape(char)
            else:
                body = part[index + 1 : end]
                if body.startswith("!"):  # a negated class, like * and ?, never matches "/"
                    body = "^/" + body[1:]
                out += f"[{body.replace(chr(92), chr(92) * 2)}]"
                index = end
        else:
            out += re.escape(char)
        index += 1
    return out


def matches(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``patterns``, read as the lines of a ``.gitignore`` at the repository root,
    take ``path``: ``tests`` is any file or folder of that name, ``inventory/`` a folder
    anywhere, ``*.lock`` at any depth, ``docs/*.md`` (a ``/`` inside) from the root,
    ``src/**`` everything under ``src``, and ``!keep.lock`` takes back what a line before
    it took."""
    return bool(_gitignore(tuple(patterns)).match_file(path))


def first_match(path: str, patterns: Sequence[str]) -> str | None:
    """The line of ``patterns`` that takes ``path`` (the last one that decides it, as git
    says), or None."""
    if not matches(path, patterns):
        return None
    return next(
        (p for p in reversed(patterns) if not p.startswith("!") and matches(path, (p,))), None
    )


@lru_cache(maxsize=1024)
def _gitignore(patterns: tuple[str, ...]) -> Any:
    # pathspec reads .gitignore lines as git does, but for one thing: its negated bracket
    # expression ([!x]) also takes "/", which no bracket expression of git's does. The
    # compiled patterns are mended, then the spec made again from them. Imported on first
    # use: most commands never check a path against a policy.
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    for pattern in spec.patterns:
        regex = getattr(pattern, "regex", None)
        if regex is not None and "[^" in regex.pattern:
            pattern.regex = re.compile(regex.pattern.replace("[^", "[^/"))
    return pathspec.GitIgnoreSpec(spec.patterns)


# -- protected paths --------------------------------------------------------------------------

# Matched without regard to case: on a case-insensitive filesystem `.UET/` is `.uet/`.
PROTECTED: tuple[str, ...] = (
    ".uet/**",
    ".github/workflows/**",
    ".github/actions/**",
    ".gitea/workflows/**",
    ".forgejo/workflows/**",
    ".gitlab-ci.yml",
    ".gitlab-ci.yaml",
    ".gitlab/ci/**",
    ".circleci/**",
    "azure-pipelines.yml",
    "azure-pipelines.yaml",
    ".azure-pipelines/**",
    "Jenkinsfile",
    "Jenkinsfile.*",
    ".buildkite/**",
    ".ci/**",
    ".travis.yml",
    "bitbucket-pipelines.yml",
    ".drone.yml",
    ".woodpecker.yml",
    ".woodpecker/**",
    "appveyor.yml",
    ".appveyor.yml",
    ".cirrus.yml",
)
_PROTECTED_FOLDED = tuple(pattern.casefold() for pattern in PROTECTED)


def protected(path: str) -> str | None:
    """The protected glob ``path`` falls under (UET's own files or CI), or None."""
    folded = path.casefold()
    for pattern, folded_pattern in zip(PROTECTED, _PROTECTED_FOLDED, strict=True):
        if compile_glob(folded_pattern).match(folded):
            return pattern
    return None


# -- the effective policy ---------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    max_files: int | None = None
    max_changed_lines: int | None = None
    write_scopes: tuple[tuple[str, ...], ...] = ()  # one tuple per level that declares one
    forbidden: tuple[tuple[str, ...], ...] = ()  # one tuple per level forbidding some
    allow_binary: bool = True
    submodules: bool | None = None  # unset: refused; any level saying false wins
    allow_deletions: bool = True
    tests_required: tuple[Mapping[str, Any], ...] = ()
    oscillation_window: int | None = None  # None: compare with every earlier failed attempt
    allowed_protected: tuple[tuple[str, ...], ...] = ()  # one tuple per level allowing some

    @classmethod
    def merge(cls, levels: Sequence[Mapping[str, Any]]) -> Policy:
        """Combine patch_policy.v1 documents, broadest first; each can only tighten."""
        policy = cls()
        for level in levels:
            policy = policy._tightened(level)
        return policy

    def _tightened(self, level: Mapping[str, Any]) -> Policy:
        scope = level.get("write_scope")
        allowed = level.get("allow_protected")
        return Policy(
            max_files=_smaller(self.max_files, level.get("max_files")),
            max_changed_lines=_smaller(self.max_changed_lines, level.get("max_changed_lines")),
            write_scopes=self.write_scopes + ((tuple(scope),) if scope is not None else ()),
            forbidden=self.forbidden
            + ((tuple(level["forbidden"]),) if level.get("forbidden") else ()),
            allow_binary=self.allow_binary and level.get("allow_binary", True),
            submodules=_permission(self.submodules, level.get("allow_submodules")),
            allow_deletions=self.allow_deletions and level.get("allow_deletions", True),
            tests_required=self.tests_required + tuple(level.get("tests_required", ())),
            oscillation_window=_larger(self.oscillation_window, level.get("oscillation_window")),
            allowed_protected=self.allowed_protected
            + ((tuple(allowed),) if allowed is not None else ()),
        )

    def forbidding(self, path: str) -> str | None:
        """The line of the first level that forbids ``path``, or None. Each level's list is
        read on its own, so a later level's ``!pattern`` cannot take back what an earlier
        level forbade."""
        for patterns in self.forbidden:
            hit = first_match(path, patterns)
            if hit is not None:
                return hit
        return None

    def allows_protected(self, path: str) -> bool:
        """Whether some level allows the protected ``path`` and every level that names
        protected paths names it (like write scopes: a level can only narrow it)."""
        return bool(self.allowed_protected) and all(
            matches(path, allowed) for allowed in self.allowed_protected
        )

    @property
    def allow_submodules(self) -> bool:
        return bool(self.submodules)

    def document(self) -> dict[str, Any]:
        """The policy as a patch_policy.v1 document (the narrowest write scope is shown)."""
        doc: dict[str, Any] = {
            "allow_binary": self.allow_binary,
            "allow_submodules": self.allow_submodules,
            "allow_deletions": self.allow_deletions,
        }
        if self.max_files is not None:
            doc["max_files"] = self.max_files
        if self.max_changed_lines is not None:
            doc["max_changed_lines"] = self.max_changed_lines
        if self.write_scopes:
            doc["write_scope"] = list(self.write_scopes[-1])
        if self.forbidden:
            doc["forbidden"] = list(dict.fromkeys(g for level in self.forbidden for g in level))
        if self.tests_required:
            doc["tests_required"] = [dict(rule) for rule in self.tests_required]
        if self.oscillation_window is not None:
            doc["oscillation_window"] = self.oscillation_window
        if self.allowed_protected:
            doc["allow_protected"] = list(self.allowed_protected[-1])
        return doc


def _permission(current: bool | None, new: Any) -> bool | None:
    if new is None:
        return current
    return bool(new) if current is None else current and bool(new)


def _smaller(current: int | None, new: Any) -> int | None:
    if new is None:
        return current
    return int(new) if current is None else min(current, int(new))


def _larger(current: int | None, new: Any) -> int | None:
    if new is None:
        return current
    return int(new) if current is None else max(current, int(new))


def levels_of(*sources: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Policy levels from workstream/task documents: each one's ``patch_policy``, then its
    ``scope`` (write and forbidden globs) as a level of its own."""
    levels: list[dict[str, Any]] = []
    for source in sources:
        if not source:
            continue
        if source.get("patch_policy"):
            levels.append(dict(source["patch_policy"]))
        scope = source.get("scope") or {}
        level: dict[str, Any] = {}
        if scope.get("write") is not None:
            level["write_scope"] = list(scope["write"])
        if scope.get("forbidden"):
            level["forbidden"] = list(scope["forbidden"])
        if level:
            levels.append(level)
    return levels


# -- the check --------------------------------------------------------------------------------


def unsafe_path(path: str) -> str | None:
    """Why ``path`` can never be part of a patch, or None."""
    if not path or "\0" in path:
        return "empty or malformed path"
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path) or path.startswith("\\"):
        return "absolute path"
    parts = re.split(r"[\\/]", path)
    if ".." in parts:
        return "path climbs out of the repository ('..')"
    if any(part.casefold().rstrip(". ") == ".git" for part in parts):
        return "touches .git/"
    return None


def symlink_escape(path: str, target: str) -> str | None:
    """Why a symlink at ``path`` pointing at ``target`` is refused, or None."""
    if not target:
        return "symlink target unreadable"
    if target.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", target):
        return f"symlink points outside the repository ({target})"
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        return f"symlink points outside the repository ({target})"
    if any(part.casefold() == ".git" for part in resolved.split("/")):
        return f"symlink points into .git ({target})"
    return None


def check(
    files: Sequence[Mapping[str, Any]],
    policy: Policy,
    symlink_targets: Mapping[str, str] | None = None,
) -> list[str]:
    """Every reason the change described by ``files`` breaks ``policy`` (empty: it passes)."""
    reasons: list[str] = []
    targets = symlink_targets or {}
    for entry in files:
        # A rename changes both of its paths: each must be safe, in scope and not forbidden.
        touched = list(dict.fromkeys(p for p in (entry.get("old_path"), entry["path"]) if p))
        for path in touched:
            why = unsafe_path(path)
            if why:
                reasons.append(f"{path}: {why}")
            for scope in policy.write_scopes:
                if not matches(path, scope):
                    shown = ", ".join(scope) or "nothing"
                    reasons.append(f"{path}: outside the write scope ({shown})")
            hit = policy.forbidding(path)
            if hit:
                reasons.append(f"{path}: forbidden path (matches {hit})")
            guarded = protected(path)
            if guarded and not policy.allows_protected(path):
                reasons.append(
                    f"{path}: protected path (matches {guarded}: UET's own files and CI "
                    "definitions change only where a policy's allow_protected names them)"
                )
        path = entry["path"]
        if entry.get("symlink") and entry.get("change") != "deleted" and path in targets:
            why = symlink_escape(path, targets[path])
            if why:
                reasons.append(f"{path}: {why}")
        if entry.get("submodule") and not policy.allow_submodules:
            reasons.append(f"{path}: submodule change (not allowed by the policy)")
        if entry.get("binary") and not policy.allow_binary and entry.get("change") != "deleted":
            reasons.append(f"{path}: binary file (the policy forbids binary files)")
        if entry.get("change") == "deleted" and not policy.allow_deletions:
            reasons.append(f"{path}: deletion (the policy forbids deleting files)")
    if policy.max_files is not None and len(files) > policy.max_files:
        reasons.append(f"changes {len(files)} files; the policy allows at most {policy.max_files}")
    changed = sum(int(e.get("added", 0)) + int(e.get("removed", 0)) for e in files)
    if policy.max_changed_lines is not None and changed > policy.max_changed_lines:
        reasons.append(
            f"changes {changed} lines; the policy allows at most {policy.max_changed_lines}"
        )
    paths = [entry["path"] for entry in files]
    for rule in policy.tests_required:
        touched = [p for p in paths if matches(p, rule["paths"])]
        if touched and not any(matches(p, rule["tests"]) for p in paths):
            reasons.append(
                f"changes {touched[0]} without touching its tests ({', '.join(rule['tests'])})"
            )
    return reasons
