"""Kernel benchmark: what the ledger costs per task, and command tasks against bare subprocess.

Runs, on a fresh SQLite ledger in a temporary directory:

1. N no-op ``call`` tasks (``builtins:dict``) through the full path — bundle validation, run
   creation, scheduling, two ledger transactions per task with their events — and reports the
   per-task overhead in microseconds and tasks per second.
2. N ``run: ["true"]`` command tasks with P workers, against the same N commands started with
   bare ``subprocess.run`` from P threads, and reports the ratio (1.00 = no overhead). Where
   UET's tools run in the bubblewrap sandbox (``UET_SANDBOX=off`` turns it off), the same
   commands are also started bare inside ``bwrap`` with UET's sandbox arguments, the
   reference with the same containment.

Usage: python benchmarks/bench_kernel.py [--tasks N] [--parallel P] [--repeat R]
Each measurement is the best of R repetitions (the least disturbed by the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine.bundle import check_bundle
from core.engine.execution.sandbox import Confinement, detect
from core.engine.options import RunOptions
from core.engine.runs import create_run, execute_run
from core.state import open_ledger


def bundle(tasks: list[dict[str, object]]) -> dict[str, object]:
    return {"schema_version": "workstream_spec.v1", "workstream_id": "bench", "tasks": tasks}


def through_ledger(document: dict[str, object], parallel: int) -> tuple[float, float, float]:
    """Seconds to create the run, to execute it, and spent inside ledger transactions."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(f"sqlite:///{tmp}/bench.db")
        in_ledger = [0.0]
        opened = ledger.transaction

        @contextlib.contextmanager
        def timed() -> Iterator[object]:
            started = time.perf_counter()
            with opened() as txn:
                yield txn
            in_ledger[0] += time.perf_counter() - started

        ledger.transaction = timed  # type: ignore[method-assign]
        checked = check_bundle(document, base_dir=Path(tmp))
        options = RunOptions(parallel=parallel, handle_signals=False)
        started = time.perf_counter()
        run_id = create_run(ledger, checked, options, workdir=Path(tmp))
        created = time.perf_counter()
        in_ledger[0] = 0.0
        result = execute_run(ledger, run_id, options)
        finished = time.perf_counter()
        ledger.close()
        if not result.ok:
            raise SystemExit(f"benchmark run failed: {result.reason}")
        return created - started, finished - created, in_ledger[0]


def bare_subprocess(count: int, parallel: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        for completed in pool.map(lambda _: subprocess.run(["true"], check=False), range(count)):
            completed.check_returncode()
    return time.perf_counter() - started


def bare_sandboxed(count: int, parallel: int, home: Path) -> float:
    isolation = detect()
    argv, env = isolation.wrap(["true"], str(home), dict(os.environ), Confinement(home=home))
    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        for completed in pool.map(
            lambda _: subprocess.run(argv, env=env, check=False), range(count)
        ):
            completed.check_returncode()
    return time.perf_counter() - started


def best(repeat: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per measurement")
    parser.add_argument("--parallel", type=int, default=os.cpu_count() or 1, help="workers")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (best is kept)")
    args = parser.parse_args()
    n, p = args.tasks, args.parallel

    version = sys.version.split()[0]
    print(f"UET kernel benchmark: {n} tasks, {p} workers, best of {args.repeat}, Python {version}")

    noop = bundle([{"task_id": f"t{i}", "call": "builtins:dict"} for i in range(n)])
    measured = [through_ledger(noop, p) for _ in range(args.repeat)]
    create_s = min(m[0] for m in measured)
    run_s = min(m[1] for m in measured)
    ledger_s = min(measured, key=lambda m: m[1])[2]
    median_s = statistics.median(m[1] for m in measured)
    print("\nno-op call tasks through the full ledger")
    print(f"  create run (insert {n} tasks):  {create_s / n * 1e6:8.1f} µs/task")
    per_task, median = run_s / n * 1e6, median_s / n * 1e6
    print(f"  execute, wall:                 {per_task:8.1f} µs/task  (median {median:.1f})")
    print(f"    of which in ledger writes:   {ledger_s / n * 1e6:8.1f} µs/task")
    print(f"  throughput:                    {n / run_s:8.0f} tasks/s")
    print("  reference: target < 500 µs/task; DBOS on SQLite ~2 ms/step; Prefect 3 ~5 ms/task")

    commands = bundle([{"task_id": f"c{i}", "run": ["true"]} for i in range(n)])
    uet = best(args.repeat, lambda: through_ledger(commands, p)[1])
    bare = best(args.repeat, lambda: bare_subprocess(n, p))
    print(f"\ncommand tasks (`true`) with {p} workers")
    print(f"  bare subprocess.run:  {bare / n * 1e6:8.1f} µs/task  ({n / bare:6.0f}/s)")
    print(f"  uet run:              {uet / n * 1e6:8.1f} µs/task  ({n / uet:6.0f}/s)")
    print(f"  ratio uet / bare:     {uet / bare:8.2f}x   (target <= 1.15x)")
    isolation = detect()
    print(f"  isolation: {isolation.level}")
    if isolation.sandboxed:
        with tempfile.TemporaryDirectory(prefix="uet-bench-home-") as home:
            boxed = best(args.repeat, lambda: bare_sandboxed(n, p, Path(home)))
        print(f"  bare bwrap (same sandbox): {boxed / n * 1e6:8.1f} µs/task  ({n / boxed:6.0f}/s)")
        print(f"  ratio uet / bare bwrap:    {uet / boxed:8.2f}x")


if __name__ == "__main__":
    main()
