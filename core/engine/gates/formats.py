"""Gate results in the forms other programs read: gate_result.v1 documents, JUnit XML for CI
test reports, and GitHub Actions workflow commands (annotations on the changed lines)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from typing import Any

from core.engine.gates.parsing import strip_ansi
from core.state import GateResultRow

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def gate_result_document(row: GateResultRow) -> dict[str, Any]:
    """The row as a gate_result.v1 document (optional fields left out when empty)."""
    document: dict[str, Any] = {"schema_version": "gate_result.v1"}
    for key, value in row.items():
        if value is not None:
            document[key] = value
    return document


def junit_xml(rows: Sequence[GateResultRow], suite: str = "uet gates") -> bytes:
    """One ``<testcase>`` per gate: CI systems then show gates next to their other tests."""
    cases = ET.Element("testsuite", name=suite)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for row in rows:
        seconds = row["duration_seconds"] or 0.0
        total_time += seconds
        counts["tests"] += 1
        case = ET.SubElement(
            cases, "testcase", classname="uet.gates", name=row["gate"], time=f"{seconds:.3f}"
        )
        text = _xml_text(row["feedback"] or "")
        first = text.splitlines()[0] if text else row["state"]
        if row["state"] == "failed":
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=first).text = text
        elif row["state"] == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=first).text = text
        elif row["state"] == "skipped":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=first)
        if row["log_path"]:
            ET.SubElement(case, "system-out").text = f"log: {row['log_path']}"
    for key, value in counts.items():
        cases.set(key, str(value))
    cases.set("time", f"{total_time:.3f}")
    root = ET.Element("testsuites")
    root.append(cases)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _xml_text(text: str) -> str:
    """``text`` without what XML 1.0 cannot carry (colour codes' ESC, other control bytes)."""
    return _NOT_XML.sub("", strip_ansi(text))


def github_annotations(rows: Sequence[GateResultRow]) -> Iterator[str]:
    """``::error file=...,line=...::message`` for each located failure of a gate that did not
    pass (``::warning`` for non-blocking gates); one line per gate without located failures."""
    for row in rows:
        if row["state"] == "passed":
            continue
        level = "error" if row["decision"] == "block" else "warning"
        title = f"gate {row['gate']} {row['state']}"
        located = [f for f in row["failures"] or () if f.get("file")]
        for failure in located:
            properties = {"file": failure["file"], "title": title}
            if failure.get("line"):
                properties["line"] = str(failure["line"])
            message = failure["message"]
            if failure.get("name"):
                message = f"{failure['name']}: {message}"
            yield _command(level, properties, message)
        if not located:
            summary = (row["feedback"] or row["state"]).splitlines()[0]
            yield _command(level, {"title": title}, summary)


def _command(level: str, properties: dict[str, str], message: str) -> str:
    # Workflow commands: data escapes %, CR, LF; property values also ':' and ','.
    props = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{level} {props}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
