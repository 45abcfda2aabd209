"""Secrets against real `uet` processes: `uet run` killed with SIGKILL while its tool prints
the secret (the log on disk never holds it, not even mid-way), `print()` inside a `call`
(the terminal of `uet run` never shows it), and a secret that is a number in a `call` output
(`PIN_KEY=1234`) through a kill -9 and `uet resume`. After each, no file of the ledger (the
database, its -wal, logs), of the attempt caches or of the project holds the secret.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from leaks import assert_no_secret_stored, files_holding
from test_durability import finish, only_run, wait_for

pytestmark = pytest.mark.slow
SECRET = 'sk-demo-Ünï-"q"-\\-9b7e5d3c1a'  # noqa: S105 - the value whose leaks are looked for
MASK = "[redacted:DEMO_API_KEY]"
Start = Callable[..., "subprocess.Popen[str]"]

# Prints the secret three bytes at a time, forever, until the file `resumed` exists.
SLOW_PRINTER = textwrap.dedent(
    """
    import os, pathlib, sys, time
    key = os.environ["DEMO_API_KEY"].encode()
    if pathlib.Path("resumed").exists():
        print("resumed with", os.environ["DEMO_API_KEY"]); sys.exit(0)
    n = 0
    while True:
        for i in range(0, len(key), 3):
            os.write(1, key[i:i + 3]); time.sleep(0.002)
        os.write(1, b" line %d\\n" % n); os.write(2, key + b"\\n"); n += 1
    """
)


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_API_KEY", SECRET)


def test_kill_9_while_a_tool_prints_the_secret_leaves_it_in_no_file(
    uet_process: Start, write_bundle: Callable[..., Path], ledger_url: str, tmp_path: Path
) -> None:
    bundle = write_bundle([{"task_id": "printer", "run": [sys.executable, "-c", SLOW_PRINTER]}])
    proc = uet_process("run", str(bundle))
    ledger, run_id = only_run(ledger_url)
    log = ledger.artifacts_dir / "logs" / run_id / "printer.1.stdout.log"
    wait_for(lambda: log.is_file() and log.stat().st_size > 2000, what="the tool to print")
    # While it prints, the file on disk never holds the secret.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert files_holding(SECRET, [log.parent]) == []
    proc.send_signal(signal.SIGKILL)
    _, out, err = finish(proc)
    assert MASK in log.read_text("utf-8", "replace")
    assert_no_secret_stored(SECRET, ledger, tmp_path / "bundle-0.json", shown=out + err)

    (tmp_path / "resumed").write_text("")
    code, out, err = finish(uet_process("resume", run_id))
    assert code == 0, err
    assert ledger.get_run(run_id)["state"] == "succeeded"  # type: ignore[index]
    second = ledger.artifacts_dir / "logs" / run_id / "printer.2.stdout.log"
    assert second.read_text() == f"resumed with {MASK}\n"
    assert_no_secret_stored(SECRET, ledger, shown=out + err)
    ledger.close()


CALLS = """
import os, sys, warnings

def chatty():
    key = os.environ["DEMO_API_KEY"]
    print("printed", key)
    print("to stderr", key, file=sys.stderr)
    warnings.warn("warned " + key, stacklevel=1)
    return "done"

def raises():
    raise RuntimeError("denied for " + os.environ["DEMO_API_KEY"])

def pin():
    return {"pin": int(os.environ["PIN_KEY"]), "label": "pin"}
"""


def test_what_a_call_prints_in_a_real_uet_run_never_reaches_its_terminal(
    uet_process: Start, write_bundle: Callable[..., Path], ledger_url: str, tmp_path: Path
) -> None:
    (tmp_path / "secret_calls.py").write_text(textwrap.dedent(CALLS), encoding="utf-8")
    bundle = write_bundle(
        [
            {"task_id": "chatty", "call": "secret_calls:chatty"},
            {"task_id": "raises", "call": "secret_calls:raises"},
        ],
        error_handling={"on_task_failure": "continue"},
    )
    code, out, err = finish(uet_process("run", str(bundle)))
    assert code == 1, err
    assert "printed" not in out + err
    assert "Traceback" not in out + err
    ledger, run_id = only_run(ledger_url)
    logs = ledger.artifacts_dir / "logs" / run_id
    assert (logs / "chatty.1.stdout.log").read_text() == f"printed {MASK}\n"
    chatty_err = (logs / "chatty.1.stderr.log").read_text()
    assert f"to stderr {MASK}\n" in chatty_err
    assert f"UserWarning: warned {MASK}" in chatty_err
    assert f"RuntimeError: denied for {MASK}" in (logs / "raises.1.stderr.log").read_text()
    assert_no_secret_stored(SECRET, ledger, shown=out + err)
    ledger.close()


def test_a_secret_that_is_a_number_in_an_output_survives_kill_9_and_resume(
    uet_process: Start,
    write_bundle: Callable[..., Path],
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIN_KEY", "1234")
    (tmp_path / "secret_calls.py").write_text(textwrap.dedent(CALLS), encoding="utf-8")
    wait = "if [ -e resumed ]; then echo 1234; exit 0; fi; exec sleep 60"
    bundle = write_bundle(
        [
            {"task_id": "pin", "call": "secret_calls:pin"},
            {"task_id": "after", "depends_on": ["pin"], "run": ["sh", "-c", wait]},
        ]
    )
    proc = uet_process("run", str(bundle))
    ledger, run_id = only_run(ledger_url)
    wait_for(lambda: bool(ledger.list_attempts(run_id, task_id="after")), what="the second task")
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    (tmp_path / "resumed").write_text("")
    code, out, err = finish(uet_process("resume", run_id))
    assert code == 0, err
    tasks = {t["task_id"]: t for t in ledger.list_tasks(run_id)}
    assert {name: task["state"] for name, task in tasks.items()} == {
        "pin": "succeeded",
        "after": "succeeded",
    }
    assert tasks["pin"]["output"] == {"pin": "[redacted:PIN_KEY]", "label": "pin"}
    assert (ledger.artifacts_dir / "logs" / run_id / "after.2.stdout.log").read_text() == (
        "[redacted:PIN_KEY]\n"
    )
    code, shown, err2 = finish(uet_process("show", "pin", "--run", run_id, "--json"))
    assert code == 0, err2
    assert json.loads(shown)
    assert "1234" not in out + err + shown
    assert_no_secret_stored(SECRET, ledger, shown=out + err + shown)
    ledger.close()
