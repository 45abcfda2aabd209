"""Patch pipeline benchmark: UET against a plain git script doing the same work.

N small patches, one after another, on a fresh repository in a temporary directory:

- **uet**: a bundle of N writing tasks, each a tool (``sh -c 'echo ... > file'``) run in its
  own private copy (in the sandbox where bubblewrap runs; ``UET_SANDBOX=off`` measures
  without it); the change is captured as a patch, stored, checked against the patch policy
  and the repository guard, a trivial gate (``true``) runs, and the integrator lands it on
  ``uet/<run>`` with its trailers; every step is recorded in the SQLite ledger.
- **plain git**: what a careful shell script does for the same result: ``git worktree add``,
  the same tool, ``git add -A`` + ``git diff --cached`` into a patch file, the same gate,
  ``git apply --index`` + ``git commit`` in an integration worktree, ``git worktree remove``.

It prints both times, per patch, and the ratio (goal: uet within 1.5x of the plain script).

Usage: python benchmarks/bench_patches.py [--patches N] [--repeat R] [--parallel P]
Each figure is the best of R rounds (the least disturbed by the machine); within a round the
three measurements take turns.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions
from core.engine.runs import create_run, execute_run
from core.state import open_ledger

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
TOOL = 'echo "change $0" > "f_$0.txt"'  # $0: the task's number


def git(cwd: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, input=data, capture_output=True, check=True
    ).stdout


def fresh_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(20):
        (repo / f"src_{i}.txt").write_text(f"file {i}\n" * 20)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def uet(n: int, parallel: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = fresh_repo(root)
        document = {
            "schema_version": "workstream_spec.v1",
            "workstream_id": "bench",
            "gates": {"trivial": {"run": ["true"]}},
            "defaults": {"writes": True, "gates": ["trivial"]},
            "tasks": [{"task_id": f"p{i}", "run": ["sh", "-c", TOOL, str(i)]} for i in range(n)],
        }
        ledger = open_ledger(f"sqlite:///{root}/ledger/bench.db")
        options = RunOptions(parallel=parallel, repo=repo, handle_signals=False)
        started = time.perf_counter()
        run_id = create_run(ledger, check_bundle(document), options, workdir=repo)
        result = execute_run(ledger, run_id, options)
        elapsed = time.perf_counter() - started
        landed = len(ledger.list_patches(run_id, state="committed"))
        ledger.close()
        if not result.ok or landed != n:
            raise SystemExit(f"uet run failed ({landed}/{n} landed): {result.reason}")
        return elapsed


def plain_git(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = fresh_repo(root)
        integration = root / "integration"
        started = time.perf_counter()
        git(repo, "worktree", "add", "-q", "-b", "integration", str(integration), "main")
        for i in range(n):
            worktree = root / f"wt{i}"
            head = git(integration, "rev-parse", "HEAD").decode().strip()
            git(repo, "worktree", "add", "-q", "--detach", str(worktree), head)
            subprocess.run(["sh", "-c", TOOL, str(i)], cwd=worktree, check=True)
            git(worktree, "add", "-A")
            patch = root / f"p{i}.diff"
            patch.write_bytes(git(worktree, "diff", "--cached", "--binary", head))
            subprocess.run(["true"], cwd=worktree, check=True)
            git(integration, "apply", "--index", str(patch))
            git(integration, "commit", "-q", "-m", f"patch {i}")
            git(repo, "worktree", "remove", "--force", str(worktree))
        elapsed = time.perf_counter() - started
        count = int(git(integration, "rev-list", "--count", "HEAD").decode())
        if count != n + 1:
            raise SystemExit(f"plain script made {count - 1} commits, expected {n}")
        return elapsed


def interleaved(repeat: int, measures: dict[str, Callable[[], float]]) -> dict[str, float]:
    """The best time of each measure over ``repeat`` rounds, the measures taking turns within
    a round so that a slow spell of the machine does not fall on one of them only."""
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, measure in measures.items():
            times[name].append(measure())
    return {name: min(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=200, help="patches per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (best is kept)")
    parser.add_argument(
        "--parallel", type=int, default=os.cpu_count() or 1, help="uet workers for the 2nd run"
    )
    args = parser.parse_args()
    n = args.patches
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    print(
        f"UET patch pipeline benchmark: {n} patches, best of {args.repeat}, "
        f"Python {sys.version.split()[0]}, {git_version.strip()}"
    )
    best = interleaved(
        args.repeat,
        {
            "plain": lambda: plain_git(n),
            "serial": lambda: uet(n, 1),
            "parallel": lambda: uet(n, args.parallel),
        },
    )
    plain, serial, parallel = best["plain"], best["serial"], best["parallel"]
    rows = [
        ("plain git script", plain),
        ("uet, 1 worker", serial),
        (f"uet, {args.parallel} workers", parallel),
    ]
    for label, seconds in rows:
        print(f"  {label:<22} {seconds:6.2f}s  {seconds / n * 1e3:6.1f} ms/patch")
    print(f"  ratio uet (1 worker) / plain:   {serial / plain:5.2f}x   (goal <= 1.5x)")
    print(f"  ratio uet ({args.parallel} workers) / plain:  {parallel / plain:5.2f}x")


if __name__ == "__main__":
    main()
