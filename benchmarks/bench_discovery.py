"""Discovery benchmark: `uet init`'s scan of a 50,000-file tree, with and without git.

The same tree is written twice into a temporary directory: once as a git repository with every
file committed (listed by ``git ls-files``), once as a plain folder (walked with ``os.scandir``).
It is shaped like a large monorepo: packages of Python, TypeScript, SQL, Markdown, YAML and JSON
files a few folders deep, plus a git-ignored ``node_modules`` and ``build`` (not counted in the
50,000) that discovery must skip.

For each, ``discover(root, probe_versions=False)`` is timed, best of R rounds; it prints the
seconds and files per second. Goal: a few seconds at most.

Usage: python benchmarks/bench_discovery.py [--files N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.bootstrap.discovery import discover

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
KINDS = (
    ("py", "def f():\n    return 1\n" * 4),
    ("ts", "export const x: number = 1;\n" * 4),
    ("sql", "select id, name from orders where id > 1\n" * 2),
    ("md", "# Title\n\nSome words.\n" * 3),
    ("yaml", "name: x\nvalues:\n  - 1\n  - 2\n"),
    ("json", '{"a": 1, "b": [1, 2, 3]}\n'),
)
PER_FOLDER = 50


def build(root: Path, files: int) -> None:
    """``files`` files in folders of PER_FOLDER, three levels deep, plus skipped folders."""
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n[tool.mypy]\n")
    (root / ".gitignore").write_text("node_modules/\nbuild/\n")
    written = 2  # pyproject.toml and .gitignore
    folder_index = 0
    while written < files:
        folder = (
            root
            / f"pkg{folder_index // 100}"
            / f"mod{folder_index // 10 % 10}"
            / (f"part{folder_index % 10}")
        )
        folder.mkdir(parents=True)
        for i in range(min(PER_FOLDER, files - written)):
            ext, body = KINDS[(folder_index + i) % len(KINDS)]
            (folder / f"file_{i}.{ext}").write_text(body)
            written += 1
        folder_index += 1
    for skipped in ("node_modules/lib", "build/out"):
        (root / skipped).mkdir(parents=True)
        for i in range(500):
            (root / skipped / f"gen_{i}.js").write_text("module.exports = 1;\n")


def commit(root: Path) -> None:
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "tree"]):
        subprocess.run(["git", *args], cwd=root, env=ENV, check=True, capture_output=True)


def best_of(root: Path, repeat: int) -> tuple[float, int]:
    best = float("inf")
    scanned = 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = discover(root, probe_versions=False)
        best = min(best, time.perf_counter() - started)
        scanned = found.files_scanned
    return best, scanned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000, help="files in the tree")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, repo = Path(tmp) / "plain", Path(tmp) / "repo"
        started = time.perf_counter()
        build(plain, options.files)
        build(repo, options.files)
        commit(repo)
        print(f"built two trees of {options.files:,} files in {time.perf_counter() - started:.1f}s")
        for label, root in (("git repository", repo), ("plain folder", plain)):
            seconds, scanned = best_of(root, options.repeat)
            rate = scanned / seconds if seconds else float("inf")
            print(
                f"discover, {label:<14}: {seconds:6.3f}s for {scanned:,} files "
                f"({rate:,.0f} files/s, best of {options.repeat})"
            )
            if scanned != options.files:
                sys.exit(f"expected {options.files} files scanned, got {scanned}")


if __name__ == "__main__":
    main()
