"""`uet land` under kill -9: a real `uet land` process is killed at each of its steps (the
``land-*`` crash points of ``engine/faults.py``, and in the middle of git's own checkout, from
inside a smudge filter), then `uet land` runs again. It must finish the job: the checkout at the
new commit with a clean `git status`, no lock file left, the landing recorded once. When it
cannot tell its own writes from the user's, it refuses and says what to run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitrepos import commit_all, git, make_repo

from core.adapters.git import open_repository
from core.engine import faults
from core.engine.bundle import check_bundle
from core.engine.options import RunOptions
from core.engine.patches.land_journal import Journal
from core.engine.runs import run_bundle
from core.state import Ledger

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("plain_subprocesses")]
Start = Callable[..., "subprocess.Popen[str]"]
PY = sys.executable
STEPS = ["land-journal", "land-checkout", "land-branch", "land-recorded"]
BASE = {
    ".gitattributes": "*.dat filter=uetkill\n",
    "keep.txt": "kept\n",
    "gone.txt": "deleted by the run\n",
    "folder/inner.txt": "becomes a file\n",
    **{f"f{n}.dat": f"old {n}\n" for n in range(1, 7)},
}
# The run's one task: edits six files, deletes one, adds two, turns a folder into a file. Its
# edits change each file's size: a same-size rewrite in the clock tick of the copy's checkout
# can go unseen by capture (racy git), which is not what these tests are about.
CHANGE = (
    "import os, pathlib, shutil\n"
    "for n in range(1, 7): pathlib.Path(f'f{n}.dat').write_text(f'changed {n}\\n')\n"
    "os.remove('gone.txt')\n"
    "pathlib.Path('added.txt').write_text('added\\n')\n"
    "pathlib.Path('sub').mkdir(); pathlib.Path('sub/new.txt').write_text('nested\\n')\n"
    "shutil.rmtree('folder'); pathlib.Path('folder').write_text('a file now\\n')\n"
)
# A smudge filter that kills its whole process group (`uet land`, git, itself) the n-th time
# it runs: git is then stopped in the middle of writing the working tree.
KILLER = (
    "import os, pathlib, signal, sys\n"
    "counter = pathlib.Path(sys.argv[1]); n = int(counter.read_text() or 0) + 1\n"
    "counter.write_text(str(n))\n"
    "if n == int(sys.argv[2]): os.killpg(os.getpgrp(), signal.SIGKILL)\n"
    "sys.stdout.buffer.write(sys.stdin.buffer.read())\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", BASE)


def make_run(ledger: Ledger, repo: Path) -> str:
    document: dict[str, Any] = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "tasks": [{"task_id": "change", "writes": True, "run": [PY, "-c", CHANGE]}],
    }
    bundle = check_bundle(json.loads(json.dumps(document)))
    result = run_bundle(ledger, bundle, RunOptions(repo=repo, handle_signals=False))
    assert result.state == "succeeded", result.reason
    return result.run_id


@pytest.fixture
def uet_land(uet_process: Start, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    def run(repo: Path, run_id: str, fault: str | None = None) -> tuple[int, str]:
        if fault:
            monkeypatch.setenv(faults.ENV_VAR, fault)
        else:
            monkeypatch.delenv(faults.ENV_VAR, raising=False)
        proc = uet_process("land", run_id, cwd=repo, start_new_session=True)
        out, err = proc.communicate(timeout=120)
        monkeypatch.delenv(faults.ENV_VAR, raising=False)
        return proc.returncode, out + err

    return run


def journal_of(repo: Path, run_id: str) -> Path:
    return Journal.path_for(open_repository(repo), run_id)


def assert_landed(ledger: Ledger, repo: Path, run_id: str, before: str, mode: str) -> None:
    head = git(repo, "rev-parse", "HEAD")
    tip = git(repo, "rev-parse", f"uet/{run_id}")
    if mode == "fast-forward":
        assert head == tip
    else:
        assert git(repo, "rev-parse", "HEAD^1", "HEAD^2").split() == [before, tip]
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repo, "diff", "HEAD", "--stat") == ""
    assert (repo / "f3.dat").read_text() == "changed 3\n"
    assert (repo / "folder").read_text() == "a file now\n"
    assert not (repo / "gone.txt").exists()
    locks = [p.name for p in (repo / ".git").rglob("*.lock")]
    assert locks == [], "no lock file left behind"
    assert not journal_of(repo, run_id).exists()
    landed = [e for e in ledger.list_events(run_id) if e["kind"] == "integration.landed"]
    assert [(e["payload"]["before"], e["payload"]["after"]) for e in landed] == [(before, head)]


@pytest.mark.parametrize("mode", ["fast-forward", "merge"])
@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_then_land_again_finishes(
    ledger: Ledger, repo: Path, uet_land: Callable[..., tuple[int, str]], step: str, mode: str
) -> None:
    run_id = make_run(ledger, repo)
    if mode == "merge":  # the user's branch moved meanwhile: a merge commit lands
        (repo / "keep.txt").write_text("the user's later commit\n")
        commit_all(repo, "user work")
    before = git(repo, "rev-parse", "HEAD")

    code, output = uet_land(repo, run_id, f"{step}:1")
    assert code == -signal.SIGKILL, output
    head = git(repo, "rev-parse", "HEAD")
    assert head == before or step in ("land-branch", "land-recorded")

    code, output = uet_land(repo, run_id)
    assert code == 0, output
    assert f"({mode})" in output
    assert_landed(ledger, repo, run_id, before, mode)
    code, output = uet_land(repo, run_id)
    assert code == 0, output
    assert "already has everything" in output


@pytest.mark.parametrize("nth", [1, 3, 6])
def test_kill_9_in_the_middle_of_gits_checkout_then_land_again_finishes(
    ledger: Ledger,
    repo: Path,
    tmp_path: Path,
    uet_land: Callable[..., tuple[int, str]],
    nth: int,
) -> None:
    run_id = make_run(ledger, repo)
    before = git(repo, "rev-parse", "HEAD")
    counter = tmp_path / "smudged"
    counter.write_text("")
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER)
    git(repo, "config", "filter.uetkill.smudge", f"{PY} {killer} {counter} {nth}")

    code, output = uet_land(repo, run_id)
    assert code == -signal.SIGKILL, output
    assert int(counter.read_text()) == nth, "killed by the filter, in git's checkout"
    assert (repo / ".git" / "index.lock").exists(), "git was stopped holding its lock"
    assert git(repo, "rev-parse", "HEAD") == before

    code, output = uet_land(repo, run_id)
    assert code == 0, output
    assert_landed(ledger, repo, run_id, before, "fast-forward")


def test_an_interrupted_landing_refuses_files_that_hold_neither_version_and_says_what_to_run(
    ledger: Ledger, repo: Path, uet_land: Callable[..., tuple[int, str]]
) -> None:
    run_id = make_run(ledger, repo)
    before = git(repo, "rev-parse", "HEAD")
    after = git(repo, "rev-parse", f"uet/{run_id}")
    assert uet_land(repo, run_id, "land-checkout:1")[0] == -signal.SIGKILL
    (repo / "f2.dat").write_text("the user's edit made after the kill\n")

    code, output = uet_land(repo, run_id)
    assert code == 1
    assert "these files hold neither version: f2.dat" in output
    assert f"git checkout {after[:12]} -- f2.dat" in output
    assert git(repo, "rev-parse", "HEAD") == before, "nothing more was changed"

    git(repo, "checkout", after[:12], "--", "f2.dat")
    code, output = uet_land(repo, run_id)
    assert code == 0, output
    assert_landed(ledger, repo, run_id, before, "fast-forward")


def test_an_interrupted_landing_refuses_edits_to_files_it_does_not_touch(
    ledger: Ledger, repo: Path, uet_land: Callable[..., tuple[int, str]]
) -> None:
    run_id = make_run(ledger, repo)
    before = git(repo, "rev-parse", "HEAD")
    assert uet_land(repo, run_id, "land-journal:1")[0] == -signal.SIGKILL
    (repo / "keep.txt").write_text("edited after the kill\n")

    code, output = uet_land(repo, run_id)
    assert code == 1
    assert "files it does not touch have changed since (keep.txt)" in output
    assert (repo / "keep.txt").read_text() == "edited after the kill\n", "never overwritten"
    git(repo, "checkout", before[:12], "--", "keep.txt")
    assert uet_land(repo, run_id)[0] == 0
    assert_landed(ledger, repo, run_id, before, "fast-forward")


def test_a_lock_file_that_is_not_uets_is_left_alone_and_named(
    ledger: Ledger, repo: Path, uet_land: Callable[..., tuple[int, str]]
) -> None:
    run_id = make_run(ledger, repo)
    before = git(repo, "rev-parse", "HEAD")
    assert uet_land(repo, run_id, "land-journal:1")[0] == -signal.SIGKILL
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    journal = journal_of(repo, run_id)
    older = journal.stat().st_mtime - 60
    os.utime(lock, (older, older))  # made before the landing began: someone else's

    code, output = uet_land(repo, run_id)
    assert code == 1
    assert f"{lock} exists and is not UET's (older than the landing)" in output
    assert "remove it and run `uet land` again" in output
    assert lock.exists()
    lock.unlink()
    assert uet_land(repo, run_id)[0] == 0
    assert_landed(ledger, repo, run_id, before, "fast-forward")


def test_landing_another_run_first_finishes_nothing_and_names_the_interrupted_one(
    ledger: Ledger, repo: Path, uet_land: Callable[..., tuple[int, str]]
) -> None:
    first = make_run(ledger, repo)
    before = git(repo, "rev-parse", "HEAD")
    assert uet_land(repo, first, "land-checkout:1")[0] == -signal.SIGKILL
    second = make_run(ledger, repo)

    code, output = uet_land(repo, second)
    assert code == 1
    assert f"landing run {first} was interrupted; finish it first: `uet land {first}`" in output
    assert uet_land(repo, first)[0] == 0
    assert_landed(ledger, repo, first, before, "fast-forward")
