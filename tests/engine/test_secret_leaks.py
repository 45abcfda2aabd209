"""Secrets a task could leak, each tried as an attacker would, in real runs on a real SQLite
ledger: a ``call`` that raises with the secret in its message, returns it (with non-ASCII
characters, quotes and backslashes), prints it; a tool that prints it and is killed at its
timeout; a secret that is also a number in an output (``PIN_KEY=1234``). After each, no file
of the ledger, its logs or the attempt caches holds the secret, and the terminal did not see
it. The secrets are set in UET's environment, as a user would.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from leaks import assert_no_secret_stored

from core.engine.bundle import load_bundle
from core.engine.execution.outcome import LogFile, Outcome
from core.engine.execution.runner import outcome_document, outcome_from
from core.engine.options import RunOptions, RunResult
from core.engine.process_worker import redacted_document
from core.engine.routing.usage import Usage
from core.engine.runs import run_bundle
from core.secrets import Redactor
from core.state import Ledger

PY = sys.executable
SECRET = 'sk-demo-ÄÖÜ-"quoted"-\\back\\-7f3a9c'  # noqa: S105 - the value whose leaks are looked for
MASK = "[redacted:DEMO_API_KEY]"

LEAKY_CALLS = """
import os, sys, threading

def raises():
    raise PermissionError("401 for key " + os.environ["DEMO_API_KEY"])

def returns():
    key = os.environ["DEMO_API_KEY"]
    return {"key": key, "nested": [{"said": "token=" + key}], key: "as a key", "n": 3}

def prints(tag="p"):
    key = os.environ["DEMO_API_KEY"]
    print(tag, "stdout", key)
    print(tag, "stderr", key, file=sys.stderr)
    sys.stdout.write(tag + " write " + key + "\\n")
    return tag

barrier = threading.Barrier(3, timeout=10)

def together(tag):
    barrier.wait()  # three calls print at the same time, in three threads
    for n in range(50):
        print(tag, n, os.environ["DEMO_API_KEY"])
    return tag

def pin():
    return {"pin": int(os.environ["PIN_KEY"]), "pins": [1234, 91234.5], "ok": True}
"""


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_API_KEY", SECRET)


@pytest.fixture
def calls(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The leaky module, under a name of its own per test (imports are cached by name)."""
    name = f"leaky_{request.node.name.replace('[', '_').replace(']', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(LEAKY_CALLS), encoding="utf-8")
    return name


def run(ledger: Ledger, bundle: Path, **options: Any) -> RunResult:
    opts = {"handle_signals": False, "kill_grace_seconds": 0.5, **options}
    return run_bundle(ledger, load_bundle(bundle), RunOptions(**opts))


def logs_of(ledger: Ledger, run_id: str) -> dict[str, str]:
    folder = ledger.artifacts_dir / "logs" / run_id
    return {p.name: p.read_text("utf-8", "replace") for p in sorted(folder.glob("*.log"))}


def test_a_call_that_raises_with_the_secret_logs_its_traceback_redacted(
    ledger: Ledger,
    write_bundle: Callable[..., Path],
    calls: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    result = run(ledger, write_bundle([{"task_id": "raises", "call": f"{calls}:raises"}]))
    assert not result.ok
    (attempt,) = ledger.list_attempts(result.run_id)
    assert attempt["error"] == f"PermissionError: 401 for key {MASK}"
    stderr = logs_of(ledger, result.run_id)["raises.1.stderr.log"]
    assert "Traceback (most recent call last)" in stderr
    assert f"PermissionError: 401 for key {MASK}" in stderr
    out, err = capfd.readouterr()
    assert_no_secret_stored(SECRET, ledger, shown=out + err)


def test_a_call_output_holding_the_secret_is_stored_redacted_whatever_its_characters(
    ledger: Ledger,
    write_bundle: Callable[..., Path],
    calls: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    result = run(ledger, write_bundle([{"task_id": "returns", "call": f"{calls}:returns"}]))
    assert result.ok, result.reason
    (task,) = ledger.list_tasks(result.run_id)
    assert task["output"] == {
        "key": MASK,
        "nested": [{"said": f"token={MASK}"}],
        MASK: "as a key",
        "n": 3,
    }
    out, err = capfd.readouterr()
    assert_no_secret_stored(SECRET, ledger, shown=out + err)


def test_what_a_call_prints_goes_to_its_logs_redacted_never_to_the_terminal(
    ledger: Ledger,
    write_bundle: Callable[..., Path],
    calls: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    result = run(
        ledger,
        write_bundle([{"task_id": "prints", "call": f"{calls}:prints"}]),
    )
    assert result.ok, result.reason
    logs = logs_of(ledger, result.run_id)
    assert logs["prints.1.stdout.log"] == f"p stdout {MASK}\np write {MASK}\n"
    assert f"p stderr {MASK}\n" in logs["prints.1.stderr.log"]
    out, err = capfd.readouterr()
    assert "stdout" not in out, "a call's print reached the terminal"
    assert_no_secret_stored(SECRET, ledger, shown=out + err)


def test_calls_printing_at_once_in_threads_each_get_their_own_logs(
    ledger: Ledger,
    write_bundle: Callable[..., Path],
    calls: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    tasks = [
        {"task_id": tag, "call": f"{calls}:together", "params": {"tag": tag}}
        for tag in ("a", "b", "c")
    ]
    result = run(ledger, write_bundle(tasks), parallel=3)
    assert result.ok, result.reason
    logs = logs_of(ledger, result.run_id)
    for tag in ("a", "b", "c"):
        lines = logs[f"{tag}.1.stdout.log"].splitlines()
        assert lines == [f"{tag} {n} {MASK}" for n in range(50)]
    print("the test's own print still reaches the terminal")
    out, err = capfd.readouterr()
    assert out == "the test's own print still reaches the terminal\n"
    assert_no_secret_stored(SECRET, ledger, shown=out + err)


def test_a_tool_killed_at_its_timeout_while_printing_the_secret_leaves_no_secret(
    ledger: Ledger, write_bundle: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    # The secret is printed a few bytes at a time, so its bytes straddle the pipe's chunks.
    flood = (
        "import os, sys, time\n"
        "key = os.environ['DEMO_API_KEY'].encode()\n"
        "for n in range(10**6):\n"
        "    for i in range(0, len(key), 3):\n"
        "        os.write(1, key[i:i + 3]); time.sleep(0.001)\n"
        "    os.write(1, b' line %d\\n' % n); os.write(2, key + b'\\n')\n"
    )
    bundle = write_bundle([{"task_id": "flood", "run": [PY, "-c", flood], "timeout_seconds": 1.5}])
    result = run(ledger, bundle)
    assert not result.ok
    (attempt,) = ledger.list_attempts(result.run_id)
    assert attempt["state"] == "timed_out"
    logs = logs_of(ledger, result.run_id)
    assert f"{MASK} line 0\n" in logs["flood.1.stdout.log"]
    assert f"{MASK}\n" in logs["flood.1.stderr.log"]
    out, err = capfd.readouterr()
    assert_no_secret_stored(SECRET, ledger, shown=out + err)


def test_a_secret_that_is_a_number_in_an_output_is_stored_as_its_mask(
    ledger: Ledger,
    write_bundle: Callable[..., Path],
    calls: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIN_KEY", "1234")
    tasks = [
        {"task_id": "pin", "call": f"{calls}:pin"},
        {"task_id": "after", "depends_on": ["pin"], "run": [PY, "-c", "print(1234)"]},
    ]
    result = run(ledger, write_bundle(tasks))
    assert result.ok, result.reason
    pin = next(t for t in ledger.list_tasks(result.run_id) if t["task_id"] == "pin")
    assert pin["output"] == {
        "pin": "[redacted:PIN_KEY]",
        "pins": ["[redacted:PIN_KEY]", "9[redacted:PIN_KEY].5"],
        "ok": True,
    }
    assert logs_of(ledger, result.run_id)["after.1.stdout.log"] == "[redacted:PIN_KEY]\n"
    out, err = capfd.readouterr()
    assert "1234" not in out + err


def test_a_process_workers_outcome_keeps_uets_numbers_whatever_secret_they_spell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `uet worker` hands its outcome back through the ledger as a document: what the tool
    wrote (error, output, a usage error) is redacted, UET's own numbers (duration, exit code,
    byte counts) stay numbers, and the document reads back."""
    monkeypatch.setenv("PIN_KEY", "1234")
    redact = Redactor()
    outcome = Outcome(
        "failed",
        1234.0,
        exit_code=1234 % 256,
        error="exited: pin 1234",
        output={"pin": 1234},
        stdout=LogFile("/logs/t.1.stdout.log", 1234, False),
        usage=Usage(error="bad pin 1234"),
        cpu_seconds=0.1234,
    )
    stored = redacted_document(outcome_document(outcome), redact)
    back = outcome_from(json.loads(json.dumps(stored)))
    assert back.error == "exited: pin [redacted:PIN_KEY]"
    assert back.output == {"pin": "[redacted:PIN_KEY]"}
    assert back.usage is not None
    assert back.usage.error == "bad pin [redacted:PIN_KEY]"
    assert (back.duration_seconds, back.cpu_seconds) == (1234.0, 0.1234)
    assert back.stdout == LogFile("/logs/t.1.stdout.log", 1234, False)
