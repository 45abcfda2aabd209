"""Presentation helpers for the CLI: durations, tables, state colours, the progress bar, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from core.engine.monitoring import Progress

STATE_COLORS = {
    "succeeded": "green",
    "passed": "green",
    "running": "cyan",
    "ready": "blue",
    "retrying": "yellow",
    "paused": "yellow",
    "pending": None,
    "failed": "red",
    "timed_out": "red",
    "skipped": "magenta",
    "canceled": "magenta",
    "interrupted": "yellow",
}

STATE_MARKS = {
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "-",
    "canceled": "-",
    "retrying": "↻",
    "running": "▶",
}


def styled_state(state: str) -> str:
    return click.style(state, fg=STATE_COLORS.get(state))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; widths ignore ANSI colour codes."""
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(click.unstyle(cell)))
    lines = []
    for row in [list(headers), *rows]:
        padded = [
            cell + " " * (widths[index] - len(click.unstyle(cell)))
            for index, cell in enumerate(row)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def progress_bar(progress: Progress, width: int = 30) -> str:
    filled = round(width * progress.fraction)
    bar = "█" * filled + "░" * (width - filled)
    text = f"[{bar}] {progress.done}/{progress.total} {100 * progress.fraction:5.1f}%"
    if progress.running:
        text += f"  {progress.running} running"
    if progress.eta_seconds is not None:
        text += f"  ETA {duration(progress.eta_seconds)}"
    elif progress.elapsed_seconds is not None:
        text += f"  {duration(progress.elapsed_seconds)} elapsed"
    return text


def short(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def gate_counts(totals: Mapping[str, int] | None) -> str:
    """A gate's test totals for people: ``10 passed, 3 failed``."""
    totals = totals or {}
    return ", ".join(
        f"{totals[k]} {k}" for k in ("passed", "failed", "errors", "skipped") if totals.get(k)
    )


def located(failure: Mapping[str, Any], separator: str = ": ") -> str:
    """``file:line`` of a gate failure and ``separator``, or nothing when it has no file."""
    if not failure.get("file"):
        return ""
    line = f":{failure['line']}" if failure.get("line") else ""
    return f"{failure['file']}{line}{separator}"


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def echo_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def echo_decision(label: str, decision: dict[str, Any], indent: str = "  ") -> None:
    """A routing decision (routing_decision of execution_request.v1), one line per candidate."""
    chosen = ", ".join(decision["chosen"]) or "none"
    rule = f"rule {decision['rule']}, " if decision.get("rule") else ""
    click.echo(f"{indent}{label}: {rule}{decision['strategy']} -> {chosen} ({decision['reason']})")
    for candidate in decision["candidates"]:
        score = candidate.get("score")
        shown = f" score {score:g}" if isinstance(score, (int, float)) else ""
        mark = "" if candidate.get("eligible", True) else " (skipped)"
        why = f": {candidate['reason']}" if candidate.get("reason") else ""
        click.echo(f"{indent}    {candidate['tool']}{shown}{mark}{why}")
