"""The ``uet`` group: global options, logging, and turning library errors into exit codes.

Exit codes: 0 ok; 1 a run failed, or something was not found; 2 invalid input (bundles,
configs, options); 130 interrupted (the run is paused and resumable).
"""

from __future__ import annotations

import logging
from typing import Any

import click

from core import __version__
from core.errors import EXIT_FAILED, UetError

EXIT_INTERRUPTED = 130


class UetGroup(click.Group):
    """Maps UetError to its exit code with a one-line message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UetError as exc:
            click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\nstopped; the run can be continued with `uet resume`", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(
    cls=UetGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--ledger",
    "ledger_url",
    envvar="UET_LEDGER",
    metavar="URL",
    help="Ledger to use: sqlite:///path.db (relative), sqlite:////abs/path.db, or a file path. "
    "Default: .ledger/framework.db at the project root. Env: UET_LEDGER.",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.version_option(__version__, prog_name="uet")
@click.pass_context
def cli(ctx: click.Context, ledger_url: str | None, verbose: int) -> None:
    """UET runs workstream bundles (JSON) as DAGs of tasks, recording every run, attempt and
    event in a ledger you can query, resume and audit. Tasks that change code work in
    their own git worktree; their changes land as patches, after policy checks and test
    gates, on the branch uet/<run>, never in your checkout.

    \b
    Start here:
      uet validate workstreams/examples/fanout.json
      uet plan workstreams/examples/fanout.json
      uet run workstreams/examples/fanout.json
      uet status
      uet events

    \b
    Patch-first:
      uet run --repo PATH workstreams/examples/codemods.json
      uet patches
      uet land
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"ledger_url": ledger_url}


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "cli"]
