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

The package, in the order a scan runs: ``files`` lists the tree, ``facts`` reads what the files
say, ``detect`` finds markers, test frameworks and CI in that, ``linguist`` counts languages,
``tools`` probes PATH and git, and ``result`` holds what is returned.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.bootstrap.discovery.detect import ci_configs, frameworks, markers
from core.bootstrap.discovery.facts import (
    MANIFEST_LIMIT,
    MARKER_DEPTH,
    MARKER_EXAMPLES,
    SNIFF_HEAD,
    SNIFF_READS,
    YAML_HEAD,
    YAML_READS,
    Facts,
)
from core.bootstrap.discovery.files import (
    SKIP_DIRS,
    SKIPPED_LIMIT,
    Scan,
    list_with_git,
    repository,
    walk,
)
from core.bootstrap.discovery.linguist import DATA_LANGUAGES, language_of, languages
from core.bootstrap.discovery.result import (
    CIConfig,
    Discovery,
    DiscoveryRootInvalid,
    GitState,
    Language,
    Marker,
    TestFramework,
    ToolFound,
)
from core.bootstrap.discovery.tools import (
    DEFAULT_TOOLS,
    VERSION_ARGS,
    VERSION_TIMEOUT,
    git_state,
    probe_tool,
)


def discover(
    root: Path, *, tools: Sequence[str] = DEFAULT_TOOLS, probe_versions: bool = True
) -> Discovery:
    """Scan ``root`` (see the module docstring for what is read and what is skipped)."""
    started = time.perf_counter()
    root = _checked_root(root)
    with ThreadPoolExecutor(max_workers=min(32, len(tools) + 2)) as pool:
        probes = [pool.submit(probe_tool, name, probe_versions) for name in tools]
        git = repository(root)
        state = pool.submit(git_state, git) if git else None
        scan = Scan(str(root))
        if git is None or not list_with_git(git, scan, pool):
            if git is None and os.path.exists(root / ".git"):
                scan.skips.add("git ignore rules: git could not read this repository")
            walk(scan)
        facts = Facts.gather(scan)
        found_tools = [probe.result() for probe in probes]
        git_found = state.result() if state else GitState(is_repo=False)
    return Discovery(
        root=root,
        languages=languages(scan.files),
        markers=markers(facts),
        test_frameworks=frameworks(facts),
        ci=ci_configs(facts.tree),
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


# The limits are importable from here, but each is read in the module that defines it
# (``tools.VERSION_TIMEOUT``, ``facts.YAML_READS``, ...): patch it there.
__all__ = [
    "DATA_LANGUAGES",
    "DEFAULT_TOOLS",
    "MANIFEST_LIMIT",
    "MARKER_DEPTH",
    "MARKER_EXAMPLES",
    "SKIPPED_LIMIT",
    "SKIP_DIRS",
    "SNIFF_HEAD",
    "SNIFF_READS",
    "VERSION_ARGS",
    "VERSION_TIMEOUT",
    "YAML_HEAD",
    "YAML_READS",
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
