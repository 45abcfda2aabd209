"""UET: a SQLite-ledgered, JSON-Schema-driven execution kernel for software work.

The public API: load and validate bundles, create/execute/resume/cancel runs, open the ledger,
and watch progress. The CLI (``uet``) is a thin layer over exactly these names.
"""

from importlib.metadata import PackageNotFoundError, version

from core.contracts import SCHEMA_NAMES, load_json, registry, validate
from core.engine.bundle import Bundle, check_bundle, load_bundle
from core.engine.events import EventBus
from core.engine.lifecycle import ATTEMPT, RUN, TASK, Lifecycle
from core.engine.monitoring import Progress, follow_events, measure
from core.engine.options import RunOptions, RunResult
from core.engine.planning import Plan, PlanNode, find_cycle, plan
from core.engine.runs import (
    cancel_run,
    create_run,
    execute_run,
    get_run,
    resolve_run_id,
    resume_run,
    run_bundle,
)
from core.errors import DocumentInvalid, Issue, UetError
from core.state import Ledger, open_ledger

try:
    __version__ = version("uet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = [
    "ATTEMPT",
    "RUN",
    "SCHEMA_NAMES",
    "TASK",
    "Bundle",
    "DocumentInvalid",
    "EventBus",
    "Issue",
    "Ledger",
    "Lifecycle",
    "Plan",
    "PlanNode",
    "Progress",
    "RunOptions",
    "RunResult",
    "UetError",
    "__version__",
    "cancel_run",
    "check_bundle",
    "create_run",
    "execute_run",
    "find_cycle",
    "follow_events",
    "get_run",
    "load_bundle",
    "load_json",
    "measure",
    "open_ledger",
    "plan",
    "registry",
    "resolve_run_id",
    "resume_run",
    "run_bundle",
    "validate",
]
