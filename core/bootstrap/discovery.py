"""Discovery: what a repository is made of, found quickly and without changing anything.

What is scanned
  Every file under the root. Inside a git work tree the files are listed by one ``git ls-files``
  (tracked files, and untracked ones git does not ignore), which is the fastest way to
  enumerate a large repository; elsewhere the tree is walked with ``os.scandir``. Each file is
  ``lstat``-ed for its size; languages come from file extensions (and the names Dockerfile,
  Makefile, Jenkinsfile), never from contents. Only a few files are read, and only their
  beginning: manifests near the root (pyproject.toml, setup.cfg, tox.ini, package.json,
  requirements files), up to 200 YAML files (2 KB each) for Kubernetes manifests and Ansible
  playbooks, up to 50 Python test files and 50 dbt model YAMLs (8 KB each). Tools are looked up
  on PATH and asked ``--version`` in parallel, while the tree is scanned.

What is skipped, and listed in ``Discovery.skipped`` with the reason
  Version control folders, virtualenvs (``.venv``, ``venv`` or any folder with a
  ``pyvenv.cfg``), dependency, build and cache folders (``SKIP_DIRS``), everything git ignores,
  nested repositories and submodules, special files, and whatever cannot be read. Symlinks are
  never followed into folders: a link to a file inside the tree counts as that file; loops,
  links to folders, links out of the tree and broken links are named.

Markers are files (or folders) that say what a project is: manifests and tool configs within
``MARKER_DEPTH`` folders of the root, some (Terraform, SQL, Kubernetes manifests) anywhere; at
most ``MARKER_EXAMPLES`` are listed per marker name, and ``Discovery.paths`` has every file for
whoever needs to match globs.

Nothing here raises on a strange tree; only a root that is not a directory is an error.
"""

from __future__ import annotations

import configparser
import contextlib
import errno
import fnmatch
import functools
import json
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.adapters.git import Git
from core.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_TOOLS: tuple[str, ...] = (
    "git", "python3", "pytest", "ruff", "mypy", "node", "npm", "npx", "yarn", "pnpm", "make",
    "go", "cargo", "terraform", "yamllint", "sqlfluff", "dbt", "markdownlint", "lychee",
    "docker", "aider", "claude", "codex",
)  # fmt: skip
VERSION_ARGS: dict[str, tuple[str, ...]] = {"go": ("version",)}  # the rest take --version
VERSION_TIMEOUT = 3.0
MARKER_DEPTH = 2  # folders below the root where manifests and tool configs count
MARKER_EXAMPLES = 10  # paths listed per marker name
YAML_READS, YAML_HEAD = 200, 2048
SNIFF_READS, SNIFF_HEAD = 50, 8192
MANIFEST_LIMIT = 1 << 20
SKIPPED_LIMIT = 200

_VCS, _VENV, _DEPS, _BUILD, _CACHE = (
    "version control", "virtualenv", "vendored dependencies", "build output", "cache",
)  # fmt: skip
# Folder name -> why nothing under it is scanned.
SKIP_DIRS: dict[str, str] = {
    ".git": _VCS, ".hg": _VCS, ".svn": _VCS, ".bzr": _VCS,
    ".venv": _VENV, "venv": _VENV,
    "node_modules": _DEPS, "vendor": _DEPS, "third_party": _DEPS, "site-packages": _DEPS,
    "bower_components": _DEPS,
    "build": _BUILD, "dist": _BUILD, "target": _BUILD, ".next": _BUILD, "coverage": _BUILD,
    "htmlcov": _BUILD,
    "__pycache__": _CACHE, ".tox": _CACHE, ".nox": _CACHE, ".mypy_cache": _CACHE,
    ".pytest_cache": _CACHE, ".ruff_cache": _CACHE, ".terraform": _CACHE, ".gradle": _CACHE,
    ".ledger": "UET ledger", ".worktrees": "UET worktrees", ".uet": "UET configuration",
}  # fmt: skip
# "env" is a virtualenv only when it has a pyvenv.cfg: Terraform and deploy trees use env/ too.


# --- languages --------------------------------------------------------------------------------

_LANGUAGES: dict[str, tuple[str, ...]] = {
    "Python": (".py", ".pyi", ".pyw"),
    "JavaScript": (".js", ".mjs", ".cjs", ".jsx"),
    "TypeScript": (".ts", ".tsx", ".mts", ".cts"),
    "Go": (".go",), "Rust": (".rs",), "Java": (".java",), "Kotlin": (".kt", ".kts"),
    "Scala": (".scala", ".sc"), "Groovy": (".groovy", ".gradle"), "C": (".c", ".h"),
    "C++": (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"), "C#": (".cs",), "F#": (".fs",),
    "Ruby": (".rb", ".rake"), "PHP": (".php",), "Swift": (".swift",), "Objective-C": (".m", ".mm"),
    "Shell": (".sh", ".bash", ".zsh"), "PowerShell": (".ps1", ".psm1"), "Batchfile": (".bat",),
    "Perl": (".pl", ".pm"), "Lua": (".lua",), "R": (".r",), "Julia": (".jl",),
    "Haskell": (".hs",), "Elixir": (".ex", ".exs"), "Erlang": (".erl",), "Clojure": (".clj",),
    "Dart": (".dart",), "Zig": (".zig",), "OCaml": (".ml", ".mli"), "Nix": (".nix",),
    "Solidity": (".sol",), "CUDA": (".cu",), "Assembly": (".asm", ".s"), "Fortran": (".f90",),
    "Starlark": (".bzl",), "CMake": (".cmake",), "Makefile": (".mk",),
    "Vue": (".vue",), "Svelte": (".svelte",), "HTML": (".html", ".htm"), "CSS": (".css",),
    "SCSS": (".scss",), "Sass": (".sass",), "Less": (".less",), "SQL": (".sql",),
    "HCL": (".tf", ".tfvars", ".hcl"), "Jinja": (".j2", ".jinja", ".jinja2"),
    "Protocol Buffers": (".proto",), "GraphQL": (".graphql", ".gql"),
    "Markdown": (".md", ".markdown"), "MDX": (".mdx",), "reStructuredText": (".rst",),
    "AsciiDoc": (".adoc", ".asciidoc"), "TeX": (".tex",),
    "YAML": (".yml", ".yaml"), "TOML": (".toml",), "INI": (".ini", ".cfg"),
    "JSON": (".json", ".jsonc", ".json5"), "XML": (".xml",), "CSV": (".csv", ".tsv"),
    "SVG": (".svg",), "Jupyter Notebook": (".ipynb",),
}  # fmt: skip
_LANGUAGE_BY_EXT = {ext: name for name, exts in _LANGUAGES.items() for ext in exts}
_LANGUAGE_BY_NAME = {
    "Dockerfile": "Dockerfile", "Containerfile": "Dockerfile", "Makefile": "Makefile",
    "GNUmakefile": "Makefile", "makefile": "Makefile", "Jenkinsfile": "Groovy",
    "CMakeLists.txt": "CMake", "Rakefile": "Ruby", "Gemfile": "Ruby",
}  # fmt: skip
# Data formats are listed but take no share: a lock file or a fixture is not the project's code.
DATA_LANGUAGES = frozenset({"JSON", "XML", "CSV", "SVG", "Jupyter Notebook"})


def language_of(path: str) -> str | None:
    """The language of a file, from its name or extension; None when unknown (or binary)."""
    name = path.rpartition("/")[2]
    known = _LANGUAGE_BY_NAME.get(name)
    if known is None and name.startswith("Dockerfile."):
        known = "Dockerfile"
    if known is None:
        stem, dot, ext = name.rpartition(".")
        known = _LANGUAGE_BY_EXT.get(f".{ext.lower()}") if dot and stem else None
    return known


# --- the result -------------------------------------------------------------------------------


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


# --- entry point ------------------------------------------------------------------------------


def discover(
    root: Path, *, tools: Sequence[str] = DEFAULT_TOOLS, probe_versions: bool = True
) -> Discovery:
    """Scan ``root`` (see the module docstring for what is read and what is skipped)."""
    started = time.perf_counter()
    root = _checked_root(root)
    with ThreadPoolExecutor(max_workers=min(32, len(tools) + 2)) as pool:
        probes = [pool.submit(probe_tool, name, probe_versions) for name in tools]
        git = _repository(root)
        state = pool.submit(git_state, git) if git else None
        scan = _Scan(str(root))
        if git is None or not _list_with_git(git, scan, pool):
            if git is None and os.path.exists(root / ".git"):
                scan.skips.add("git ignore rules: git could not read this repository")
            _walk(scan)
        facts = _Facts.gather(scan)
        found_tools = [probe.result() for probe in probes]
        git_found = state.result() if state else GitState(is_repo=False)
    return Discovery(
        root=root,
        languages=languages(scan.files),
        markers=_markers(facts),
        test_frameworks=[f for detect in _FRAMEWORKS if (f := detect(facts)) is not None],
        ci=_ci(facts.tree),
        tools=found_tools,
        git=git_found,
        paths=facts.tree.paths,
        files_scanned=len(scan.files),
        skipped=scan.skips.entries(),
        duration_seconds=round(time.perf_counter() - started, 3),
        sizes=scan.files,
    )


def _checked_root(root: Path) -> Path:
    try:
        resolved = Path(root).resolve(strict=True)
    except FileNotFoundError:
        raise DiscoveryRootInvalid(str(root), "no such directory") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on Python 3.11
        raise DiscoveryRootInvalid(str(root), str(exc)) from None
    if not resolved.is_dir():
        raise DiscoveryRootInvalid(str(root), "not a directory")
    return resolved


# --- enumerating files ------------------------------------------------------------------------


class _Skips:
    """What was not read and why: deduplicated, sorted, capped at ``SKIPPED_LIMIT``."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, entry: str) -> None:
        self._seen.setdefault(entry, None)

    def entries(self) -> list[str]:
        listed = sorted(self._seen)
        if len(listed) <= SKIPPED_LIMIT:
            return listed
        more = len(listed) - SKIPPED_LIMIT
        return [*listed[:SKIPPED_LIMIT], f"... and {more} more not listed"]


@dataclass
class _Scan:
    root: str
    files: dict[str, int] = field(default_factory=dict)  # relative path -> size in bytes
    skips: _Skips = field(default_factory=_Skips)

    def unreadable(self, rel: str, exc: OSError) -> None:
        self.skips.add(f"unreadable: {rel} ({exc.strerror or exc})")

    def add(self, rel: str) -> None:
        """Record one listed path after ``lstat``: a file, a symlink, or something skipped."""
        full = os.path.join(self.root, rel)
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            return  # tracked but deleted in the working tree: nothing to scan
        except OSError as exc:
            self.unreadable(rel, exc)
            return
        if stat.S_ISREG(info.st_mode):
            self.files[rel] = info.st_size
        elif stat.S_ISLNK(info.st_mode):
            self.symlink(rel, full)
        elif stat.S_ISDIR(info.st_mode):
            self.skips.add(f"submodule or nested repository: {rel}/ (not scanned)")
        else:
            self.skips.add(f"not a regular file: {rel}")

    def symlink(self, rel: str, full: str) -> None:
        try:
            target = os.stat(full)
        except OSError as exc:
            kind = "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
            self.skips.add(f"{kind}: {rel}")
            return
        real = os.path.realpath(full)
        if real != self.root and not real.startswith(self.root + os.sep):
            self.skips.add(f"symlink out of the tree: {rel}")
        elif stat.S_ISDIR(target.st_mode):
            parent = os.path.realpath(os.path.dirname(full))
            loop = parent == real or parent.startswith(real + os.sep)
            self.skips.add(f"symlink loop: {rel}" if loop else f"symlink to a folder: {rel}")
        elif stat.S_ISREG(target.st_mode):
            self.files[rel] = target.st_size
        else:
            self.skips.add(f"not a regular file: {rel}")


def _repository(root: Path) -> Git | None:
    """A Git for ``root`` when it lies inside a git work tree; None otherwise."""
    git = Git(root)
    try:
        result = git.run("rev-parse", "--is-inside-work-tree", check=False)
    except OSError:  # git itself is missing
        return None
    return git if result.returncode == 0 and result.stdout.strip() == b"true" else None


_GIT_WARNING = re.compile(r"could not open directory '(.+?)': (.+)")


def _list_with_git(git: Git, scan: _Scan, pool: ThreadPoolExecutor) -> bool:
    """List the files git does not ignore into ``scan``; False when git cannot list them."""
    ignored = pool.submit(
        git.run, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
        check=False,
    )  # fmt: skip
    listed = git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", check=False)
    if listed.returncode != 0:
        return False
    for match in _GIT_WARNING.finditer(listed.stderr.decode("utf-8", "replace")):
        scan.skips.add(f"unreadable: {match[1]} ({match[2].strip()})")
    entries = list(dict.fromkeys(os.fsdecode(p) for p in listed.stdout.split(b"\0") if p))
    skipped = _SkipRules(scan.root, (p for p in entries if p.rpartition("/")[2] == "pyvenv.cfg"))
    for rel in entries:
        folder = skipped.folder_of(rel)
        if folder is not None:
            scan.skips.add(folder)
        elif rel.endswith("/"):
            scan.skips.add(f"submodule or nested repository: {rel} (not scanned)")
        else:
            scan.add(rel)
    _note_ignored(_lines(ignored), skipped, scan.skips)
    return True


def _lines(job: Future[subprocess.CompletedProcess[bytes]]) -> list[str]:
    result = job.result()
    if result.returncode != 0:
        return []
    return [os.fsdecode(p) for p in result.stdout.split(b"\0") if p]


def _note_ignored(ignored: list[str], skipped: _SkipRules, skips: _Skips) -> None:
    """Folders git ignores that are also skipped by name are named; the rest are counted."""
    files: list[str] = []
    folders: list[str] = []
    for rel in sorted(ignored):  # a folder's contents sort right after it
        if folders and rel.startswith(folders[-1]):
            continue  # git lists some files inside an ignored folder too
        folder = skipped.folder_of(rel)
        if folder is not None:
            skips.add(folder)
        elif rel.endswith("/"):
            reason = skipped.reason(rel.rstrip("/"))
            if reason:
                skips.add(f"{rel} ({reason})")
            else:
                folders.append(rel)
        else:
            files.append(rel)
    if files or folders:
        shown = [*folders, *files][:5]
        more = ", ..." if len(files) + len(folders) > 5 else ""
        counts = f"{_plural(len(files), 'file')} and {_plural(len(folders), 'folder')}"
        skips.add(f"git-ignored: {counts} ({', '.join(shown)}{more})")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _SkipRules:
    """Which folder of a path, if any, is skipped (by name, or as a virtualenv), and why."""

    def __init__(self, root: str, pyvenv_cfgs: Iterable[str] = ()) -> None:
        self.root = root
        self.venvs = {cfg.rpartition("/")[0] for cfg in pyvenv_cfgs if "/" in cfg}
        self._cache: dict[str, str | None] = {}

    def reason(self, folder: str) -> str | None:
        name = folder.rpartition("/")[2]
        if name in SKIP_DIRS:
            return SKIP_DIRS[name]
        if folder in self.venvs or os.path.isfile(os.path.join(self.root, folder, "pyvenv.cfg")):
            return _VENV
        return None

    def folder_of(self, rel: str) -> str | None:
        """``"<folder>/ (<reason>)"`` for the outermost skipped folder above ``rel``."""
        parent = rel.rstrip("/").rpartition("/")[0]
        if not parent:
            return None
        if parent not in self._cache:
            outer = self.folder_of(parent + "/")  # the parent's own ancestors first
            if outer is None:
                reason = self.reason(parent)
                outer = f"{parent}/ ({reason})" if reason else None
            self._cache[parent] = outer
        return self._cache[parent]


def _walk(scan: _Scan) -> None:
    """List every file under the root with os.scandir, never following symlinks."""
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(os.path.join(scan.root, folder)) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            scan.unreadable(f"{folder}/" if folder else ".", exc)
            continue
        if folder and any(entry.name == "pyvenv.cfg" for entry in entries):
            scan.skips.add(f"{folder}/ ({_VENV})")
            continue
        for entry in reversed(entries):  # popped in name order
            rel = f"{folder}/{entry.name}" if folder else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    reason = SKIP_DIRS.get(entry.name)
                    if reason:
                        scan.skips.add(f"{rel}/ ({reason})")
                    else:
                        pending.append(rel)
                elif entry.name != ".git":  # a worktree's .git file
                    scan.add(rel)
            except OSError as exc:
                scan.unreadable(rel, exc)


# --- what the files say -----------------------------------------------------------------------


@dataclass
class _Tree:
    """The scanned paths, indexed for the questions markers and frameworks ask."""

    root: str
    paths: tuple[str, ...]
    sizes: Mapping[str, int]
    skips: _Skips
    by_ext: dict[str, list[str]] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)
    shallow: dict[str, list[str]] = field(default_factory=dict)  # by name, near the root

    def __post_init__(self) -> None:
        for path in self.paths:
            name = path.rpartition("/")[2]
            stem, dot, ext = name.rpartition(".")
            if dot and stem:
                self.by_ext.setdefault(f".{ext.lower()}", []).append(path)
            self.by_name.setdefault(name, []).append(path)
            if path.count("/") <= MARKER_DEPTH + 1:
                self.shallow.setdefault(name, []).append(path)

    def named(self, patterns: Sequence[str], depth: int | None = MARKER_DEPTH) -> list[str]:
        """Paths whose file name matches a pattern, within ``depth`` folders, shallowest first."""
        index = self.by_name if depth is None or depth > MARKER_DEPTH + 1 else self.shallow
        matches = _matcher(tuple(patterns))
        found = [
            path
            for name, paths in index.items()
            if matches(name)
            for path in paths
            if depth is None or path.count("/") <= depth
        ]
        return sorted(found, key=_shallow_first)

    def with_ext(self, *exts: str) -> list[str]:
        found = [path for ext in exts for path in self.by_ext.get(ext, ())]
        return sorted(found, key=_shallow_first)

    def read(self, rel: str, limit: int) -> str | None:
        """The first ``limit`` bytes of a scanned file as text; None (and a note) on failure."""
        try:
            with open(os.path.join(self.root, rel), "rb") as handle:
                return handle.read(limit).decode("utf-8", "replace")
        except OSError as exc:
            self.skips.add(f"unreadable: {rel} ({exc.strerror or exc})")
            return None

    def manifest(self, rel: str) -> str | None:
        if self.sizes.get(rel, 0) > MANIFEST_LIMIT:
            self.skips.add(f"too large to read: {rel} ({self.sizes[rel]} bytes)")
            return None
        return self.read(rel, MANIFEST_LIMIT)


def _shallow_first(path: str) -> tuple[int, str]:
    return (path.count("/"), path)


@functools.cache
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], object]:
    """One compiled regex for a set of file name globs (one match per name, not per glob)."""
    return re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns)).match


@dataclass
class _Facts:
    """The tree plus what its manifests say, read once for every detector."""

    tree: _Tree
    pyprojects: dict[str, dict[str, Any]]
    ini_sections: dict[str, set[str]]  # setup.cfg and tox.ini -> their section names
    packages: dict[str, dict[str, Any]]  # package.json -> parsed
    yaml_kinds: dict[str, str]  # path -> "Kubernetes manifest" or "Ansible playbook"

    @classmethod
    def gather(cls, scan: _Scan) -> _Facts:
        tree = _Tree(scan.root, tuple(sorted(scan.files)), scan.files, scan.skips)
        return cls(
            tree=tree,
            pyprojects=_parsed(tree, "pyproject.toml", tomllib.loads),
            ini_sections=_ini_sections(tree),
            packages=_parsed(tree, "package.json", _json_object),
            yaml_kinds=_yaml_kinds(tree),
        )

    @functools.cached_property
    def python_tests(self) -> list[str]:
        return self.tree.named(("test_*.py", "*_test.py"), None)

    @functools.cached_property
    def uses_testcase(self) -> bool:
        """Whether Python test files subclass unittest.TestCase (the first few are read)."""
        return _sniff(self.tree, self.python_tests, _TESTCASE)


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _parsed(
    tree: _Tree, name: str, parse: Callable[[str], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = {}
    for rel in tree.named((name,))[: MARKER_EXAMPLES * 2]:
        text = tree.manifest(rel)
        if text is None:
            continue
        try:
            parsed[rel] = parse(text)
        except ValueError as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            tree.skips.add(f"unparsable: {rel} ({str(exc).splitlines()[0]})")
    return parsed


def _ini_sections(tree: _Tree) -> dict[str, set[str]]:
    sections: dict[str, set[str]] = {}
    for rel in tree.named(("setup.cfg", "tox.ini")):
        text = tree.manifest(rel)
        if text is None:
            continue
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string(text, source=rel)
        except configparser.Error as exc:
            tree.skips.add(f"unparsable: {rel} ({str(exc).splitlines()[0]})")
            continue
        sections[rel] = set(parser.sections())
    return sections


# YAML files that are something else for certain: not worth one of the YAML_READS.
_NOT_MANIFESTS = re.compile(
    r"(^|/)(\.github/|\.gitlab-ci|\.pre-commit|docker-compose|compose\.|mkdocs\.|"
    r"dbt_project\.|Chart\.|values[.-]|pnpm-lock|\.circleci/|azure-pipelines|\.travis|"
    r"bitbucket-pipelines|\.yamllint|\.markdownlint|codecov|\.readthedocs|environment\.)"
)
_K8S = (re.compile(r"^apiVersion:\s*\S", re.M), re.compile(r"^kind:\s*\S", re.M))
_PLAY = (re.compile(r"^-\s+(?:name:.*\n\s+)?hosts:\s*\S", re.M),
         re.compile(r"^\s+(?:tasks|roles|pre_tasks|post_tasks|import_tasks):", re.M))  # fmt: skip


def _yaml_kinds(tree: _Tree) -> dict[str, str]:
    candidates = [p for p in tree.with_ext(".yml", ".yaml") if not _NOT_MANIFESTS.search(p)]
    if len(candidates) > YAML_READS:
        tree.skips.add(
            f"YAML contents: read {YAML_READS} of {len(candidates)} files "
            "(for Kubernetes manifests and Ansible playbooks)"
        )
    kinds: dict[str, str] = {}
    for rel in candidates[:YAML_READS]:
        head = tree.read(rel, YAML_HEAD)
        if head is None:
            continue
        if all(pattern.search(head) for pattern in _K8S):
            kinds[rel] = "Kubernetes manifest"
        elif all(pattern.search(head) for pattern in _PLAY):
            kinds[rel] = "Ansible playbook"
    return kinds


# --- markers ----------------------------------------------------------------------------------

# (marker name, or None for the file's own name; file name patterns; folders deep, None: any)
_FILE_MARKERS: tuple[tuple[str | None, tuple[str, ...], int | None], ...] = (
    (None, ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "Pipfile.lock", "poetry.lock",
            "uv.lock", "tox.ini", "noxfile.py", "requirements*.txt", "environment.yml",
            "package.json", "tsconfig.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
            "Cargo.toml", "go.mod", "pom.xml", "build.gradle", "build.gradle.kts",
            "CMakeLists.txt", "Makefile", "Gemfile", "composer.json", "dbt_project.yml",
            "Chart.yaml", "kustomization.yaml", "kustomization.yml", "Dockerfile",
            "docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml",
            "ansible.cfg", "mkdocs.yml", "mkdocs.yaml", "book.toml", "docusaurus.config.*",
            ".pre-commit-config.yaml", ".eslintrc*", "eslint.config.*", ".markdownlint*",
            ".sqlfluff", ".yamllint*", ".prettierrc*", "Jenkinsfile"), MARKER_DEPTH),
    ("mypy config", ("mypy.ini", ".mypy.ini"), MARKER_DEPTH),
    ("ruff config", ("ruff.toml", ".ruff.toml"), MARKER_DEPTH),
    (".NET project", ("*.csproj", "*.fsproj", "*.vbproj"), MARKER_DEPTH + 1),
    (".NET solution", ("*.sln",), MARKER_DEPTH),
    ("Terraform", ("*.tf",), None),
    ("SQL", ("*.sql",), None),
)  # fmt: skip


def _markers(facts: _Facts) -> list[Marker]:
    found: list[Marker] = []
    for name, patterns, depth in _FILE_MARKERS:
        for path in facts.tree.named(patterns, depth):
            found.append(Marker(name or path.rpartition("/")[2], path))
    for detect in _DERIVED_MARKERS:
        found.extend(detect(facts))
    return _capped(found)


def _capped(markers: list[Marker]) -> list[Marker]:
    counts: dict[str, int] = {}
    kept: list[Marker] = []
    for marker in dict.fromkeys(markers):
        counts[marker.name] = counts.get(marker.name, 0) + 1
        if counts[marker.name] <= MARKER_EXAMPLES:
            kept.append(marker)
    return kept


def _config_markers(facts: _Facts) -> list[Marker]:
    """mypy and ruff configured inside pyproject.toml or setup.cfg."""
    found: list[Marker] = []
    for rel, pyproject in facts.pyprojects.items():
        tool = pyproject.get("tool")
        if isinstance(tool, dict):
            found += [Marker(f"{name} config", rel) for name in ("mypy", "ruff") if name in tool]
    for rel, sections in facts.ini_sections.items():
        if rel.endswith("setup.cfg") and "mypy" in sections:
            found.append(Marker("mypy config", rel))
    return found


_FOLDER_HINT = re.compile(r"dags/|great_expectations|conf\.py$|roles/")


def _folder_markers(facts: _Facts) -> list[Marker]:
    """Airflow DAG folders, Great Expectations projects, Sphinx docs, Ansible roles."""
    found: list[Marker] = []
    for path in facts.tree.paths:
        if not _FOLDER_HINT.search(path):
            continue
        parts = path.split("/")
        if path.endswith(".py") and "dags" in parts[:-1]:
            found.append(Marker("Airflow DAG folder", _folder(parts, "dags")))
        if "great_expectations" in parts[:-1]:
            found.append(Marker("Great Expectations", _folder(parts, "great_expectations")))
        elif parts[-1] == "great_expectations.yml":
            found.append(Marker("Great Expectations", "/".join(parts[:-1]) + "/" or path))
        if parts[-1] == "conf.py" and len(parts) <= 4 and {"docs", "doc"} & set(parts[:-1]):
            found.append(Marker("Sphinx", path))
        if len(parts) >= 4 and parts[-4] == "roles" and parts[-2:] == ["tasks", "main.yml"]:
            found.append(Marker("Ansible role", "/".join(parts[:-2]) + "/"))
    return found


def _folder(parts: list[str], name: str) -> str:
    return "/".join(parts[: parts.index(name) + 1]) + "/"


def _yaml_markers(facts: _Facts) -> list[Marker]:
    return [Marker(kind, path) for path, kind in facts.yaml_kinds.items()]


_DERIVED_MARKERS: tuple[Callable[[_Facts], list[Marker]], ...] = (
    _config_markers,
    _folder_markers,
    _yaml_markers,
)


# --- test frameworks --------------------------------------------------------------------------

_PYTEST_DEPENDENCY = re.compile(r"""(^|["'\s])pytest\b""", re.M)
_TESTCASE = re.compile(r"\bunittest\.TestCase\b|from unittest import[^\n]*\bTestCase\b")


def _pytest(facts: _Facts) -> TestFramework | None:
    tree, ini = facts.tree, facts.ini_sections
    configs = [  # in pytest's order of precedence
        *tree.named(("pytest.ini", ".pytest.ini")),
        *(rel for rel, doc in facts.pyprojects.items() if _has_pytest_table(doc)),
        *(rel for rel, sections in ini.items() if "pytest" in sections and rel[-7:] == "tox.ini"),
        *(rel for rel, sections in ini.items() if "tool:pytest" in sections),
        *tree.named(("conftest.py",), None),
    ]
    if configs:
        return TestFramework("pytest", min(configs, key=lambda rel: rel.count("/")))
    declared = any(
        _PYTEST_DEPENDENCY.search(tree.manifest(rel) or "")
        for rel in [*facts.pyprojects, *tree.named(("requirements*.txt",))]
    )
    if declared or (facts.python_tests and not facts.uses_testcase):
        return TestFramework("pytest", None)
    return None


def _has_pytest_table(pyproject: dict[str, Any]) -> bool:
    tool = pyproject.get("tool")
    pytest = tool.get("pytest") if isinstance(tool, dict) else None
    return isinstance(pytest, dict)  # [tool.pytest.ini_options], or pytest 9's [tool.pytest]


def _unittest(facts: _Facts) -> TestFramework | None:
    return TestFramework("unittest", None) if facts.uses_testcase else None


def _sniff(tree: _Tree, paths: Sequence[str], pattern: re.Pattern[str]) -> bool:
    """Whether the beginning of one of the first ``SNIFF_READS`` paths matches ``pattern``."""
    return any(pattern.search(tree.read(rel, SNIFF_HEAD) or "") for rel in paths[:SNIFF_READS])


@dataclass(frozen=True)
class _JsRunner:
    """A JavaScript test runner: found by a config file of its own, or in a package.json by
    its package among the dependencies or its command in a script."""

    name: str
    package: str
    command: str
    configs: tuple[str, ...]

    def __call__(self, facts: _Facts) -> TestFramework | None:
        configs = facts.tree.named(self.configs)
        if configs:
            return TestFramework(self.name, configs[0])
        command = re.compile(rf"(^|[\s/&;]){re.escape(self.command)}(\s|$)")
        for rel, package in facts.packages.items():
            if self.package in _dependencies(package) or any(
                command.search(script) for script in _scripts(package)
            ):
                return TestFramework(self.name, rel)
        return None


def _dependencies(package: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        table = package.get(key)
        if isinstance(table, dict):
            names.update(table)
    return names


def _scripts(package: dict[str, Any]) -> list[str]:
    scripts = package.get("scripts")
    if not isinstance(scripts, dict):
        return []
    return [value for value in scripts.values() if isinstance(value, str)]


def _go_test(facts: _Facts) -> TestFramework | None:
    if not any(p.endswith("_test.go") for p in facts.tree.with_ext(".go")):
        return None
    modules = facts.tree.named(("go.mod",))
    return TestFramework("go test", modules[0] if modules else None)


def _cargo_test(facts: _Facts) -> TestFramework | None:
    manifests = facts.tree.named(("Cargo.toml",))
    if manifests and facts.tree.with_ext(".rs"):
        return TestFramework("cargo test", manifests[0])
    return None


_DBT_TESTS = re.compile(r"^\s*-?\s*(?:data_)?tests:", re.M)


def _dbt_tests(facts: _Facts) -> TestFramework | None:
    projects = facts.tree.named(("dbt_project.yml",))
    if not projects:
        return None
    base = projects[0].rpartition("/")[0]
    prefix = f"{base}/" if base else ""
    singular = [p for p in facts.tree.with_ext(".sql") if p.startswith(f"{prefix}tests/")]
    models = [p for p in facts.tree.with_ext(".yml", ".yaml") if p.startswith(f"{prefix}models/")]
    if singular or _sniff(facts.tree, models, _DBT_TESTS):
        return TestFramework("dbt tests", projects[0])
    return None


def _rspec(facts: _Facts) -> TestFramework | None:
    configs = facts.tree.named((".rspec",))
    specs = [p for p in facts.tree.with_ext(".rb") if p.endswith("_spec.rb")]
    return TestFramework("rspec", configs[0] if configs else None) if configs or specs else None


def _phpunit(facts: _Facts) -> TestFramework | None:
    configs = facts.tree.named(("phpunit.xml", "phpunit.xml.dist"))
    return TestFramework("phpunit", configs[0]) if configs else None


_JS = ("js", "ts", "mjs", "cjs", "mts", "cts")


def _configs(tool: str) -> tuple[str, ...]:
    return tuple(f"{tool}.config.{ext}" for ext in _JS)


_FRAMEWORKS: tuple[Callable[[_Facts], TestFramework | None], ...] = (
    _pytest,
    _unittest,
    _JsRunner("jest", "jest", "jest", (*_configs("jest"), "jest.config.json")),
    _JsRunner("vitest", "vitest", "vitest", _configs("vitest")),
    _JsRunner("mocha", "mocha", "mocha", (".mocharc*",)),
    _JsRunner("playwright", "@playwright/test", "playwright", _configs("playwright")),
    _JsRunner("cypress", "cypress", "cypress", _configs("cypress")),
    _go_test,
    _cargo_test,
    _dbt_tests,
    _rspec,
    _phpunit,
)


# --- CI ---------------------------------------------------------------------------------------

_CI: tuple[tuple[str, str], ...] = (
    ("GitHub Actions", ".github/workflows/*.yml"),
    ("GitHub Actions", ".github/workflows/*.yaml"),
    ("GitLab CI", ".gitlab-ci.yml"),
    ("CircleCI", ".circleci/config.yml"),
    ("Azure Pipelines", "azure-pipelines.yml"),
    ("Azure Pipelines", "azure-pipelines.yaml"),
    ("Jenkins", "Jenkinsfile"),
    ("Travis CI", ".travis.yml"),
    ("Bitbucket Pipelines", "bitbucket-pipelines.yml"),
)


def _ci(tree: _Tree) -> list[CIConfig]:
    found: list[CIConfig] = []
    for system, pattern in _CI:
        folder, _, name = pattern.rpartition("/")
        found += [
            CIConfig(system, path)
            for path in tree.named((name,), pattern.count("/"))
            if path.rpartition("/")[0] == folder
        ]
    return found


# --- languages, git, tools --------------------------------------------------------------------


def languages(files: Mapping[str, int]) -> list[Language]:
    """Files and bytes per language, with each one's share of the non-data bytes, largest
    first; files of no known language (binaries, unknown extensions) are left out."""
    totals: dict[str, list[int]] = {}
    for path, size in files.items():
        name = language_of(path)
        if name is not None:
            counts = totals.setdefault(name, [0, 0])
            counts[0] += 1
            counts[1] += size
    code = sum(size for name, (_, size) in totals.items() if name not in DATA_LANGUAGES)
    found = [
        Language(name, count, size, _share(size, code) if name not in DATA_LANGUAGES else None)
        for name, (count, size) in totals.items()
    ]
    return sorted(found, key=lambda lang: (lang.share is None, -lang.bytes, lang.name))


def _share(size: int, total: int) -> float:
    return round(size / total, 4) if total else 0.0


def git_state(git: Git) -> GitState:
    """Branch, cleanliness and commit count of the repository ``git`` runs in."""
    head = git.current_branch()
    # GIT_OPTIONAL_LOCKS=0: status must not refresh (write) the index of the user's repository.
    status = git.run("status", "--porcelain", "-z", env={"GIT_OPTIONAL_LOCKS": "0"}, check=False)
    commits = 0
    if git.rev_parse("HEAD") is not None:
        counted = git.run("rev-list", "--count", "HEAD", check=False).stdout.strip()
        commits = int(counted) if counted.isdigit() else 0
    return GitState(
        is_repo=True,
        branch=head.removeprefix("refs/heads/") if head else None,
        clean=not status.stdout if status.returncode == 0 else None,
        commits=commits,
    )


def probe_tool(name: str, probe_version: bool = True) -> ToolFound:
    """Whether ``name`` is on PATH, where, and (when asked) the first line of its version."""
    path = shutil.which(name)
    if path is None:
        return ToolFound(name, found=False)
    version = _version([path, *VERSION_ARGS.get(name, ("--version",))]) if probe_version else None
    return ToolFound(name, found=True, path=path, version=version)


def _version(argv: list[str]) -> str | None:
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed whole on timeout
        )
    except OSError as exc:
        log.debug("cannot run %s: %s", argv[0], exc)
        return None
    with process:
        try:
            out, err = process.communicate(timeout=VERSION_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.debug("%s took more than %ss to print its version", argv[0], VERSION_TIMEOUT)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return None
    if process.returncode != 0:
        return None
    return _version_line(out) or _version_line(err)


def _version_line(output: bytes) -> str | None:
    """The first non-empty line that has a digit in it (``dbt --version`` starts with
    ``Core:``), else the first non-empty line."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    with_digit = [line for line in lines if any(ch.isdigit() for ch in line)]
    chosen = with_digit or lines
    return chosen[0][:200] if chosen else None


__all__ = [
    "DATA_LANGUAGES",
    "DEFAULT_TOOLS",
    "SKIP_DIRS",
    "CIConfig",
    "Discovery",
    "DiscoveryRootInvalid",
    "GitState",
    "Language",
    "Marker",
    "TestFramework",
    "ToolFound",
    "discover",
    "git_state",
    "language_of",
    "languages",
    "probe_tool",
]
