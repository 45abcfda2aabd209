"""`uet gate run`: exit codes, gate selection, where the gates come from, the text, JSON,
GitHub and JUnit outputs, and what is recorded in the ledger.

The CLI runs in-process (the `invoke` fixture, in tmp_path); the gate commands are real
subprocesses: small Python programs run with this interpreter, and the real pytest.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from core.contracts import issues
from core.state import Ledger

PY = sys.executable
Invoke = Callable[..., Result]


pytestmark = pytest.mark.usefixtures("plain_subprocesses")


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


OK = {"run": py("print('fine')"), "type": "custom"}
FAIL_LOCATED = {"run": py("print('x.py:3: boom'); raise SystemExit(1)"), "type": "lint"}
FAIL_SOFT = {"run": py("print('x.py:1: style nit'); raise SystemExit(1)"), "blocking": False}


def write_gates(path: Path, gates: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"gates": gates}, indent=2), encoding="utf-8")
    return path


def checkout(root: Path) -> Path:
    """A tree with a file the located failures point at."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "x.py").write_text("a = 1\nb = 2\nc = 3\n", encoding="utf-8")
    return root


def gate_names(ledger: Ledger) -> list[str]:
    return [row["gate"] for row in ledger.list_gate_results(standalone=True)]


def test_exit_0_when_the_blocking_gates_pass(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    checkout(tmp_path)
    gates = write_gates(tmp_path / "gates.json", {"ok": OK, "style": FAIL_SOFT})
    result = invoke("gate", "run", "--gates-file", str(gates))
    assert result.exit_code == 0, result.output
    assert "▶ ok: " in result.stderr
    assert "2 gate(s): all blocking gates passed" in result.stdout
    assert "(non-blocking)" in result.stdout
    assert "x.py:1: style nit" in result.stdout
    rows = ledger.list_gate_results(standalone=True)
    assert [(r["gate"], r["state"], r["decision"]) for r in rows] == [
        ("ok", "passed", "pass"),
        ("style", "failed", "warn"),
    ]


def test_exit_1_when_a_blocking_gate_fails(invoke: Invoke, tmp_path: Path, ledger: Ledger) -> None:
    checkout(tmp_path)
    gates = write_gates(tmp_path / "gates.json", {"ok": OK, "lint": FAIL_LOCATED})
    result = invoke("gate", "run", "--gates-file", str(gates))
    assert result.exit_code == 1, result.output
    assert "x.py:3: boom" in result.stdout
    assert "exited with code 1" in result.stdout
    assert "log: " in result.stdout
    assert "2 gate(s): 1 blocking gate(s) did not pass" in result.stdout
    assert gate_names(ledger) == ["ok", "lint"]
    assert [e["kind"] for e in ledger.list_events() if e["kind"].startswith("gate.")] == [
        "gate.passed",
        "gate.failed",
    ]


def test_gate_option_runs_only_the_named_gates(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    checkout(tmp_path)
    gates = write_gates(
        tmp_path / "gates.json", {"ok": OK, "lint": FAIL_LOCATED, "style": FAIL_SOFT}
    )
    result = invoke("gate", "run", "--gates-file", str(gates), "--gate", "ok")
    assert result.exit_code == 0, result.output
    assert gate_names(ledger) == ["ok"]
    result = invoke(
        "gate", "run", "--gates-file", str(gates), "--gate", "style", "--gate", "ok", "--gate", "ok"
    )
    assert result.exit_code == 0, result.output
    assert gate_names(ledger) == ["ok", "style", "ok"], "given order, each gate once"


def test_an_unknown_gate_is_exit_2_and_lists_the_declared_ones(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    gates = write_gates(tmp_path / "gates.json", {"ok": OK, "lint": FAIL_LOCATED})
    result = invoke("gate", "run", "--gates-file", str(gates), "--gate", "nope")
    assert result.exit_code == 2
    assert "unknown gate 'nope' (declared: ok, lint)" in result.output
    assert gate_names(ledger) == []


def test_a_missing_or_invalid_gates_file_is_exit_2_and_records_nothing(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    missing = invoke("gate", "run", "--gates-file", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2
    assert "file not found" in missing.output
    invalid = write_gates(tmp_path / "gates.json", {"ok": OK, "unit": {"run": "pytest -q"}})
    result = invoke("gate", "run", "--gates-file", str(invalid))
    assert result.exit_code == 2
    assert "$.gates.unit.run" in result.output
    assert "fine" not in result.output, "no gate runs when one definition is invalid"
    unknown_key = write_gates(tmp_path / "gates.json", {"unit": {"run": ["x"], "retry": 1}})
    result = invoke("gate", "run", "--gates-file", str(unknown_key))
    assert result.exit_code == 2
    assert "$.gates.unit.retry" in result.output
    assert gate_names(ledger) == []


def test_without_a_gates_file_it_says_to_pass_one(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / ".uet").mkdir()
    result = invoke("gate", "run")
    assert result.exit_code == 2
    assert "pass --gates-file" in result.output
    assert str(tmp_path.resolve() / ".uet" / "gates.json") in result.output


def test_the_project_gates_file_is_the_default(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    checkout(tmp_path)
    write_gates(tmp_path / ".uet" / "gates.json", {"lint": FAIL_LOCATED})
    result = invoke("gate", "run")
    assert result.exit_code == 1, result.output
    assert "x.py:3: boom" in result.stdout
    assert gate_names(ledger) == ["lint"]


def test_the_project_profile_is_the_fallback(
    invoke: Invoke, tmp_path: Path, ledger: Ledger
) -> None:
    profile = {
        "schema_version": "project_profile.v1",
        "project_name": "demo",
        "profile_id": "software-dev-python",
        "domain": "software-dev",
        "gates": {"ok": OK},
    }
    (tmp_path / ".uet").mkdir()
    (tmp_path / ".uet" / "project_profile.json").write_text(json.dumps(profile))
    result = invoke("gate", "run")
    assert result.exit_code == 0, result.output
    assert gate_names(ledger) == ["ok"]


def test_json_output_is_a_list_of_gate_results(invoke: Invoke, tmp_path: Path) -> None:
    checkout(tmp_path)
    gates = write_gates(tmp_path / "gates.json", {"ok": OK, "lint": FAIL_LOCATED})
    for flags in (("--format", "json"), ("--json",)):
        result = invoke("gate", "run", "--gates-file", str(gates), *flags)
        assert result.exit_code == 1, result.output
        documents = json.loads(result.stdout)
        assert [issues(doc, "gate_result.v1") for doc in documents] == [[], []]
        assert [(d["gate"], d["state"], d["decision"]) for d in documents] == [
            ("ok", "passed", "pass"),
            ("lint", "failed", "block"),
        ]
        assert documents[1]["failures"] == [
            {"name": None, "file": "x.py", "line": 3, "message": "boom"}
        ]
        assert "run_id" not in documents[0], "outside any run"
        assert "▶" not in result.output, "no progress lines in JSON mode"


CALC = """
    def add(a, b):
        return a + b
"""

CALC_TESTS = """
    from mypkg.calc import add


    def test_add():
        assert add(1, 2) == 3


    def test_add_wrong():
        assert add(2, 2) == 5
"""


def test_github_format_annotates_failing_tests(invoke: Invoke, tmp_path: Path) -> None:
    for relative, text in {
        "mypkg/__init__.py": "",
        "mypkg/calc.py": CALC,
        "tests/test_calc.py": CALC_TESTS,
    }.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    test_lines = (tmp_path / "tests/test_calc.py").read_text().splitlines()
    assert_line = 1 + next(n for n, text in enumerate(test_lines) if "add(2, 2) == 5" in text)
    unit = {"run": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], "type": "unit"}
    gates = write_gates(tmp_path / "ci" / "gates.json", {"ok": OK, "unit": unit})
    result = invoke("gate", "run", "--gates-file", str(gates), "--format", "github")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("::error file=tests/test_calc.py,")
    assert f",line={assert_line}" in lines[0]
    assert "title=gate unit failed" in lines[0]
    assert lines[0].endswith("test_add_wrong: assert 4 == 5")


def test_junit_xml_has_one_case_per_gate(invoke: Invoke, tmp_path: Path) -> None:
    checkout(tmp_path)
    gates = write_gates(
        tmp_path / "gates.json", {"ok": OK, "lint": FAIL_LOCATED, "style": FAIL_SOFT}
    )
    result = invoke("gate", "run", "--gates-file", str(gates), "--junit-xml", "reports/gates.xml")
    assert result.exit_code == 1, result.output
    report = tmp_path / "reports" / "gates.xml"
    root = ET.parse(report).getroot()  # noqa: S314 - written by the command under test
    [suite] = root.iter("testsuite")
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "2"
    assert suite.get("errors") == "0"
    assert [case.get("name") for case in suite.iter("testcase")] == ["ok", "lint", "style"]
    failing = [
        case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None
    ]
    assert failing == ["lint", "style"]


def test_dir_runs_the_gates_in_that_tree(invoke: Invoke, tmp_path: Path, ledger: Ledger) -> None:
    other = checkout(tmp_path / "other")
    where = {"run": py("import os; print('cwd=' + os.getcwd())")}
    write_gates(other / ".uet" / "gates.json", {"where": where, "lint": FAIL_LOCATED})
    result = invoke("gate", "run", "--dir", "other", "--json")
    assert result.exit_code == 1, result.output
    documents = json.loads(result.stdout)
    assert [d["cwd"] for d in documents] == [str(other.resolve())] * 2
    assert documents[1]["failures"][0]["file"] == "x.py"
    log = Path(documents[0]["log_path"]).read_text()
    assert log.strip() == f"cwd={other.resolve()}"
    assert os.path.samefile(Path.cwd(), tmp_path), "uet ran from tmp_path, not from --dir"
    assert gate_names(ledger) == ["where", "lint"]
