"""UET: a SQLite-ledgered, JSON-Schema-driven execution kernel for software work.

The public API: load and validate bundles, create/execute/resume/cancel runs, act on patches
(rollback, requeue, drop) and land a run, run gates outside runs, open the ledger, and watch
progress. The CLI (``uet``) is a thin layer over exactly these names.
"""

from importlib.metadata import PackageNotFoundError, version

from core.contracts import SCHEMA_NAMES, load_json, registry, validate
from core.engine.bundle import Bundle, check_bundle, load_bundle
from core.engine.events import EventBus
from core.engine.gates import GateCheck, GateDefinition, check_gates, load_gates
from core.engine.lifecycle import ATTEMPT, RUN, TASK, Lifecycle
from core.engine.monitoring import Progress, follow_events, measure
from core.engine.options import RunOptions, RunResult
from core.engine.patches.manage import (
    LandResult,
    drop_patch,
    find_patch,
    land_run,
    requeue_patch,
    rollback_patch,
)
from core.engine.planning import Plan, PlanNode, find_cycle, plan
from core.engine.runs import (
    Target,
    cancel_run,
    check_target,
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
    "GateCheck",
    "GateDefinition",
    "Issue",
    "LandResult",
    "Ledger",
    "Lifecycle",
    "Plan",
    "PlanNode",
    "Progress",
    "RunOptions",
    "RunResult",
    "Target",
    "UetError",
    "__version__",
    "cancel_run",
    "check_bundle",
    "check_gates",
    "check_target",
    "create_run",
    "drop_patch",
    "execute_run",
    "find_cycle",
    "find_patch",
    "follow_events",
    "get_run",
    "land_run",
    "load_bundle",
    "load_gates",
    "load_json",
    "measure",
    "open_ledger",
    "plan",
    "registry",
    "requeue_patch",
    "resolve_run_id",
    "resume_run",
    "rollback_patch",
    "run_bundle",
    "validate",
]
