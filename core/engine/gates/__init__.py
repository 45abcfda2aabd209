"""Test gates: named checks a patch must pass before it lands, and ``uet gate run`` for CI."""

from core.engine.gates.checks import GateCheck, check_gates
from core.engine.gates.definition import GateDefinition, declared_in, definitions, load_gates
from core.engine.gates.formats import gate_result_document, github_annotations, junit_xml
from core.engine.gates.parsing import Failure
from core.engine.gates.runner import GateRun, run_gate

__all__ = [
    "Failure",
    "GateCheck",
    "GateDefinition",
    "GateRun",
    "check_gates",
    "declared_in",
    "definitions",
    "gate_result_document",
    "github_annotations",
    "junit_xml",
    "load_gates",
    "run_gate",
]
