"""Copy benchmark: making an attempt's private copy against `git worktree add`, same repository.

A repository of N files (default 50,000, in folders of 100) is committed once. Then, in
interleaved rounds, the same commit is checked out by each contender into a fresh folder and
removed again:

- reference: ``git worktree add --detach`` (then ``git worktree remove --force``), what
  attempts used before they got private copies;
- uet: ``Copies.create`` (a repository of its own whose objects come through alternates, UET's
  own git directory beside it, a private HOME) then ``Copies.remove``.

It prints the best and median seconds of creation for each and the ratio uet / reference.
The contenders take turns (the first of a round alternates), and the disk is synced before
each creation so neither pays for the other's removals.
Both write every file of the tree once; the copy writes its index twice (UET's and the
tool's), so the ratio should stay close to 1.

Usage: python benchmarks/bench_copies.py [--files N] [--repeat R] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.adapters.git import open_repository
from core.engine.patches.copies import Copies

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True)


def make_repo(root: Path, files: int) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for number in range(files):
        folder = repo / f"pkg{number // 100:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{number % 100:02d}.py").write_text(f"VALUE = {number}\n" * 3)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tree")
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to make the repository (a disk)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uet-bench-copies-", dir=args.dir) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        repo = make_repo(root, args.files)
        print(f"repository of {args.files} files made in {time.perf_counter() - started:.1f}s")
        git_repo = open_repository(repo)
        commit = git_repo.text("rev-parse", "HEAD")
        copies = Copies(git_repo, "01BENCH0000000000000000000", home=root / "copies")
        times: dict[str, list[float]] = {"reference": [], "uet": []}

        def reference(round_no: int) -> None:
            target = root / f"wt-{round_no}"
            t0 = time.perf_counter()
            git(repo, "worktree", "add", "--detach", "--quiet", str(target), commit)
            times["reference"].append(time.perf_counter() - t0)
            git(repo, "worktree", "remove", "--force", str(target))

        def uet(round_no: int) -> None:
            t0 = time.perf_counter()
            copy = copies.create(copies.path_for("bench", round_no), commit)
            times["uet"].append(time.perf_counter() - t0)
            copies.remove(copy.path)

        for round_no in range(args.repeat):
            # Take turns, and let the removals reach the disk before the next creation.
            for contender in (reference, uet) if round_no % 2 == 0 else (uet, reference):
                os.sync()
                contender(round_no)
        shutil.rmtree(root / "copies", ignore_errors=True)
        for name, values in times.items():
            print(f"{name:>9}: best {min(values):.3f}s  median {statistics.median(values):.3f}s")
        ratio = min(times["uet"]) / min(times["reference"])
        print(f"copy creation / git worktree add (best of {args.repeat}): {ratio:.2f}x")


if __name__ == "__main__":
    main()
