"""The ``uet`` command line: thin click commands over the library API."""

from core.cli import (
    db_commands,
    doctor_commands,
    gate_commands,
    init_commands,
    patch_commands,
    query_commands,
    routing_commands,
    run_commands,
)
from core.cli.app import cli

for _module in (
    run_commands,
    query_commands,
    patch_commands,
    gate_commands,
    routing_commands,
    db_commands,
    init_commands,
    doctor_commands,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="uet")


__all__ = ["cli", "main"]
