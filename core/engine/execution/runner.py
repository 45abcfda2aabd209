"""Executing one attempt's tool or callable, the same way in `uet run` and in `uet worker`.

:class:`AttemptRunner` runs a ``command`` task's argv, a routed tool's command (then reads the
usage it reported) or a ``call``, with logs under ``<logs>/<task>.<n>.{stdout,stderr}.log``,
secrets redacted from them as they are written. A process worker hands the outcome back
through the ledger as a JSON document (:func:`outcome_document`, :func:`outcome_from`).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.engine.execution.call import run_call
from core.engine.execution.command import ProcessTable, run_command
from core.engine.execution.outcome import LogFile, Outcome
from core.engine.execution.sandbox import Confinement, Isolation, detect
from core.engine.patches.copies import worktrees_home
from core.engine.routing.usage import Usage, parse_usage
from core.secrets import Redactor


@dataclass(frozen=True)
class ToolCommand:
    """What one tool attempt runs."""

    tool: str
    argv: list[str]
    env: Mapping[str, str]
    timeout: float | None
    usage_parser: str
    network: bool = False  # the tool needs the network (agent CLIs call their API)
    user_home: bool = False  # in the sandbox, HOME stays the user's (read-only)
    ok_exit_codes: tuple[int, ...] = (0,)  # what counts as success (the task's own wins)


@dataclass(frozen=True)
class AttemptRef:
    run_id: str
    task_id: str
    attempt_id: str
    attempt_no: int


@dataclass
class AttemptRunner:
    processes: ProcessTable
    logs_dir: Path
    environ: Mapping[str, str]
    log_max_bytes: int
    kill_grace: float
    isolation: Isolation = field(default_factory=detect)
    writable: tuple[Path, ...] = ()  # more paths tools may write (a package cache)

    def __post_init__(self) -> None:
        self.redact = Redactor(self.environ)
        self._homes = worktrees_home() / "homes"  # where read tasks' own folders go

    def stem(self, ref: AttemptRef) -> Path:
        return self.logs_dir / f"{ref.task_id}.{ref.attempt_no}"

    def env(
        self, ref: AttemptRef, request: Mapping[str, Any], command: ToolCommand | None
    ) -> dict[str, str]:
        return {
            **self.environ,
            **(command.env if command else {}),
            **request["env"],
            "UET_RUN_ID": ref.run_id,
            "UET_TASK_ID": ref.task_id,
            "UET_ATTEMPT": str(ref.attempt_no),
            "UET_ATTEMPT_ID": ref.attempt_id,
        }

    def call(self, ref: AttemptRef, request: Mapping[str, Any]) -> Outcome:
        stem = self.stem(ref)
        return run_call(
            request["call"],
            request["params"] or {},
            request["python_path"],
            stdout_path=Path(f"{stem}.stdout.log"),
            stderr_path=Path(f"{stem}.stderr.log"),
            cap=self.log_max_bytes,
            redact=self.redact,
        )

    def command(
        self,
        ref: AttemptRef,
        request: Mapping[str, Any],
        command: ToolCommand | None,
        cwd: Path,
        env: Mapping[str, str],
        confinement: Confinement | None = None,
    ) -> Outcome:
        """Run the task's argv (or the routed tool's) in ``cwd``, confined by
        ``confinement`` (a writing attempt's copy) or, by default, read-only but for a private
        HOME and /tmp."""
        home: Path | None = None
        if confinement is None:
            home = self._homes / ref.attempt_id  # made only if used
            confinement = Confinement(
                writable=self.writable,
                readable=(cwd,),
                home=home,
                network=command.network if command else False,
                user_home=command.user_home if command else False,
            )
        stem = self.stem(ref)
        try:
            outcome = run_command(
                command.argv if command else request["argv"],
                cwd=str(cwd),
                env=env,
                timeout=command.timeout if command else request.get("timeout_seconds"),
                stdout_path=Path(f"{stem}.stdout.log"),
                stderr_path=Path(f"{stem}.stderr.log"),
                cap=self.log_max_bytes,
                processes=self.processes,
                key=ref.attempt_id,
                kill_grace=self.kill_grace,
                redact=self.redact,
                isolation=self.isolation,
                confinement=confinement,
                ok_exit_codes=command.ok_exit_codes
                if command
                else tuple(request.get("ok_exit_codes") or (0,)),
            )
        finally:
            if home is not None:
                shutil.rmtree(home, ignore_errors=True)
        return with_usage(outcome, command) if command is not None else outcome

    def run(
        self, ref: AttemptRef, request: Mapping[str, Any], command: ToolCommand | None
    ) -> Outcome:
        """A non-writing attempt, start to finish."""
        if request["action"] == "call":
            return self.call(ref, request)
        env = self.env(ref, request, command)
        return self.command(ref, request, command, Path(request["cwd"]), env)


def with_usage(outcome: Outcome, command: ToolCommand) -> Outcome:
    """The outcome with the usage the tool reported; a tool that reports an error in its
    output fails even if it exited 0."""
    if command.usage_parser == "none" or outcome.stdout is None:
        return outcome
    with open(outcome.stdout.path, encoding="utf-8", errors="replace") as stdout:
        usage = parse_usage(command.usage_parser, stdout.read())
    if usage is None:
        return outcome
    if usage.error and outcome.state in ("succeeded", "failed"):
        error = f"{command.tool} reported an error: {usage.error}"
        if outcome.error:
            error += f" ({outcome.error})"
        return replace(outcome, state="failed", error=error, usage=usage)
    return replace(outcome, usage=usage)


# -- outcomes through the ledger (process workers) -----------------------------------------------


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    def log(file: LogFile | None) -> dict[str, Any] | None:
        return (
            None
            if file is None
            else {"path": file.path, "bytes": file.bytes, "truncated": file.truncated}
        )

    usage: Usage | None = outcome.usage
    return {
        "state": outcome.state,
        "duration_seconds": outcome.duration_seconds,
        "exit_code": outcome.exit_code,
        "error": outcome.error,
        "retryable": outcome.retryable,
        "output": outcome.output,
        "stdout": log(outcome.stdout),
        "stderr": log(outcome.stderr),
        "usage": None if usage is None else {**usage.document(), "error": usage.error},
        "cpu_seconds": outcome.cpu_seconds,
    }


def outcome_from(doc: Mapping[str, Any]) -> Outcome:
    def log(value: Mapping[str, Any] | None) -> LogFile | None:
        return None if value is None else LogFile(value["path"], value["bytes"], value["truncated"])

    usage = doc.get("usage")
    return Outcome(
        state=doc["state"],
        duration_seconds=float(doc["duration_seconds"]),
        exit_code=doc.get("exit_code"),
        error=doc.get("error"),
        retryable=bool(doc.get("retryable", True)),
        output=doc.get("output"),
        stdout=log(doc.get("stdout")),
        stderr=log(doc.get("stderr")),
        usage=None if usage is None else Usage(**usage),
        cpu_seconds=doc.get("cpu_seconds"),
    )
