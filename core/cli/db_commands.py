"""`uet db`: the ledger's migrations."""

from __future__ import annotations

import click

from core.cli.common import json_option, ledger_url
from core.cli.output import echo_json
from core.errors import EXIT_FAILED
from core.state import open_ledger


@click.group()
def db() -> None:
    """Manage the ledger database (migrations).

    \b
    Examples:
      uet db migrate
      uet --ledger sqlite:////srv/uet/ledger.db db check
    """


@db.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Create the ledger if needed and apply pending migrations.

    Migrations are numbered and append-only; each is applied in one transaction with its
    bookkeeping row. Safe to run while other uet processes use the ledger.

    \b
    Example:
      uet db migrate
    """
    ledger = open_ledger(ledger_url(ctx), create=True, migrate=False, verify=False)
    ctx.call_on_close(ledger.close)
    applied = ledger.migrate()
    if applied:
        click.echo(f"{ledger.location}: applied {', '.join(applied)}")
    else:
        click.echo(f"{ledger.location}: up to date")


@db.command()
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Verify the ledger is at this uet's migration level and no applied migration changed.

    Exit code 1 when migrations are pending, unknown (a newer uet migrated it) or tampered.

    \b
    Example:
      uet db check --json
    """
    ledger = open_ledger(ledger_url(ctx), create=False, migrate=False, verify=False)
    ctx.call_on_close(ledger.close)
    status = ledger.migration_status()
    if as_json:
        echo_json(
            {
                "ledger": status.location,
                "current": status.current,
                "applied": list(status.applied),
                "pending": list(status.pending),
                "tampered": list(status.tampered),
                "unknown": list(status.unknown),
            }
        )
    else:
        applied = len(status.applied)
        click.echo(f"ledger {status.location}: {applied} migration(s) applied of {status.known}")
        for label in status.pending:
            click.echo(f"  pending: {label} (run `uet db migrate`)")
        for label in status.tampered:
            click.echo(f"  changed since applied: {label}")
        for version in status.unknown:
            click.echo(f"  unknown: {version:04d} (applied by a newer uet)")
        if status.current:
            click.echo(click.style("ok", fg="green"))
    if not status.current:
        raise SystemExit(EXIT_FAILED)


COMMANDS = [db]
