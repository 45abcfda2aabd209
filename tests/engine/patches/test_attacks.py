"""The trust boundary played as an attack, on each isolation level: a real hostile program as
the tool (or as a test a gate runs), then checks that the user's repository has the same
checksum (HEAD, every ref but ``uet/*``, index, working tree, config, hooks), that nothing
landed, and that no process the attempt started is alive.

The processes the attempts start carry a token in their argv, so they can be looked for in
``/proc`` as the host sees them (the sandbox numbers them differently inside).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from gitrepos import checksum, git, make_repo

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.runs import run_bundle
from core.state import Ledger
from tests.engine.execution.test_containment import alive_with

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
PY = sys.executable


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "project",
        {
            "README.md": "hello\n",
            "src/app.py": "VALUE = 1\n",
            "tests/test_app.py": "def test_app():\n    assert True\n",
        },
    )


def run(ledger: Ledger, repo: Path, task: dict[str, Any], **workstream: Any) -> RunResult:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "evil", "writes": True, **task}],
        **workstream,
    }
    options = RunOptions(parallel=1, repo=repo, handle_signals=False, kill_grace_seconds=0.3)
    return run_bundle(ledger, check_bundle(json.loads(json.dumps(document))), options)


DAEMON = """
import os, sys, time
hook, token, scrub = sys.argv[1], sys.argv[2], sys.argv[3] == "scrub"
ready_r, ready_w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        # The daemon: its own session, out of the tool's process group, and (scrub) an
        # environment without UET's variables; it writes the hook 2 s after the tool exits.
        os.write(ready_w, b"x")
        code = ("import sys, time, pathlib; time.sleep(2); "
                "p = pathlib.Path(sys.argv[1]); p.write_text('#!/bin/sh\\\\nexit 1\\\\n'); "
                "p.chmod(0o755)")
        env = {} if scrub else dict(os.environ)
        os.execve(sys.executable, [sys.executable, "-c", code, hook, token], env)
    os._exit(0)
os.wait()
os.read(ready_r, 1)  # the daemon is up
print("daemon started")
"""


@pytest.mark.parametrize("scrub", ["scrub", "keep"])
def test_a_setsid_daemon_cannot_write_a_hook_after_its_tool_exits(
    ledger: Ledger, repo: Path, level: str, scrub: str
) -> None:
    before = checksum(repo)
    token = uuid.uuid4().hex
    hook = repo / ".git" / "hooks" / "pre-commit"
    result = run(ledger, repo, {"run": [PY, "-c", DAEMON, str(hook), token, scrub]})
    assert result.state == "succeeded", result.reason  # the tool did nothing wrong itself
    (attempt,) = ledger.list_attempts(result.run_id)
    stdout = Path(attempt["stdout_path"] or "").read_text()
    assert stdout.strip() == "daemon started"
    assert alive_with(token) == [], "the daemon outlived its attempt"
    assert not hook.exists()
    assert checksum(repo) == before


EVIL_TEST = """
import pathlib, subprocess

def test_looks_innocent():
    repo = pathlib.Path({repo!r})
    hook = repo / ".git" / "hooks" / "pre-push"
    try:
        hook.write_text("#!/bin/sh\\nexit 0\\n")
        subprocess.run(["git", "-C", str(repo), "config", "core.sshCommand", "evil"])
    except OSError:
        pass
    assert True
"""


def test_a_test_that_a_gate_runs_cannot_write_hooks_or_config(
    ledger: Ledger, repo: Path, level: str
) -> None:
    before = checksum(repo)
    base = git(repo, "rev-parse", "HEAD")
    code = "import pathlib, sys; pathlib.Path('tests/test_evil.py').write_text(sys.argv[1])"
    gate = {"unit": {"run": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]}}
    result = run(
        ledger,
        repo,
        {"run": [PY, "-c", code, EVIL_TEST.format(repo=str(repo))], "gates": ["unit"]},
        gates=gate,
    )
    assert checksum(repo) == before
    assert git(repo, "config", "--get", "core.sshCommand", check=False) == ""
    assert not (repo / ".git" / "hooks" / "pre-push").exists()
    (gate_row,) = ledger.list_gate_results(result.run_id)
    if level == "processes":
        # Nothing stops the write without a sandbox: the guard undoes it and fails the gate.
        assert result.state == "failed"
        assert gate_row["state"] == "error"
        assert "changed .git/config (restored)" in gate_row["feedback"]
        assert "changed .git/hooks/pre-push (restored)" in gate_row["feedback"]
        assert git(repo, "rev-parse", f"uet/{result.run_id}") == base, "nothing may land"
    else:
        # In the sandbox the writes fail (read-only); the test itself passes and lands, and
        # the user's repository is as it was.
        assert gate_row["state"] == "passed"
        assert result.state == "succeeded", result.reason
    # The gate's JUnit report was written (in its private HOME) and read either way.
    assert gate_row["totals"]["passed"] == 2


def test_a_tool_that_closes_its_pipes_is_timed_out(ledger: Ledger, repo: Path, level: str) -> None:
    token = uuid.uuid4().hex
    code = "import os, time; os.close(1); os.close(2); time.sleep(60)"
    result = run(ledger, repo, {"run": [PY, "-c", code, token], "timeout_seconds": 1})
    assert result.state == "failed"
    (attempt,) = ledger.list_attempts(result.run_id)
    assert attempt["state"] == "timed_out"
    assert alive_with(token) == []


LINGERING_TOOL = """
import os, sys, time
token = sys.argv[1]
if os.environ["UET_ATTEMPT"] != "1":
    sys.exit(0)  # after resume: nothing more to do
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", token],
                  {})
    os._exit(0)
os.wait()
# Padding: a log holds back its last bytes while they could be the start of a secret.
print("daemon started", "." * 4096, flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_a_daemon_dies_with_a_killed_uet_run(
    repo: Path, level: str, uet_process: Any, ledger_url: str, write_bundle: Any
) -> None:
    """kill -9 of `uet run` itself while its tool runs and a setsid daemon with a scrubbed
    environment it started lingers: in the sandbox both die with UET (the sandbox dies with
    its parent); without one, `uet resume` kills the daemon, which the run's process journal
    noted while the tool ran. Either way `uet resume` then finishes the run."""
    from tests.test_durability import finish, only_run, wait_for

    token = uuid.uuid4().hex
    bundle = write_bundle(
        [{"task_id": "t", "writes": True, "run": [PY, "-c", LINGERING_TOOL, token]}]
    )
    proc = uet_process("run", str(bundle), "--repo", str(repo))
    _, run_id = only_run(ledger_url)
    logs = Path(ledger_url.removeprefix("sqlite:///")).parent / "logs" / run_id

    def daemon_up() -> bool:
        log = logs / "t.1.stdout.log"
        return log.is_file() and "daemon started" in log.read_text()

    def daemon_noted() -> bool:  # seen by UET at least once while the tool ran
        journal = logs / ".processes"
        return journal.is_file() and len(journal.read_text().splitlines()) >= 2

    try:
        wait_for(daemon_up, what="the tool to start its daemon")
        assert alive_with(token), "the daemon runs"
        if level == "processes":
            wait_for(daemon_noted, what="the daemon to be noted")
        proc.kill()
        finish(proc)
        if level == "bubblewrap":
            wait_for(lambda: alive_with(token) == [], what="the sandbox to die with uet")
        code, _, err = finish(uet_process("resume", run_id))
        assert code == 0, err
        assert alive_with(token) == []
    finally:
        for pid in alive_with(token):  # what the test started goes, whatever happened
            os.kill(pid, signal.SIGKILL)


def test_a_gate_that_edits_the_files_it_judges_is_an_error(ledger: Ledger, repo: Path) -> None:
    """A "lint" gate that rewrites instead of checking would pass on its own edits, and the
    unedited code would land: the gate is an error naming the files, and the next gate
    judges the tree as the patch made it."""
    base = git(repo, "rev-parse", "HEAD")
    tool = "import pathlib; pathlib.Path('src/app.py').write_text('VALUE = 2\\n')"
    rewrite = "import pathlib; pathlib.Path('src/app.py').write_text('VALUE = 3\\n')"
    sees = "import pathlib, sys; sys.exit(pathlib.Path('src/app.py').read_text() != 'VALUE = 2\\n')"
    gates = {
        "fmt": {"run": [PY, "-c", rewrite], "blocking": False},
        "unit": {"run": [PY, "-c", sees]},
    }
    result = run(ledger, repo, {"run": [PY, "-c", tool], "gates": ["fmt", "unit"]}, gates=gates)
    states = {
        g["gate"]: (g["state"], g["decision"]) for g in ledger.list_gate_results(result.run_id)
    }
    assert states == {"fmt": ("error", "warn"), "unit": ("passed", "pass")}
    (fmt,) = [g for g in ledger.list_gate_results(result.run_id) if g["gate"] == "fmt"]
    assert "changed files it judged (src/app.py)" in (fmt["feedback"] or "")
    # The patch as the tool made it lands, not the gate's edit.
    assert result.state == "succeeded", result.reason
    assert git(repo, "show", f"uet/{result.run_id}:src/app.py") == "VALUE = 2"
    assert git(repo, "rev-parse", f"uet/{result.run_id}^") == base
