"""Containment of what a tool starts, played as attacks by real hostile programs, on both
isolation levels (bubblewrap where it runs, processes only everywhere):

- a tool that closes its stdout and stderr and sleeps is still timed out by the clock;
- a daemon that double-forks, calls ``setsid`` and scrubs its environment dies with the
  attempt instead of outliving it;
- in the sandbox, writes outside the attempt's paths fail, ``/tmp`` is private and the
  network is off unless the confinement allows it.

A process is looked for by a token in its argv, in ``/proc`` as the host sees it (the
sandbox's own PID namespace numbers processes differently).
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from core.engine.execution.command import ProcessTable, run_command
from core.engine.execution.outcome import Outcome
from core.engine.execution.sandbox import Confinement, Isolation
from tests.conftest import REPO, require_sandbox

pytestmark = pytest.mark.usefixtures("plain_subprocesses")


def alive_with(token: str) -> list[int]:
    """Pids of live processes whose argv holds ``token`` (zombies are not alive)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in argv and state != b"Z":
            found.append(int(name))
    return found


def outside_tmp() -> Path:
    """A folder we may write to that is not under /tmp (the sandbox makes it read-only, where
    /tmp is a private tmpfs whose writes just vanish)."""
    for folder in (Path.home(), REPO, Path("/var/tmp")):
        resolved = folder.resolve()
        if not resolved.is_relative_to("/tmp") and os.access(resolved, os.W_OK):
            return resolved
    if os.environ.get("CI"):
        pytest.fail("CI must run the sandbox's write test: no writable folder outside /tmp")
    pytest.skip("no writable folder outside /tmp to probe")


def run(
    tmp_path: Path,
    code: str,
    isolation: Isolation,
    *args: str,
    timeout: float | None = 30,
    confinement: Confinement | None = None,
) -> Outcome:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return run_command(
        [sys.executable, "-c", code, *args],
        cwd=str(work),
        env=dict(os.environ),
        timeout=timeout,
        stdout_path=tmp_path / "out.log",
        stderr_path=tmp_path / "err.log",
        cap=1 << 20,
        processes=ProcessTable(),
        key="attempt-1",
        kill_grace=0.2,
        isolation=isolation,
        confinement=confinement or Confinement(writable=(work,), home=tmp_path / "home"),
    )


def test_a_tool_that_closes_its_pipes_is_still_timed_out(tmp_path: Path, isolation: Any) -> None:
    token = uuid.uuid4().hex
    code = "import os, time; os.close(1); os.close(2); time.sleep(60)"
    outcome = run(tmp_path, code, isolation, token, timeout=1)
    assert outcome.state == "timed_out"
    assert alive_with(token) == []


DAEMON = """
import os, sys, time
ready = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        # the daemon: no UET variable left in its environment, no pipes, its own session
        os.closerange(0, 3)
        with open(ready, "w") as handle:
            handle.write("up")
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)",
                                   sys.argv[2]], {})
    os._exit(0)
os.wait()
while not os.path.exists(ready):
    time.sleep(0.01)
"""


def test_a_setsid_daemon_dies_with_its_attempt(tmp_path: Path, isolation: Any) -> None:
    token = uuid.uuid4().hex
    work = tmp_path / "work"
    outcome = run(tmp_path, DAEMON, isolation, str(work / "ready"), token)
    assert outcome.state == "succeeded", outcome.error
    assert (work / "ready").read_text() == "up"  # the daemon did start
    assert alive_with(token) == []


def test_the_sandbox_keeps_writes_inside_the_attempt(tmp_path: Path) -> None:
    isolation = require_sandbox()
    beside = tmp_path / "beside.txt"  # under /tmp: the sandbox's /tmp is a private one
    outside = outside_tmp() / f".uet-sandbox-probe-{uuid.uuid4().hex}"  # read-only there
    code = (
        "import pathlib, sys\n"
        "pathlib.Path('inside.txt').write_text('ok')\n"
        "pathlib.Path('/tmp/private.txt').write_text('mine')\n"
        "pathlib.Path(sys.argv[1]).write_text('private')\n"
        "try:\n"
        "    pathlib.Path(sys.argv[2]).write_text('escaped')\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
    )
    try:
        outcome = run(tmp_path, code, isolation, str(beside), str(outside))
        assert not outside.exists()
    finally:
        outside.unlink(missing_ok=True)
    assert outcome.state == "succeeded", outcome.error
    assert (tmp_path / "work" / "inside.txt").read_text() == "ok"
    assert not beside.exists()
    assert not Path("/tmp/private.txt").exists()
    assert (tmp_path / "out.log").read_text().strip() == "Read-only file system"


@pytest.mark.parametrize("network", [False, True])
def test_the_sandbox_network_is_off_unless_allowed(tmp_path: Path, network: bool) -> None:
    isolation = require_sandbox()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = (
            "import socket, sys\n"
            "try:\n"
            "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close()\n"
            "    print('reached')\n"
            "except OSError:\n"
            "    print('refused')\n"
        )
        work = tmp_path / "work"
        confinement = Confinement(writable=(work,), network=network)
        outcome = run(tmp_path, code, isolation, str(port), confinement=confinement)
    assert outcome.state == "succeeded", outcome.error
    assert (tmp_path / "out.log").read_text().strip() == ("reached" if network else "refused")


def test_a_missing_program_is_named_in_the_sandbox(tmp_path: Path) -> None:
    isolation = require_sandbox()
    outcome = run_command(
        ["no-such-program-uet"],
        cwd=str(tmp_path),
        env=dict(os.environ),
        timeout=5,
        stdout_path=tmp_path / "out.log",
        stderr_path=tmp_path / "err.log",
        cap=1024,
        processes=ProcessTable(),
        key="k",
        isolation=isolation,
        confinement=Confinement(writable=(tmp_path,)),
    )
    assert outcome.state == "failed"
    assert outcome.error == "command not found: no-such-program-uet"
