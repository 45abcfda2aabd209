"""`uet gate run`: the project's gates on the current tree, for CI and for people."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli.common import json_option, readable_ledger, writable_ledger
from core.cli.output import (
    STATE_MARKS,
    duration,
    echo_json,
    gate_counts,
    located,
    short,
    styled_state,
    table,
)
from core.engine.gates import (
    GateDefinition,
    check_gates,
    gate_result_document,
    github_annotations,
    load_gates,
)
from core.engine.gates import junit_xml as junit_report
from core.engine.runs import resolve_run_id
from core.errors import DocumentInvalid, Issue
from core.state import GateResultRow, project_root

DEFAULT_GATE_FILES = (Path(".uet") / "gates.json", Path(".uet") / "project_profile.json")
_MARKS = {**STATE_MARKS, "passed": "✓", "error": "✗"}


@click.group()
def gate() -> None:
    """Run gates (test, lint, type-check commands) outside any run.

    \b
    Example:
      uet gate run --gates-file ci/gates.json --format github
    """


@gate.command("run")
@click.option(
    "--gate",
    "names",
    multiple=True,
    metavar="NAME",
    help="Run only this gate (repeatable). Default: every gate, in the order declared.",
)
@click.option(
    "--gates-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help='JSON file declaring the gates: {"gates": {...}}, a bundle, or a project profile. '
    "Default: .uet/gates.json, else .uet/project_profile.json, at the project root.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Tree to check (default: the project root around the current directory).",
)
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JUnit XML (one test case per gate) for CI test reports.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="github: workflow-command annotations (::error file=...,line=...::) for failures.",
)
@json_option
@click.pass_context
def run_gates(
    ctx: click.Context,
    names: tuple[str, ...],
    gates_file: Path | None,
    directory: Path | None,
    junit_xml: Path | None,
    output_format: str,
    as_json: bool,
) -> None:
    """Run the gates on the tree as it is, record the results in the ledger, and exit 1 if
    a blocking gate did not pass.

    Each gate is an argv list run in the tree (never through a shell). pytest gates get
    --junitxml added, so each failing test is reported with its file and line; commands
    printing `path:line: message` (ruff, mypy, ...) are read the same way.

    \b
    Examples:
      uet gate run --gates-file ci/gates.json
      uet gate run --gate unit --junit-xml reports/gates.xml
      uet gate run --format github        # in a GitHub Actions step
    """
    output_format = "json" if as_json else output_format
    root = (directory or project_root()).resolve()
    selected = _select(_load(gates_file, root), names)
    ledger = writable_ledger(ctx)
    text = output_format == "text"

    def started(definition: GateDefinition) -> None:
        if text:
            command = " ".join(definition.run)
            click.echo(f"{click.style('▶', fg='cyan')} {definition.name}: {command}", err=True)

    def finished(row: GateResultRow) -> None:
        if text:
            click.echo(_result_text(row))

    check = check_gates(ledger, selected, root=root, on_start=started, on_result=finished)
    if junit_xml is not None:
        junit_xml.parent.mkdir(parents=True, exist_ok=True)
        junit_xml.write_bytes(junit_report(check.results))
    if output_format == "json":
        echo_json([gate_result_document(row) for row in check.results])
    elif output_format == "github":
        for line in github_annotations(check.results):
            click.echo(line)
    if text:
        blocked = len(check.blocked)
        verdict = (
            click.style("all blocking gates passed", fg="green")
            if check.ok
            else click.style(f"{blocked} blocking gate(s) did not pass", fg="red")
        )
        click.echo(f"{len(check.results)} gate(s): {verdict}")
    if not check.ok:
        raise SystemExit(1)


def _load(gates_file: Path | None, root: Path) -> dict[str, GateDefinition]:
    if gates_file is not None:
        return load_gates(gates_file)
    for candidate in DEFAULT_GATE_FILES:
        if (root / candidate).is_file():
            return load_gates(root / candidate)
    looked = ", ".join(str(root / c) for c in DEFAULT_GATE_FILES)
    raise DocumentInvalid(
        "uet gate run",
        [Issue("--gates-file", f"no gates to run: pass --gates-file FILE (looked for {looked})")],
    )


def _select(gates: dict[str, GateDefinition], names: tuple[str, ...]) -> list[GateDefinition]:
    if not names:
        return list(gates.values())
    unknown = [name for name in names if name not in gates]
    if unknown:
        known = ", ".join(gates)
        raise DocumentInvalid(
            "uet gate run",
            [Issue("--gate", f"unknown gate {name!r} (declared: {known})") for name in unknown],
        )
    return [gates[name] for name in dict.fromkeys(names)]


def _result_text(row: GateResultRow) -> str:
    mark = click.style(
        _MARKS.get(row["state"], "-"), fg="green" if row["state"] == "passed" else "red"
    )
    blocking = "" if row["blocking"] else " (non-blocking)"
    summary = (row["feedback"] or "").splitlines()[0] if row["feedback"] else ""
    summary = summary.split(": ", 1)[1] if ": " in summary else summary
    counted = gate_counts(row["totals"])
    if counted and row["state"] == "passed":
        summary = counted
    if row["coverage"]:
        summary += f"{'; ' if summary else ''}coverage {row['coverage']['percent']:g}%"
    lines = [
        f"{mark} {row['gate']:<12} {styled_state(row['state'])}{blocking}  "
        f"{duration(row['duration_seconds'])}  {summary}".rstrip()
    ]
    for failure in (row["failures"] or [])[:10]:
        lines.append(f"    {located(failure)}{failure['message'][:100]}")
    extra = len(row["failures"] or []) - 10
    if extra > 0:
        lines.append(f"    ... and {extra} more")
    if row["state"] != "passed" and row["log_path"]:
        lines.append(f"    log: {row['log_path']}")
    return "\n".join(lines)


@gate.command("results")
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option(
    "--standalone", is_flag=True, help="Results of `uet gate run` (outside runs) instead."
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="With --standalone: how many of the latest results.",
)
@json_option
@click.pass_context
def gate_results(
    ctx: click.Context, run_ref: str | None, standalone: bool, limit: int, as_json: bool
) -> None:
    """List recorded gate results: a run's (default: the latest run) or those of `uet gate run`.

    \b
    Examples:
      uet gate results
      uet gate results 01JD3Q --json
      uet gate results --standalone -n 10
    """
    ledger = readable_ledger(ctx)
    if standalone:
        rows = ledger.list_gate_results(standalone=True, limit=limit)
    else:
        # Grouped by attempt (ids are time-ordered), in the order each attempt ran its gates.
        rows = sorted(
            ledger.list_gate_results(resolve_run_id(ledger, run_ref)),
            key=lambda row: (row["attempt_id"] or "", row["started_at"] or ""),
        )
    if as_json:
        echo_json([gate_result_document(row) for row in rows])
        return
    if not rows:
        click.echo("no gate results")
        return
    lines = [
        [
            row["task_id"] or "-",
            row["gate"],
            styled_state(row["state"]),
            row["decision"] or "-",
            duration(row["duration_seconds"]),
            short(_outcome(row), 70),
        ]
        for row in rows
    ]
    click.echo(table(["TASK", "GATE", "STATE", "DECISION", "DURATION", "RESULT"], lines))


def _outcome(row: GateResultRow) -> str:
    text = gate_counts(row["totals"])
    failures = row["failures"] or []
    if failures and row["state"] != "passed":
        first = failures[0]
        text += f"{'; ' if text else ''}{located(first, ' ')}{first['message']}"
    elif not text and row["feedback"]:
        text = row["feedback"].splitlines()[0]
    return text


COMMANDS = [gate]
