"""The embedded SQLite backend of the ledger."""

from core.state.sqlite.ledger import SqliteLedger

__all__ = ["SqliteLedger"]
