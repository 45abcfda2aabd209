"""Running one gate in a checkout and judging the result.

The command runs like any tool (argv only, own process group, stdin closed, timeout, capped
log with stderr merged into stdout). A pytest command gets ``--junitxml`` pointing into the
log folder, so its totals and failures are read without the gate declaring anything. Then:

| state   | when                                                                    |
|---------|-------------------------------------------------------------------------|
| passed  | exit code 0                                                             |
| failed  | any other exit code (pytest's 5, "no tests collected", included)        |
| error   | the command could not run, was killed, timed out, or pytest itself broke |
| skipped | a non-blocking gate whose ``requires`` are not on PATH                  |

and the decision: ``pass`` when passed, ``block`` when a blocking gate did not pass, ``warn``
when a non-blocking one did not. A blocking gate whose tools are missing is an error, never
silently skipped.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import clock
from core.engine.execution.command import ProcessTable, run_command
from core.engine.execution.sandbox import Confinement, Isolation
from core.engine.gates.definition import GateDefinition
from core.engine.gates.parsing import (
    Failure,
    Locator,
    coverage_from_text,
    diagnostics_from_text,
    is_pytest,
    pytest_collected_nothing,
    read_junit,
    strip_ansi,
)
from core.engine.gates.probe import ProbeCommand, run_probe
from core.secrets import Redactor
from core.state import GateResultRow

FEEDBACK_CHARS = 4000
_TAIL_LINES = 30
_READ_BACK_BYTES = 2 * 1024 * 1024  # parse at most the last 2 MiB of a log
_PYTEST_BROKE = (2, 3, 4)  # interrupted, internal error, usage error
_PROBE_TIMEOUT = 60.0
_PROBE_CAP = 64 * 1024


@dataclass
class GateRun:
    """One finished run of one gate (not yet in the ledger: see :meth:`row`)."""

    gate: str
    type: str | None
    command: list[str]
    cwd: str
    state: str
    blocking: bool
    exit_code: int | None = None
    duration_seconds: float | None = None
    summary: str = ""  # one line: what happened
    totals: dict[str, int] | None = None
    failures: list[Failure] = field(default_factory=list)
    coverage: dict[str, Any] | None = None
    log_path: str | None = None
    junit_xml: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    output_tail: str = ""
    tree: str | None = None  # the git tree judged, when the gate ran in a copy
    scope: str | None = None  # "attempt", "combination" or "land"

    @property
    def decision(self) -> str:
        if self.state == "passed":
            return "pass"
        return "block" if self.blocking else "warn"

    @property
    def feedback(self) -> str | None:
        """What the next attempt should know: the summary, located failures, the output's
        last lines; at most FEEDBACK_CHARS characters. None when the gate passed."""
        if self.state == "passed":
            return None
        lines = [f"gate {self.gate!r} {self.state}: {self.summary}"]
        for failure in self.failures[:20]:
            where = f"{failure.where}: " if failure.file else ""
            name = f"{failure.name}: " if failure.name else ""
            lines.append(f"- {where}{name}{failure.message}")
        if self.output_tail:
            lines += ["", "last lines of output:", self.output_tail]
        text = "\n".join(lines)
        return text if len(text) <= FEEDBACK_CHARS else text[: FEEDBACK_CHARS - 1] + "…"

    def row(
        self,
        *,
        gate_result_id: str,
        run_id: str | None,
        task_id: str | None,
        attempt_id: str | None,
        patch_id: str | None,
    ) -> GateResultRow:
        return {
            "gate_result_id": gate_result_id,
            "gate": self.gate,
            "type": self.type,
            "run_id": run_id,
            "task_id": task_id,
            "attempt_id": attempt_id,
            "patch_id": patch_id,
            "command": self.command,
            "cwd": self.cwd,
            "state": self.state,
            "blocking": self.blocking,
            "decision": self.decision,
            "exit_code": self.exit_code,
            "duration_seconds": self.duration_seconds,
            "totals": self.totals,
            "failures": [failure.document() for failure in self.failures] or None,
            "coverage": self.coverage,
            "feedback": self.feedback,
            "log_path": self.log_path,
            "junit_xml": self.junit_xml,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "tree_sha": self.tree,
            "scope": self.scope,
        }


def run_gate(
    definition: GateDefinition,
    *,
    checkout: Path,
    log_dir: Path,
    env: Mapping[str, str],
    processes: ProcessTable,
    key: str,
    cap: int,
    kill_grace: float = 3.0,
    isolation: Isolation | None = None,
    confinement: Confinement | None = None,
) -> GateRun:
    """Run ``definition`` in ``checkout`` (an attempt's copy, confined to it, or the user's
    tree for `uet gate run`)."""
    cwd = (checkout / definition.cwd).resolve() if definition.cwd else checkout
    argv = list(definition.run)
    junit_path: Path | None = None
    if definition.junit_xml:
        junit_path = checkout / definition.junit_xml
    elif is_pytest(argv) and not any(arg.startswith("--junit") for arg in argv):
        # A confined gate writes its report in its private HOME (the log folder is not
        # writable in the sandbox); it reaches the log folder redacted, in _keep.
        reports = confinement.home / ".uet-reports" if confinement and confinement.home else None
        junit_path = (reports or log_dir) / f"{definition.name}.junit.xml"
        argv.append(f"--junitxml={junit_path}")
    run = GateRun(
        gate=definition.name,
        type=definition.type,
        command=argv,
        cwd=str(cwd),
        state="running",
        blocking=definition.blocking,
        started_at=clock.now(),
    )
    full_env = {**env, **definition.env}
    search = full_env.get("PATH")
    missing = [tool for tool in definition.requires if shutil.which(tool, path=search) is None]
    if missing:
        run.state = "error" if definition.blocking else "skipped"
        run.summary = f"requires {', '.join(missing)}, not found on PATH"
        run.finished_at = run.started_at
        run.duration_seconds = 0.0
        return run
    log_dir.mkdir(parents=True, exist_ok=True)
    if confinement is not None:  # in an attempt's copy: is it the copy's code it would test?
        started = time.monotonic()

        def execute(command: ProbeCommand, probe_env: Mapping[str, str]) -> str | None:
            path = log_dir / f"{definition.name}.probe.log"
            outcome = run_command(
                command.argv,
                cwd=str(command.cwd),
                env=probe_env,
                timeout=_PROBE_TIMEOUT,
                stdout_path=path,
                stderr_path=None,
                cap=_PROBE_CAP,
                processes=processes,
                key=f"{key}:probe",
                kill_grace=kill_grace,
                isolation=isolation,
                confinement=confinement,
            )
            return _read_back(path) if outcome.succeeded else None

        problem = run_probe(argv, cwd, checkout, full_env, execute)
        if problem is not None:
            run.state, run.summary = "error", problem
            run.finished_at = clock.now()
            run.duration_seconds = round(time.monotonic() - started, 6)
            return run
    if junit_path is not None and junit_path.is_file():
        junit_path.unlink()  # a stale report must not pass for this run's
    log_file = log_dir / f"{definition.name}.log"
    redact = Redactor(full_env)
    started = time.monotonic()
    outcome = run_command(
        argv,
        cwd=str(cwd),
        env=full_env,
        timeout=definition.timeout_seconds,
        stdout_path=log_file,
        stderr_path=None,
        cap=cap,
        processes=processes,
        key=key,
        kill_grace=kill_grace,
        isolation=isolation,
        confinement=confinement,
        redact=redact,
    )
    run.duration_seconds = round(time.monotonic() - started, 6)
    run.finished_at = clock.now()
    run.exit_code = outcome.exit_code
    if junit_path is not None:  # written by the gate itself: redacted before it is read
        redact.file(junit_path)
    run.log_path = outcome.stdout.path if outcome.stdout else None
    text = strip_ansi(_read_back(log_file)) if outcome.stdout else ""
    run.output_tail = "\n".join(text.rstrip().splitlines()[-_TAIL_LINES:])
    locator = Locator(checkout, cwd)
    report = read_junit(junit_path, locator) if junit_path is not None else None
    if report is not None:
        run.totals, run.failures = report.totals, report.failures
        run.junit_xml = _keep(junit_path, log_dir, definition.name) if junit_path else None
    elif outcome.state != "succeeded":
        run.failures = diagnostics_from_text(text, locator)
    run.coverage = coverage_from_text(text)
    run.state, run.summary = _judge(argv, outcome.state, outcome.exit_code, outcome.error, run)
    return run


def _judge(
    argv: list[str], outcome_state: str, exit_code: int | None, error: str | None, run: GateRun
) -> tuple[str, str]:
    command = " ".join(argv[:4]) + (" ..." if len(argv) > 4 else "")
    if outcome_state == "timed_out":
        return "error", f"`{command}` {error or 'timed out'}"
    if exit_code is None:
        return "error", error or f"`{command}` could not run"
    if exit_code < 0:
        return "error", f"`{command}` {error or 'was killed'}"
    counts = ""
    if run.totals:
        shown = [f"{run.totals[k]} {k}" for k in ("failed", "errors", "passed") if run.totals[k]]
        counts = f" ({', '.join(shown)})" if shown else ""
    if exit_code == 0:
        return "passed", f"`{command}` passed{counts}"
    if pytest_collected_nothing(argv, exit_code):
        return "failed", f"`{command}` collected no tests (pytest exit code 5)"
    if is_pytest(argv) and exit_code in _PYTEST_BROKE and not run.failures:
        # Nothing located: pytest itself broke (usage, internal error). A collection error in
        # the code under test (also exit code 2) has located failures and counts as failed.
        return "error", f"`{command}` could not run the tests (pytest exit code {exit_code})"
    return "failed", f"`{command}` exited with code {exit_code}{counts}"


def _read_back(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - _READ_BACK_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _keep(junit_path: Path, log_dir: Path, name: str) -> str:
    """The JUnit report's path in the log folder (copied there when the gate wrote it into
    the checkout or its private HOME, which an attempt's copy does not outlive)."""
    target = log_dir / f"{name}.junit.xml"
    if junit_path.resolve() != target.resolve():
        shutil.copyfile(junit_path, target)
    return str(target)
