"""Options and helpers shared by commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from core.engine.routing.config import RouterConfig, find_router, load_router
from core.errors import UetError
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


@contextmanager
def existing_ledger(url: str | None) -> Iterator[Ledger | None]:
    """The ledger at ``url`` if there is a usable one, else None (for commands that only
    enrich their answer with history: `uet plan`, `uet tools`)."""
    try:
        ledger = open_ledger(url, create=False, migrate=False)
    except UetError:
        yield None
        return
    try:
        yield ledger
    finally:
        ledger.close()


def readable_ledger(ctx: click.Context) -> Ledger:
    """An existing, current ledger (query commands never create or upgrade one)."""
    ledger = open_ledger(ledger_url(ctx), create=False, migrate=False)
    ctx.call_on_close(ledger.close)
    return ledger


def router_option(function: F) -> F:
    return click.option(
        "--router",
        "router_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Router config (router_config.v1) for tool tasks "
        "(default: .uet/router_config.json of the project, if there is one).",
    )(function)


def load_router_for(path: Path | None, start: Path | None = None) -> RouterConfig | None:
    """The router config given, or the project's own; None when there is neither."""
    if path is None:
        path = find_router((start or Path.cwd()).resolve())
    return load_router(path) if path is not None else None


def budget_options(function: F, subject: str = "the run") -> F:
    for name, kind, what in reversed(_BUDGETS):
        function = click.option(
            f"--budget-{name}", type=kind, metavar="N", help=f"Budget of {subject}: {what}."
        )(function)
    return function


def task_budget_options(function: F) -> F:
    return budget_options(function, "the task")


_BUDGETS = (
    ("usd", click.FloatRange(min=0), "most US dollars its tools may spend"),
    ("tokens", click.IntRange(min=0), "most tokens its tools may use"),
    ("wall-seconds", click.FloatRange(min=0, min_open=True), "most seconds of tool time"),
)


def budget_limits(
    usd: float | None, tokens: int | None, wall_seconds: float | None
) -> dict[str, float]:
    given = {"max_usd": usd, "max_tokens": tokens, "max_wall_seconds": wall_seconds}
    return {key: value for key, value in given.items() if value is not None}
