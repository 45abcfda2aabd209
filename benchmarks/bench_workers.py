"""Worker processes benchmark: one `uet run` alone against `uet run` plus `uet worker` processes.

A bundle of N independent tasks on a fresh SQLite ledger, run two ways:

- **single**: ``uet run -p P`` (one process, P worker threads);
- **multi**: the same ``uet run -p P`` with W ``uet worker --parallel P`` processes on the same
  ledger (the run keeps P attempts on its threads and leaves the rest to the workers).

Two kinds of task: ``wait`` (``sleep S``: a tool that mostly waits, as agent CLIs do on their
model) and ``quick`` (``true``: what UET itself costs per task). Each round checks that every
task succeeded exactly once. It prints tasks per second and the ratio multi / single.

Usage: python benchmarks/bench_workers.py [--tasks N] [--workers W] [--parallel P]
       [--sleep S] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UET = [str(Path(sys.executable).with_name("uet"))]
ROOT = Path(__file__).resolve().parent.parent


def bundle(path: Path, tasks: int, argv: list[str]) -> None:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "bench",
        "tasks": [{"task_id": f"t{i}", "run": argv} for i in range(tasks)],
    }
    path.write_text(json.dumps(document), encoding="utf-8")


def one_round(folder: Path, argv: list[str], args: argparse.Namespace, workers: int) -> float:
    """Seconds the run took, with ``workers`` worker processes beside it."""
    ledger = folder / f"l-{workers}-{time.monotonic_ns()}.db"
    url = f"sqlite:///{ledger}"
    env = {**os.environ, "UET_LEDGER": url, "PYTHONPATH": str(ROOT)}
    subprocess.run([*UET, "db", "migrate"], env=env, check=True, capture_output=True)
    spec = folder / "bundle.json"
    bundle(spec, args.tasks, argv)
    started = [
        subprocess.Popen(
            [*UET, "worker", "--parallel", str(args.parallel), "--heartbeat", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    try:
        _wait_for_workers(ledger, workers)
        begin = time.perf_counter()
        subprocess.run(
            [*UET, "run", "-q", "-p", str(args.parallel), str(spec)],
            env=env,
            check=True,
            capture_output=True,
            cwd=folder,
        )
        elapsed = time.perf_counter() - begin
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait(timeout=30)
    _check(ledger, args.tasks)
    return elapsed


def _wait_for_workers(ledger: Path, count: int) -> None:
    deadline = time.monotonic() + 30
    while count and time.monotonic() < deadline:
        with sqlite3.connect(ledger) as conn:
            live = conn.execute("SELECT COUNT(*) FROM workers WHERE state = 'idle'").fetchone()[0]
        if live >= count:
            return
        time.sleep(0.05)
    if count:
        raise SystemExit("worker processes did not start")


def _check(ledger: Path, tasks: int) -> None:
    with sqlite3.connect(ledger) as conn:
        done = conn.execute("SELECT COUNT(*) FROM tasks WHERE state = 'succeeded'").fetchone()[0]
        attempts = conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    if done != tasks or attempts != tasks:
        raise SystemExit(f"expected {tasks} tasks run once: {done} succeeded, {attempts} attempts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--sleep", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    kinds = {"wait": ["sleep", str(args.sleep)], "quick": ["true"]}
    print(
        f"{args.tasks} tasks; single: uet run -p {args.parallel}; multi: the same run + "
        f"{args.workers} x uet worker --parallel {args.parallel}; best of {args.repeat}"
    )
    with tempfile.TemporaryDirectory(prefix="uet-bench-workers-") as tmp:
        folder = Path(tmp)
        for kind, argv in kinds.items():
            single = min(one_round(folder, argv, args, 0) for _ in range(args.repeat))
            multi = min(one_round(folder, argv, args, args.workers) for _ in range(args.repeat))
            print(
                f"{kind:<6} ({' '.join(argv)}): single {args.tasks / single:7.1f} tasks/s "
                f"({single:.2f} s), multi {args.tasks / multi:7.1f} tasks/s ({multi:.2f} s), "
                f"ratio {single / multi:.2f}x"
            )


if __name__ == "__main__":
    main()
