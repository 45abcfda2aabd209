"""Options and helpers shared by commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from core.state import Ledger, open_ledger

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def parallel_option(function: F) -> F:
    return click.option(
        "-p",
        "--parallel",
        type=click.IntRange(min=1),
        metavar="N",
        help="Worker threads running tasks at once (default: CPU count).",
    )(function)


def ledger_url(ctx: click.Context) -> str | None:
    value = ctx.find_root().obj.get("ledger_url") if ctx.find_root().obj else None
    return value if isinstance(value, str) else None


def writable_ledger(ctx: click.Context) -> Ledger:
    """The ledger, created and migrated if needed (commands that start or change runs)."""
    ledger = open_ledger(ledger_url(ctx), create=True, migrate=True)
    ctx.call_on_close(ledger.close)
    return ledger


def readable_ledger(ctx: click.Context) -> Ledger:
    """An existing, current ledger (query commands never create or upgrade one)."""
    ledger = open_ledger(ledger_url(ctx), create=False, migrate=False)
    ctx.call_on_close(ledger.close)
    return ledger
