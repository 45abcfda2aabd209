"""Merge queue benchmark: serial re-gating against the speculative window, same work.

N writing tasks on a fresh repository, each adding its own file, each with a blocking gate
that takes about a second (``python -c 'time.sleep(S)'``), W workers. Their attempts start
on the integration head of their time, so most patches are verified on a head that has moved
by the time they reach the queue, and must be gated again on the tree they would land as:

- **serial** (``"queue": {"window": 1}``): one combination at a time, each gated once the patch
  ahead of it has landed;
- **speculative** (the default adaptive window): every queued patch gated at once on the head
  plus the patches ahead of it, as worker slots allow.

Nothing fails, so both land every patch; the figure is landed patches per minute over the
whole run (attempts included), and the ratio speculative / serial (goal: >= 2.5x). After each
run ``uet verify``'s check confirms every landed commit was gated on its exact tree.

Usage: python benchmarks/bench_queue.py [--patches N] [--gate-seconds S] [--workers W]
       [--repeat R]
Each figure is the best of R rounds; within a round the two runs take turns.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions
from core.engine.queue.verify import verify_run
from core.engine.runs import create_run, execute_run
from core.state import open_ledger

IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def fresh_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q", "-b", "main"],):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    (repo / "README.md").write_text("bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "base"], cwd=repo, env=env, check=True)
    return repo


def bundle(n: int, gate_seconds: float, window: Any) -> dict[str, Any]:
    tool = "import os, pathlib; t = os.environ['UET_TASK_ID']; pathlib.Path(t).write_text(t)"
    return {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "bench",
        "gates": {
            "slow": {"run": [sys.executable, "-c", f"import time; time.sleep({gate_seconds})"]}
        },
        "queue": {"window": window},
        "defaults": {"writes": True, "gates": ["slow"]},
        "tasks": [{"task_id": f"p{i:02d}", "run": [sys.executable, "-c", tool]} for i in range(n)],
    }


def measure(n: int, gate_seconds: float, workers: int, window: Any) -> tuple[float, int, int]:
    """Seconds for the whole run, and how many gate runs there were in attempts' copies and
    on merge queue combinations."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["UET_WORKTREES"] = str(root / "worktrees")
        repo = fresh_repo(root)
        ledger = open_ledger(f"sqlite:///{root}/ledger/bench.db")
        options = RunOptions(parallel=workers, repo=repo, handle_signals=False)
        document = check_bundle(bundle(n, gate_seconds, window))
        started = time.perf_counter()
        run_id = create_run(ledger, document, options, workdir=repo)
        result = execute_run(ledger, run_id, options)
        elapsed = time.perf_counter() - started
        landed = len(ledger.list_patches(run_id, state="committed"))
        rows = ledger.list_gate_results(run_id=run_id)
        regated = sum(1 for row in rows if row["scope"] == "combination")
        attempt = sum(1 for row in rows if row["scope"] == "attempt")
        verified = verify_run(ledger, run_id)
        ledger.close()
        if not result.ok or landed != n:
            raise SystemExit(f"run failed ({landed}/{n} landed): {result.reason}")
        if not verified.ok or len(verified.commits) != n:
            raise SystemExit("a landed commit was not gated on its exact tree")
        return elapsed, attempt, regated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=20)
    parser.add_argument("--gate-seconds", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="rounds (best is kept)")
    args = parser.parse_args()
    n = args.patches
    print(
        f"UET merge queue benchmark: {n} patches, a {args.gate_seconds:g}s gate, "
        f"{args.workers} workers, best of {args.repeat}, Python {sys.version.split()[0]}"
    )
    best: dict[str, tuple[float, int, int]] = {}
    for _ in range(args.repeat):
        for label, window in (("serial", 1), ("speculative", "adaptive")):
            figures = measure(n, args.gate_seconds, args.workers, window)
            if label not in best or figures[0] < best[label][0]:
                best[label] = figures
    for label, (seconds, attempt, regated) in best.items():
        rate = n / seconds * 60
        print(
            f"  {label:<12} {seconds:6.2f}s  {rate:6.1f} landed patches/min  "
            f"(gate runs: {attempt} in attempts' copies, {regated} on queue combinations)"
        )
    ratio = best["serial"][0] / best["speculative"][0]
    print(f"  ratio speculative / serial, landed patches per minute: {ratio:4.2f}x (goal >= 2.5x)")
    print("  every landed commit was gated on its exact tree (uet verify)")


if __name__ == "__main__":
    main()
