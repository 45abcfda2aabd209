"""Reading what gate commands report: JUnit XML, coverage totals, ``file:line:`` diagnostics.

- **JUnit XML** (pytest, and most test runners of other languages): totals per suite and each
  failing or erroring test with a location. pytest's default XML has no file/line attributes,
  so the location is read from the traceback text: the deepest ``path:line:`` frame inside the
  checkout, which is where the failure happened (or, for a collection error, the import line).
- **Coverage**: the ``TOTAL`` line that coverage.py and pytest-cov print.
- **Diagnostics**: ``path:line[:col]: message`` lines, as mypy, flake8, pylint, tsc, eslint's
  unix formatter and ruff's concise format print them, and ruff's (and rustc's) full format,
  where ``--> path:line:col`` follows the message; only paths that exist in the checkout
  count, so timestamps and URLs are not mistaken for locations.

The XML comes from a command that may have been written by the tool under test; the standard
library parser resolves no external entities and expat refuses entity expansion bombs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

MAX_FAILURES = 50
_MESSAGE_CHARS = 500

_FRAME = re.compile(r"^(?P<file>[^\s:][^:\n]*?):(?P<line>\d+): ", re.MULTILINE)
_EXCEPTION_LINE = re.compile(r"^E\s+(?P<text>\S.*)$", re.MULTILINE)
_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\s:][^:\n]*?\.[A-Za-z0-9_]+):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<msg>\S.*)$"
)
# ruff's and rustc's full format: a header line, then "  --> path:line:col" under it.
_ARROW = re.compile(r"^\s*-->\s+(?P<file>[^\s:][^:\n]*?):(?P<line>\d+)(?::\d+)?\s*$")
_COVERAGE_TOTAL = re.compile(
    r"^TOTAL\s+(?P<stmts>\d+)\s+(?P<miss>\d+)(?:\s+\d+\s+\d+)?\s+(?P<pct>\d+(?:\.\d+)?)%",
    re.MULTILINE,
)
_PYTEST_NO_TESTS = 5
# Colour codes (CSI sequences) some tools print even into a pipe.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Folders of installed code: a frame or a diagnostic there is not the project's.
_THIRD_PARTY = frozenset({".venv", "venv", "site-packages", "node_modules", ".tox", ".nox"})


@dataclass(frozen=True, slots=True)
class Failure:
    """One failing test or diagnostic; ``file`` is relative to the checkout root when known."""

    message: str
    name: str | None = None
    file: str | None = None
    line: int | None = None

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "line": self.line, "message": self.message}

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class JUnitReport:
    totals: dict[str, int]
    failures: list[Failure]


class Locator:
    """Turns paths printed by a command (run in ``cwd``) into paths relative to ``root``."""

    def __init__(self, root: Path, cwd: Path) -> None:
        self.root = root.resolve()
        self.cwd = cwd.resolve()

    def relative(self, printed: str) -> str | None:
        path = Path(printed)
        candidate = path if path.is_absolute() else self.cwd / path
        try:
            resolved = candidate.resolve()
            relative = resolved.relative_to(self.root)
        except (OSError, ValueError):
            return None
        if not resolved.is_file() or _THIRD_PARTY.intersection(relative.parts):
            return None
        return PurePosixPath(relative).as_posix()


def read_junit(path: Path, locator: Locator) -> JUnitReport | None:
    """Totals and failures from the JUnit XML file at ``path``; None if absent or unreadable."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - see the module docstring
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    totals = {"tests": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[Failure] = []
    for suite in suites:
        totals["tests"] += _int(suite.get("tests"))
        totals["failed"] += _int(suite.get("failures"))
        totals["errors"] += _int(suite.get("errors"))
        totals["skipped"] += _int(suite.get("skipped"))
        for case in suite.iter("testcase"):
            for problem in (*case.findall("failure"), *case.findall("error")):
                if len(failures) < MAX_FAILURES:
                    failures.append(_case_failure(case, problem, locator))
    totals["passed"] = max(
        0, totals["tests"] - totals["failed"] - totals["errors"] - totals["skipped"]
    )
    return JUnitReport(totals, failures)


def _case_failure(case: ET.Element, problem: ET.Element, locator: Locator) -> Failure:
    classname, name = case.get("classname") or "", case.get("name") or ""
    title = f"{classname}::{name}" if classname and name else (name or classname or None)
    text = problem.text or ""
    file, line = None, None
    for match in _FRAME.finditer(text):
        relative = locator.relative(match["file"])
        if relative is not None:  # the deepest frame inside the checkout
            file, line = relative, _line(match["line"])
    if file is None and case.get("file"):
        file = locator.relative(case.get("file") or "")
        line = _int(case.get("line")) + 1 if case.get("line") and file else None  # 0-based
    exception = _EXCEPTION_LINE.findall(text)
    message = (exception[0] if exception else "") or problem.get("message") or ""
    if not message.strip():
        message = text.strip().splitlines()[-1] if text.strip() else problem.tag
    return Failure(_clip(message), title, file, line)


def coverage_from_text(text: str) -> dict[str, Any] | None:
    """The last ``TOTAL`` line of a coverage.py report, as gate_result.v1 ``coverage``."""
    matches = list(_COVERAGE_TOTAL.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    statements, missed = int(last["stmts"]), int(last["miss"])
    return {
        "percent": min(100.0, float(last["pct"])),
        "lines_covered": max(0, statements - missed),
        "lines_total": statements,
    }


def diagnostics_from_text(text: str, locator: Locator) -> list[Failure]:
    """``path:line[:col]: message`` lines, and ``--> path:line:col`` under a header line,
    whose path is a file of the checkout."""
    found: list[Failure] = []
    seen: set[tuple[str, int, str]] = set()
    header = ""
    for raw in strip_ansi(text).splitlines():
        match = _DIAGNOSTIC.match(raw)
        arrow = None if match else _ARROW.match(raw)
        if match is None and arrow is None:
            if raw.strip() and not raw[:1].isspace():
                header = raw.strip()
            continue
        hit = match or arrow
        assert hit is not None  # noqa: S101 - one of the two matched
        message = match["msg"] if match else header
        relative = locator.relative(hit["file"])
        if relative is None or not message:
            continue
        key = (relative, int(hit["line"]), message)
        if key in seen:
            continue
        seen.add(key)
        found.append(Failure(_clip(message), None, relative, _line(hit["line"])))
        if len(found) >= MAX_FAILURES:
            break
    return found


def is_pytest(argv: tuple[str, ...] | list[str]) -> bool:
    """Whether ``argv`` runs pytest (``pytest ...`` or ``python -m pytest ...``)."""
    if not argv:
        return False
    program = PurePosixPath(argv[0]).name
    if program in ("pytest", "py.test"):
        return True
    return program.startswith("python") and list(argv[1:3]) == ["-m", "pytest"]


def pytest_collected_nothing(argv: tuple[str, ...] | list[str], exit_code: int | None) -> bool:
    return exit_code == _PYTEST_NO_TESTS and is_pytest(argv)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _line(text: str) -> int | None:
    """A printed line number; 0 (eslint's "whole file") is no line."""
    number = int(text)
    return number if number >= 1 else None


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"
