"""The gates package: running one gate and judging it, reading what gate commands report
(pytest's JUnit XML, coverage totals, ``path:line:`` diagnostics), the gate_result.v1 rows,
JUnit and GitHub annotation output, recording in the ledger, and loading gate definitions.

Gate commands are real subprocesses: small Python programs run with this interpreter, and
the real pytest run on tiny projects written into tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from core.contracts import issues
from core.engine.execution.command import ProcessTable
from core.engine.gates import (
    Failure,
    GateDefinition,
    GateRun,
    check_gates,
    gate_result_document,
    github_annotations,
    junit_xml,
    load_gates,
    run_gate,
)
from core.engine.gates.parsing import (
    MAX_FAILURES,
    Locator,
    coverage_from_text,
    diagnostics_from_text,
    read_junit,
)
from core.engine.gates.runner import FEEDBACK_CHARS
from core.errors import DocumentInvalid
from core.ids import new_id
from core.state import GateResultRow, Ledger

PY = sys.executable
PYTEST = (PY, "-m", "pytest", "-q", "-p", "no:cacheprovider")
REPO = Path(__file__).resolve().parents[2]
MISSING_TOOL = "uet-test-no-such-tool-7f3a"


# -- helpers -----------------------------------------------------------------------------------


def py(code: str, *args: str) -> tuple[str, ...]:
    """argv running ``code`` with this interpreter."""
    return (PY, "-c", textwrap.dedent(code), *args)


def gate(name: str, run: tuple[str, ...], **fields: Any) -> GateDefinition:
    return GateDefinition(name=name, run=run, **fields)


def run(
    definition: GateDefinition, checkout: Path, env: Mapping[str, str] | None = None
) -> GateRun:
    """Run ``definition`` in ``checkout``, logging next to it (outside the checkout)."""
    return run_gate(
        definition,
        checkout=checkout,
        log_dir=checkout.parent / "gate-logs",
        env=dict(os.environ) if env is None else env,
        processes=ProcessTable(),
        key=f"test:{definition.name}",
        cap=1_000_000,
        kill_grace=1.0,
    )


def as_row(finished: GateRun) -> GateResultRow:
    return finished.row(
        gate_result_id=new_id(), run_id=None, task_id=None, attempt_id=None, patch_id=None
    )


def write(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the first line of ``path`` containing ``needle``."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


pytestmark = pytest.mark.usefixtures("plain_subprocesses")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with a few files that diagnostics can point at."""
    return write(
        tmp_path / "repo",
        {
            "x.py": "import os\nimport sys\n\n\nVALUE = 1\n",
            "src/app.py": "def handler():\n    raise ValueError('bad')\n",
        },
    )


CALC = """
    def add(a, b):
        return a + b


    def ratio(a, b):
        if b == 0:
            raise ZeroDivisionError("ratio of nothing")
        return a / b
"""

CALC_TESTS = """
    import pytest

    from mypkg.calc import add, ratio


    def test_add():
        assert add(1, 2) == 3


    def test_add_wrong():
        assert add(2, 2) == 5


    def test_ratio_of_zero():
        assert ratio(1, 0) == 0


    @pytest.mark.skip(reason="not today")
    def test_later():
        pass
"""


# -- run_gate: states and decisions ------------------------------------------------------------


def test_exit_0_passes(repo: Path) -> None:
    finished = run(gate("ok", py("print('all good')"), type="custom"), repo)
    assert finished.state == "passed"
    assert finished.decision == "pass"
    assert finished.exit_code == 0
    assert finished.failures == []
    assert finished.feedback is None
    assert finished.summary.endswith("passed")
    assert finished.duration_seconds is not None
    assert finished.duration_seconds >= 0
    assert finished.started_at is not None
    assert finished.finished_at is not None
    assert finished.started_at <= finished.finished_at
    assert finished.cwd == str(repo)
    assert finished.log_path is not None
    assert "all good" in Path(finished.log_path).read_text()
    assert finished.output_tail == "all good"


def test_failing_blocking_gate_blocks_with_located_failures(repo: Path) -> None:
    command = py("import sys; print('x.py:3: boom'); sys.exit(1)")
    finished = run(gate("lint", command), repo)
    assert finished.state == "failed"
    assert finished.decision == "block"
    assert finished.exit_code == 1
    assert "exited with code 1" in finished.summary
    assert finished.failures == [Failure("boom", None, "x.py", 3)]
    assert finished.totals is None


def test_failing_non_blocking_gate_warns(repo: Path) -> None:
    finished = run(gate("style", py("raise SystemExit(1)"), blocking=False), repo)
    assert finished.state == "failed"
    assert finished.decision == "warn"
    assert finished.blocking is False


def test_stderr_is_merged_into_the_log(repo: Path) -> None:
    command = py("import sys; print('x.py:2: from stderr', file=sys.stderr); sys.exit(1)")
    finished = run(gate("lint", command), repo)
    assert finished.failures == [Failure("from stderr", None, "x.py", 2)]
    assert "from stderr" in finished.output_tail


def test_command_not_found_is_an_error(repo: Path) -> None:
    finished = run(gate("missing", (MISSING_TOOL, "--check")), repo)
    assert finished.state == "error"
    assert finished.decision == "block"
    assert finished.exit_code is None
    assert f"command not found: {MISSING_TOOL}" in finished.summary
    assert finished.feedback is not None
    assert "'missing' error" in finished.feedback


def test_missing_working_directory_is_an_error(repo: Path) -> None:
    finished = run(gate("nowhere", py("pass"), cwd="no/such/dir"), repo)
    assert finished.state == "error"
    assert "working directory does not exist" in finished.summary


def test_timeout_is_an_error(repo: Path) -> None:
    command = py("import time; print('started', flush=True); time.sleep(30)")
    finished = run(gate("slow", command, timeout_seconds=0.5, blocking=False), repo)
    assert finished.state == "error"
    assert finished.decision == "warn"
    assert "timed out after 0.5s" in finished.summary
    assert "started" in finished.output_tail


@pytest.mark.parametrize(
    ("blocking", "state", "decision"),
    [(True, "error", "block"), (False, "skipped", "warn")],
)
def test_missing_requirements(repo: Path, blocking: bool, state: str, decision: str) -> None:
    marker = repo / "ran.txt"
    command = py("import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('x')", str(marker))
    finished = run(gate("tools", command, requires=(MISSING_TOOL,), blocking=blocking), repo)
    assert finished.state == state
    assert finished.decision == decision
    assert MISSING_TOOL in finished.summary
    assert "not found on PATH" in finished.summary
    assert finished.exit_code is None
    assert finished.duration_seconds == 0.0
    assert not marker.exists(), "a gate whose tools are missing must not run"


def test_requirements_are_looked_up_on_the_gates_path(repo: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    tool = tools / "uet-test-tool"
    tool.write_text(f"#!{PY}\nprint('tool ran')\n")
    tool.chmod(0o755)
    path = f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"
    definition = gate("tools", ("uet-test-tool",), requires=("uet-test-tool",), env={"PATH": path})
    finished = run(definition, repo)
    assert finished.state == "passed"
    assert finished.output_tail == "tool ran"
    without = run(gate("tools", ("uet-test-tool",), requires=("uet-test-tool",)), repo)
    assert without.state == "error"


def test_pytest_exit_5_no_tests_collected_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    finished = run(gate("unit", PYTEST), empty)
    assert finished.exit_code == 5
    assert finished.state == "failed"
    assert finished.decision == "block"
    assert "collected no tests" in finished.summary
    assert finished.totals is not None
    assert finished.totals["tests"] == 0


def test_definition_cwd_is_honoured(repo: Path) -> None:
    write(repo, {"sub/mod.py": "a = 1\nb = 2\n"})
    command = py("import os, sys; print(os.getcwd()); print('mod.py:2: bad b'); sys.exit(1)")
    finished = run(gate("sub", command, cwd="sub"), repo)
    assert finished.cwd == str((repo / "sub").resolve())
    assert str((repo / "sub").resolve()) in finished.output_tail.splitlines()[0]
    # Printed relative to the gate's cwd, reported relative to the checkout root.
    assert finished.failures == [Failure("bad b", None, "sub/mod.py", 2)]


def test_definition_env_reaches_the_command(repo: Path) -> None:
    command = py(
        """
        import os, sys
        print(os.environ.get("UET_PROBE"), os.environ.get("UET_INHERITED"))
        sys.exit(0 if os.environ.get("UET_PROBE") == "from-gate" else 1)
        """
    )
    env = {**os.environ, "UET_PROBE": "inherited", "UET_INHERITED": "yes"}
    finished = run(gate("env", command, env={"UET_PROBE": "from-gate"}), repo, env=env)
    assert finished.state == "passed"
    assert finished.output_tail == "from-gate yes"


# -- pytest gates: JUnit XML -------------------------------------------------------------------


def test_pytest_failures_are_counted_and_located(tmp_path: Path) -> None:
    project = write(
        tmp_path / "proj",
        {"mypkg/__init__.py": "", "mypkg/calc.py": CALC, "tests/test_calc.py": CALC_TESTS},
    )
    finished = run(gate("unit", PYTEST, type="unit"), project)
    assert finished.state == "failed"
    assert finished.decision == "block"
    assert finished.exit_code == 1
    assert finished.totals == {"tests": 4, "passed": 1, "failed": 2, "errors": 0, "skipped": 1}
    assert "(2 failed, 1 passed)" in finished.summary
    by_test = {
        failure.name.rsplit("::", 1)[-1]: failure for failure in finished.failures if failure.name
    }
    assert set(by_test) == {"test_add_wrong", "test_ratio_of_zero"}
    wrong = by_test["test_add_wrong"]
    assert (wrong.file, wrong.line) == (
        "tests/test_calc.py",
        line_of(project / "tests/test_calc.py", "assert add(2, 2) == 5"),
    )
    assert "assert 4 == 5" in wrong.message
    # Raised inside the package: the deepest frame inside the checkout is the raise.
    zero = by_test["test_ratio_of_zero"]
    assert (zero.file, zero.line) == (
        "mypkg/calc.py",
        line_of(project / "mypkg/calc.py", "raise ZeroDivisionError"),
    )
    assert zero.message == "ZeroDivisionError: ratio of nothing"
    # --junitxml was added, pointing into the log folder, and the report is kept there.
    assert any(arg.startswith("--junitxml=") for arg in finished.command)
    assert finished.junit_xml is not None
    report = Path(finished.junit_xml)
    assert report.is_file()
    assert report.parent == tmp_path / "gate-logs"
    assert not (project / "unit.junit.xml").exists()
    feedback = finished.feedback
    assert feedback is not None
    assert f"tests/test_calc.py:{wrong.line}" in feedback
    assert "mypkg/calc.py" in feedback


def test_pytest_collection_error_is_located(tmp_path: Path) -> None:
    project = write(
        tmp_path / "proj",
        {
            "tests/test_ok.py": "def test_ok():\n    pass\n",
            "tests/test_broken.py": "import os\n\nimport uet_no_such_module_4c2\n",
        },
    )
    finished = run(gate("unit", PYTEST), project)
    assert finished.state == "failed", "the code under test is broken, not pytest"
    assert finished.decision == "block"
    assert finished.totals is not None
    assert finished.totals["errors"] == 1
    [failure] = finished.failures
    assert failure.file == "tests/test_broken.py"
    assert failure.line == 3
    assert "uet_no_such_module_4c2" in failure.message


JUNIT_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="custom" tests="3" failures="1" errors="1" skipped="0">
    <testcase classname="suite" name="test_ok"/>
    <testcase classname="suite" name="test_handler">
      <failure message="bad">src/app.py:2: in handler
E   ValueError: bad</failure>
    </testcase>
    <testcase classname="suite" name="test_attrs" file="src/app.py" line="0">
      <error message="exploded">no frames in this text</error>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_declared_junit_xml_is_read_and_kept(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "report.xml"
    source.write_text(JUNIT_REPORT)
    stale = repo / "reports" / "junit.xml"
    write(repo, {"reports/junit.xml": '<testsuite tests="99" failures="99"/>'})
    command = py(
        "import shutil, sys; shutil.copy(sys.argv[1], 'reports/junit.xml'); sys.exit(1)",
        str(source),
    )
    finished = run(gate("custom", command, junit_xml="reports/junit.xml"), repo)
    assert finished.command == list(command), "no --junitxml for a command that is not pytest"
    assert finished.totals == {"tests": 3, "passed": 1, "failed": 1, "errors": 1, "skipped": 0}
    assert finished.failures == [
        Failure("ValueError: bad", "suite::test_handler", "src/app.py", 2),
        Failure("exploded", "suite::test_attrs", "src/app.py", 1),  # line attribute 0-based
    ]
    assert finished.junit_xml == str(tmp_path / "gate-logs" / "custom.junit.xml")
    assert Path(finished.junit_xml).read_text() == stale.read_text() == JUNIT_REPORT


def test_a_stale_declared_report_is_not_used(repo: Path) -> None:
    stale = repo / "reports" / "junit.xml"
    write(repo, {"reports/junit.xml": '<testsuite tests="99" failures="99"/>'})
    command = py("import sys; print('x.py:5: wrote no report'); sys.exit(1)")
    finished = run(gate("custom", command, junit_xml="reports/junit.xml"), repo)
    assert not stale.exists()
    assert finished.totals is None
    assert finished.junit_xml is None
    assert finished.failures == [Failure("wrote no report", None, "x.py", 5)]


# -- coverage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Name      Stmts   Miss  Cover\n---------------------------\n"
            "pkg/a.py     10      2    80%\n---------------------------\n"
            "TOTAL        10      2    80%\n",
            {"percent": 80.0, "lines_covered": 8, "lines_total": 10},
        ),
        (
            "Name      Stmts   Miss Branch BrPart   Cover   Missing\n"
            "TOTAL        120     30     40      6  72.50%\n",
            {"percent": 72.5, "lines_covered": 90, "lines_total": 120},
        ),
        (
            "TOTAL 10 5 50%\nmore output\nTOTAL     200      0   100%\n",
            {"percent": 100.0, "lines_covered": 200, "lines_total": 200},
        ),
        ("3 passed in 0.12s\n", None),
        ("TOTAL cost: 12 dollars\n", None),
        ("", None),
    ],
    ids=["plain", "branch", "last-total-wins", "no-total", "prose", "empty"],
)
def test_coverage_from_text(text: str, expected: dict[str, Any] | None) -> None:
    assert coverage_from_text(text) == expected


def test_a_gate_reports_the_coverage_it_prints(repo: Path) -> None:
    finished = run(gate("cov", py("print('TOTAL   50   5   90%')")), repo)
    assert finished.state == "passed"
    assert finished.coverage == {"percent": 90.0, "lines_covered": 45, "lines_total": 50}


# -- diagnostics -------------------------------------------------------------------------------


def test_concise_diagnostics(repo: Path) -> None:
    text = (
        "x.py:1:8: F401 [*] `os` imported but unused\n"
        "src/app.py:2: error: Name 'bad' is not defined  [name-defined]\n"
        "Found 2 errors.\n"
    )
    assert diagnostics_from_text(text, Locator(repo, repo)) == [
        Failure("F401 [*] `os` imported but unused", None, "x.py", 1),
        Failure("error: Name 'bad' is not defined [name-defined]", None, "src/app.py", 2),
    ]


RUFF_FULL = """\
F401 [*] `os` imported but unused
 --> x.py:1:8
  |
1 | import os
  |        ^^
2 | import sys
  |
help: Remove unused import: `os`

F401 [*] `sys` imported but unused
 --> x.py:2:8
  |
1 | import os
2 | import sys
  |        ^^^
  |
help: Remove unused import: `sys`

Found 2 errors.
"""


def test_ruff_full_format_diagnostics(repo: Path) -> None:
    assert diagnostics_from_text(RUFF_FULL, Locator(repo, repo)) == [
        Failure("F401 [*] `os` imported but unused", None, "x.py", 1),
        Failure("F401 [*] `sys` imported but unused", None, "x.py", 2),
    ]


def test_only_files_of_the_checkout_count(repo: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere", {"other.py": "x = 1\n"}) / "other.py"
    text = "\n".join(
        [
            f"{outside}:1:1: E1 outside the checkout",
            "../elsewhere/other.py:1: escapes upwards",
            "missing.py:3:1: E2 no such file",
            "2024-05-01 12:00:01: server started",
            "see https://example.com/x.py:80: docs",
            f"{repo / 'x.py'}:5:1: E3 absolute inside",
        ]
    )
    assert diagnostics_from_text(text, Locator(repo, repo)) == [
        Failure("E3 absolute inside", None, "x.py", 5)
    ]


def test_diagnostics_are_deduplicated(repo: Path) -> None:
    text = "x.py:1:1: E1 first\nx.py:1:1: E1 first\nx.py:1:2: E1 first\nx.py:1:1: E2 other\n"
    assert diagnostics_from_text(text, Locator(repo, repo)) == [
        Failure("E1 first", None, "x.py", 1),
        Failure("E2 other", None, "x.py", 1),
    ]


def test_diagnostics_are_capped(repo: Path) -> None:
    text = "\n".join(f"x.py:{n}:1: E{n} problem" for n in range(1, MAX_FAILURES + 20))
    found = diagnostics_from_text(text, Locator(repo, repo))
    assert len(found) == MAX_FAILURES
    assert found[-1] == Failure(f"E{MAX_FAILURES} problem", None, "x.py", MAX_FAILURES)


# -- read_junit on hostile or broken input -----------------------------------------------------


def test_read_junit_on_malformed_or_missing_files(tmp_path: Path) -> None:
    locator = Locator(tmp_path, tmp_path)
    broken = tmp_path / "broken.xml"
    broken.write_text('<testsuite tests="1"><testcase name="a">')
    assert read_junit(broken, locator) is None
    assert read_junit(tmp_path / "absent.xml", locator) is None
    empty = tmp_path / "empty.xml"
    empty.write_text("")
    assert read_junit(empty, locator) is None


def test_read_junit_survives_an_entity_expansion_bomb(tmp_path: Path) -> None:
    # Seven levels of ten: 10**7 copies of "lol" (30 MB) if it were expanded, which expat
    # refuses (amplification limit); small enough not to hurt if a parser expanded it anyway.
    levels = ['<!ENTITY lol0 "lol">']
    levels += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 8)]
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE testsuite [\n  '
        + "\n  ".join(levels)
        + '\n]>\n<testsuite tests="1" failures="1">'
        + '<testcase name="boom"><failure message="x">&lol7;</failure></testcase>'
        + "</testsuite>\n"
    )
    assert bomb.stat().st_size < 2000
    report = read_junit(bomb, Locator(tmp_path, tmp_path))
    if report is not None:  # a parser that expands it must still clip what it keeps
        assert all(len(failure.message) <= 500 for failure in report.failures)


# -- GateRun.feedback --------------------------------------------------------------------------


def finished_run(state: str, **fields: Any) -> GateRun:
    return GateRun(
        gate="unit",
        type="unit",
        command=[PY, "-m", "pytest"],
        cwd="/checkout",
        state=state,
        blocking=True,
        **fields,
    )


def test_feedback_is_none_when_passed() -> None:
    assert finished_run("passed", output_tail="lots of output").feedback is None


def test_feedback_names_the_gate_failures_and_output() -> None:
    failures = [
        Failure("assert 4 == 5", "tests.test_calc::test_add_wrong", "tests/test_calc.py", 11),
        Failure("no location"),
    ]
    feedback = finished_run(
        "failed",
        summary="`pytest` exited with code 1",
        failures=failures,
        output_tail="FAILED tests/test_calc.py::test_add_wrong\n1 failed in 0.1s",
    ).feedback
    assert feedback is not None
    lines = feedback.splitlines()
    assert lines[0] == "gate 'unit' failed: `pytest` exited with code 1"
    assert lines[1] == "- tests/test_calc.py:11: tests.test_calc::test_add_wrong: assert 4 == 5"
    assert lines[2] == "- no location"
    assert lines[-2:] == ["FAILED tests/test_calc.py::test_add_wrong", "1 failed in 0.1s"]


def test_feedback_is_capped() -> None:
    failures = [Failure("assertion failed", f"test_{n}", "x.py", n + 1) for n in range(40)]
    feedback = finished_run(
        "failed", summary="many", failures=failures, output_tail="t" * 5000
    ).feedback
    assert feedback is not None
    assert len(feedback) == FEEDBACK_CHARS
    assert feedback.endswith("…")
    assert "test_19" in feedback
    assert "test_20:" not in feedback, "at most 20 failures are listed"


# -- rows, documents and the schema ------------------------------------------------------------


def test_rows_validate_against_the_schema(repo: Path) -> None:
    runs = [
        run(gate("ok", py("print('TOTAL 10 1 90%')"), type="unit"), repo),
        run(gate("lint", py("print('x.py:2:1: E1 bad'); raise SystemExit(1)"), type="lint"), repo),
        run(gate("tools", py("pass"), requires=(MISSING_TOOL,), blocking=False), repo),
        run(gate("gone", (MISSING_TOOL,)), repo),
    ]
    for finished in runs:
        document = gate_result_document(as_row(finished))
        assert issues(document, "gate_result.v1") == [], finished.gate
        assert document["schema_version"] == "gate_result.v1"
        assert document["gate"] == finished.gate
        assert None not in document.values(), "empty fields are left out"
    lint = gate_result_document(as_row(runs[1]))
    assert lint["failures"] == [{"name": None, "file": "x.py", "line": 2, "message": "E1 bad"}]
    assert lint["decision"] == "block"


def test_a_line_0_diagnostic_still_gives_a_valid_document(repo: Path) -> None:
    command = py(
        "print('x.py:0:0: File ignored because of a matching ignore pattern'); raise SystemExit(1)"
    )
    document = gate_result_document(as_row(run(gate("eslint", command), repo)))
    assert issues(document, "gate_result.v1") == []
    assert document["failures"][0]["file"] == "x.py"
    assert document["failures"][0]["line"] is None


def test_coloured_diagnostics_are_located_and_the_colour_dropped(repo: Path) -> None:
    command = py(
        r"print('\x1b[1mx.py\x1b[0m:2:1: \x1b[31mF401\x1b[0m unused'); raise SystemExit(1)"
    )
    finished = run(gate("lint", command), repo)
    assert [(f.file, f.line, f.message) for f in finished.failures] == [("x.py", 2, "F401 unused")]
    assert "\x1b" not in (finished.feedback or "")


def test_frames_in_installed_packages_inside_the_checkout_are_not_locations(
    tmp_path: Path,
) -> None:
    checkout = write(
        tmp_path / "proj",
        {"app.py": "x = 1\n", ".venv/lib/site-packages/dep.py": "y = 2\n"},
    )
    text = "app.py:1: in main\n.venv/lib/site-packages/dep.py:1: ValueError\n"
    junit = checkout / "report.xml"
    junit.write_text(
        '<testsuite tests="1" failures="1"><testcase classname="t" name="t">'
        f"<failure message='bad'>{text}</failure></testcase></testsuite>"
    )
    report = read_junit(junit, Locator(checkout, checkout))
    assert report is not None
    assert (report.failures[0].file, report.failures[0].line) == ("app.py", 1)


# -- check_gates: recording in the ledger ------------------------------------------------------


def test_check_gates_records_every_result_and_event(ledger: Ledger, repo: Path) -> None:
    gates = [
        gate("ok", py("print('fine')")),
        gate("style", py("print('x.py:2:1: E501 long'); raise SystemExit(1)"), blocking=False),
        gate("unit", py("raise SystemExit(3)")),
        gate("docs", py("pass"), requires=(MISSING_TOOL,), blocking=False),
    ]
    seen: list[str] = []
    check = check_gates(
        ledger,
        gates,
        root=repo,
        on_start=lambda definition: seen.append(f"start {definition.name}"),
        on_result=lambda row: seen.append(f"done {row['gate']}"),
    )
    assert seen == [f"{step} {g.name}" for g in gates for step in ("start", "done")]
    assert [(r["gate"], r["state"], r["decision"]) for r in check.results] == [
        ("ok", "passed", "pass"),
        ("style", "failed", "warn"),
        ("unit", "failed", "block"),
        ("docs", "skipped", "warn"),
    ]
    assert not check.ok
    assert [r["gate"] for r in check.blocked] == ["unit"]
    stored = ledger.list_gate_results(standalone=True)
    assert [r["gate_result_id"] for r in stored] == [r["gate_result_id"] for r in check.results]
    assert all(r["run_id"] is None for r in stored)
    assert stored[1]["failures"] == [
        {"name": None, "file": "x.py", "line": 2, "message": "E501 long"}
    ]
    assert stored[2]["exit_code"] == 3
    for row in stored:
        assert issues(gate_result_document(row), "gate_result.v1") == [], row["gate"]
    events = [e for e in ledger.list_events() if e["kind"].startswith("gate.")]
    assert [e["kind"] for e in events] == [
        "gate.passed",
        "gate.failed",
        "gate.failed",
        "gate.skipped",
    ]
    assert [e["subject_id"] for e in events] == [r["gate_result_id"] for r in check.results]
    assert all(e["run_id"] is None for e in events)
    assert events[2]["payload"] == {"gate": "unit", "decision": "block", "exit_code": 3}
    logs = ledger.artifacts_dir / "logs" / "gates"
    log_path = stored[0]["log_path"]
    assert log_path is not None
    assert Path(log_path).is_relative_to(logs)
    assert Path(log_path).read_text().strip() == "fine"


def test_check_gates_is_ok_when_only_non_blocking_gates_fail(ledger: Ledger, repo: Path) -> None:
    gates = [gate("ok", py("pass")), gate("style", py("raise SystemExit(1)"), blocking=False)]
    check = check_gates(ledger, gates, root=repo)
    assert check.ok
    assert check.blocked == []
    assert len(ledger.list_gate_results(standalone=True)) == 2


# -- JUnit XML and GitHub annotations ----------------------------------------------------------


def test_junit_xml_has_one_case_per_gate(repo: Path) -> None:
    rows = [
        as_row(run(gate("ok", py("pass")), repo)),
        as_row(run(gate("lint", py("print('x.py:1:1: E1 bad'); raise SystemExit(1)")), repo)),
        as_row(run(gate("gone", (MISSING_TOOL,)), repo)),
        as_row(run(gate("docs", py("pass"), requires=(MISSING_TOOL,), blocking=False), repo)),
    ]
    root = ET.fromstring(junit_xml(rows))  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped")} == {
        "name": "uet gates",
        "tests": "4",
        "failures": "1",
        "errors": "1",
        "skipped": "1",
    }
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["ok", "lint", "gone", "docs"]
    assert [child.tag for child in cases["ok"]] == []
    failure = cases["lint"].find("failure")
    assert failure is not None
    assert failure.get("message") == (rows[1]["feedback"] or "").splitlines()[0]
    assert "x.py:1: E1 bad" in (failure.text or "")
    system_out = cases["lint"].find("system-out")
    assert system_out is not None
    assert system_out.text == f"log: {rows[1]['log_path']}"
    assert cases["gone"].find("error") is not None
    assert cases["docs"].find("skipped") is not None
    assert all(float(case.get("time") or "-1") >= 0 for case in cases.values())


def test_junit_xml_stays_well_formed_with_coloured_output(repo: Path) -> None:
    command = py(r"print('\x1b[31mFAILED\x1b[0m tests/test_x.py::test_y'); raise SystemExit(1)")
    data = junit_xml([as_row(run(gate("unit", command), repo))])
    root = ET.fromstring(data)  # noqa: S314 - our own output
    assert root.find("testsuite/testcase/failure") is not None


ANNOTATION = re.compile(r"^::(?P<level>error|warning) (?P<props>[^:]*)::(?P<message>.*)$")


def parse_annotation(line: str) -> tuple[str, dict[str, str], str]:
    match = ANNOTATION.match(line)
    assert match is not None, line
    props = dict(item.split("=", 1) for item in match["props"].split(","))
    return match["level"], props, match["message"]


def test_github_annotations(repo: Path) -> None:
    located = py(
        "print('x.py:2:1: E1 first'); print('src/app.py:1: E2 second'); raise SystemExit(1)"
    )
    rows = [
        as_row(run(gate("ok", py("pass")), repo)),
        as_row(run(gate("lint", located), repo)),
        as_row(
            run(
                gate("style", py("print('x.py:5: E3 style'); raise SystemExit(1)"), blocking=False),
                repo,
            )
        ),
        as_row(run(gate("crash", py("print('nothing to locate'); raise SystemExit(2)")), repo)),
    ]
    lines = [parse_annotation(line) for line in github_annotations(rows)]
    assert lines == [
        ("error", {"file": "x.py", "line": "2", "title": "gate lint failed"}, "E1 first"),
        ("error", {"file": "src/app.py", "line": "1", "title": "gate lint failed"}, "E2 second"),
        ("warning", {"file": "x.py", "line": "5", "title": "gate style failed"}, "E3 style"),
        ("error", {"title": "gate crash failed"}, (rows[3]["feedback"] or "").splitlines()[0]),
    ]
    assert "exited with code 2" in lines[-1][2]


def test_github_annotations_escape_data_and_properties() -> None:
    failure = Failure("100% broken\r\nsecond line", "tests::test_a", "odd,dir/a:b.py", 4)
    row = as_row(finished_run("failed", summary="x", failures=[failure]))
    [line] = github_annotations([row])
    level, props, message = parse_annotation(line)
    assert level == "error"
    assert props == {"file": "odd%2Cdir/a%3Ab.py", "line": "4", "title": "gate unit failed"}
    assert message == "tests::test_a: 100%25 broken%0D%0Asecond line"
    unlocated = as_row(finished_run("error", summary="50% done\nthen died"))
    [summary] = github_annotations([unlocated])
    assert "\n" not in summary
    assert summary.endswith("::gate 'unit' error: 50%25 done")


# -- load_gates --------------------------------------------------------------------------------


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_load_a_plain_gates_file(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "gates.json",
        {
            "gates": {
                "unit": {
                    "run": ["python", "-m", "pytest"],
                    "type": "unit",
                    "timeout_seconds": 60,
                    "env": {"PYTHONHASHSEED": "0"},
                    "cwd": "backend",
                    "junit_xml": "reports/unit.xml",
                    "requires": ["python"],
                },
                "lint": {"run": ["ruff", "check", "."], "blocking": False},
            }
        },
    )
    gates = load_gates(path)
    assert list(gates) == ["unit", "lint"]
    unit = gates["unit"]
    assert unit == GateDefinition(
        name="unit",
        run=("python", "-m", "pytest"),
        type="unit",
        timeout_seconds=60.0,
        env={"PYTHONHASHSEED": "0"},
        cwd="backend",
        junit_xml="reports/unit.xml",
        requires=("python",),
    )
    assert gates["lint"].blocking is False
    assert gates["lint"].document() == {"run": ["ruff", "check", "."], "blocking": False}
    for definition in gates.values():
        assert GateDefinition.from_document(definition.name, definition.document()) == definition


def test_load_the_gates_of_a_bundle(write_bundle: Callable[..., Path]) -> None:
    path = write_bundle(
        [{"task_id": "a", "run": ["true"]}],
        gates={"unit": {"run": ["pytest"]}, "types": {"run": ["mypy", "."], "blocking": False}},
    )
    gates = load_gates(path)
    assert list(gates) == ["unit", "types"]
    assert gates["types"].run == ("mypy", ".")


def test_a_list_bundle_keeps_the_first_definition_of_a_name(
    write_bundle: Callable[..., Path],
) -> None:
    def workstream(name: str, gates: dict[str, Any]) -> dict[str, Any]:
        return {
            "schema_version": "workstream_spec.v1",
            "workstream_id": name,
            "tasks": [{"task_id": f"{name}-task", "run": ["true"]}],
            "gates": gates,
        }

    path = write_bundle(
        [
            workstream("one", {"unit": {"run": ["first"]}}),
            workstream("two", {"unit": {"run": ["second"]}, "lint": {"run": ["ruff"]}}),
        ]
    )
    gates = load_gates(path)
    assert {name: d.run for name, d in gates.items()} == {"unit": ("first",), "lint": ("ruff",)}


def test_load_the_gates_of_a_project_profile(tmp_path: Path) -> None:
    example = REPO / "tests" / "contracts" / "examples" / "project_profile.v1.valid.json"
    profile = json.loads(example.read_text())
    gates = load_gates(write_json(tmp_path / "profile.json", profile))
    assert list(gates) == list(profile["gates"])


@pytest.mark.parametrize(
    ("gates", "path", "message"),
    [
        ({"unit": {"run": "pytest"}}, "$.gates.unit.run", "not of type 'array'"),
        ({"unit": {"run": []}}, "$.gates.unit.run", "non-empty"),
        ({"unit": {"blocking": True}}, "$.gates.unit", "missing required property 'run'"),
        ({"unit": {"run": ["x"], "retries": 2}}, "$.gates.unit.retries", "unknown property"),
        ({"unit": {"run": ["x"], "timeout_seconds": 0}}, "$.gates.unit.timeout_seconds", "0"),
        ({"unit": {"run": ["x"], "env": {"A": 1}}}, "$.gates.unit.env.A", "not of type"),
        ({"bad name!": {"run": ["x"]}}, "$.gates", "bad name!"),
        ({}, "$.gates", "non-empty"),
    ],
    ids=[
        "run-string",
        "run-empty",
        "no-run",
        "unknown-key",
        "timeout-0",
        "env-int",
        "name",
        "empty",
    ],
)
def test_invalid_gate_files_name_the_json_path(
    tmp_path: Path, gates: dict[str, Any], path: str, message: str
) -> None:
    source = write_json(tmp_path / "gates.json", {"gates": gates})
    with pytest.raises(DocumentInvalid) as caught:
        load_gates(source)
    assert caught.value.source == str(source)
    assert caught.value.issues[0].path == path
    assert message in caught.value.issues[0].message


def test_an_invalid_gate_in_a_bundle_names_the_json_path(
    write_bundle: Callable[..., Path],
) -> None:
    path = write_bundle(
        [{"task_id": "a", "run": ["true"]}], gates={"unit": {"run": ["x"], "blocking": "no"}}
    )
    with pytest.raises(DocumentInvalid) as caught:
        load_gates(path)
    assert [issue.path for issue in caught.value.issues] == ["$.gates.unit.blocking"]


def test_a_bundle_without_gates_declares_none(write_bundle: Callable[..., Path]) -> None:
    with pytest.raises(DocumentInvalid, match="declares no gates"):
        load_gates(write_bundle([{"task_id": "a", "run": ["true"]}]))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON at line 1"),
        ("[1, 2]", "not of type 'object'"),
        ('{"other": {}}', "missing required property 'gates'"),
    ],
    ids=["not-json", "a-list", "no-gates-key"],
)
def test_files_that_are_not_gate_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "gates.json"
    path.write_text(content)
    with pytest.raises(DocumentInvalid) as caught:
        load_gates(path)
    assert message in caught.value.issues[0].message


def test_a_missing_gates_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentInvalid, match="file not found"):
        load_gates(tmp_path / "nope.json")
