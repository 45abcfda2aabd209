"""Gates test the attempt's code, not a copy installed elsewhere: the isolation probe.

The user's project is installed editable in the environment the gate uses, the usual
development set-up. The venvs here are real (``python -m venv``) and the install is what
setuptools' editable install leaves for a src/ layout, a ``__editable__.<name>.pth`` naming
the checkout's ``src`` folder (pip cannot build here without the network, so the file is
written directly); a second .pth gives the venv this project's test dependencies (pytest).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gitrepos import git, make_repo

from core.engine.bundle import check_bundle
from core.engine.options import RunOptions, RunResult
from core.engine.runs import run_bundle
from core.state import Ledger

pytestmark = pytest.mark.usefixtures("plain_subprocesses")
GOOD = "def add(a, b):\n    return a + b\n"
BROKEN = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def editable_venv(where: Path, checkout_path: Path) -> Path:
    """A venv whose interpreter imports ``calc`` from ``checkout_path`` (editable install)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    (site_packages,) = where.glob("lib/python*/site-packages")
    (site_packages / "__editable__.calc-0.1.pth").write_text(f"{checkout_path}\n")
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (site_packages / "zz_test_dependencies.pth").write_text("\n".join(ours) + "\n")
    return where / "bin" / "python"


def project(tmp_path: Path, layout: str) -> Path:
    package = "src/calc" if layout == "src" else "calc"
    return make_repo(
        tmp_path / "project",
        {
            f"{package}/__init__.py": GOOD,
            "tests/test_calc.py": TEST,
            "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
        },
    )


def write(content: str, path: str) -> list[str]:
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    return [sys.executable, "-c", code, path, content]


def run(ledger: Ledger, repo: Path, content: str, path: str, gate: dict[str, Any]) -> RunResult:
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "gates": {"unit": gate},
        "tasks": [{"task_id": "t", "writes": True, "run": write(content, path), "gates": ["unit"]}],
    }
    bundle = check_bundle(json.loads(json.dumps(document)))
    return run_bundle(ledger, bundle, RunOptions(parallel=1, repo=repo, handle_signals=False))


def unit_gate(ledger: Ledger, run_id: str) -> dict[str, Any]:
    (row,) = ledger.list_gate_results(run_id=run_id)
    return dict(row)


def test_a_gate_that_would_import_the_users_editable_install_is_an_error_not_a_pass(
    ledger: Ledger, tmp_path: Path
) -> None:
    repo = project(tmp_path, "src")
    python = editable_venv(tmp_path / "venv", repo / "src")
    gate = {"run": [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]}
    result = run(ledger, repo, BROKEN, "src/calc/__init__.py", gate)
    assert result.state == "failed"
    row = unit_gate(ledger, result.run_id)
    assert row["state"] == "error"
    where = repo / "src" / "calc" / "__init__.py"
    assert f"would test calc imported from {where} outside the attempt" in row["feedback"]
    assert git(repo, "rev-list", "--count", f"uet/{result.run_id}") == "1", "nothing landed"


@pytest.mark.parametrize("content", [BROKEN, GOOD], ids=["broken", "good"])
def test_with_pythonpath_src_the_gate_tests_the_copy_a_broken_patch_fails_a_good_one_lands(
    ledger: Ledger, tmp_path: Path, content: str
) -> None:
    repo = project(tmp_path, "src")
    python = editable_venv(tmp_path / "venv", repo / "src")
    gate = {
        "run": [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        "env": {"PYTHONPATH": "src"},
    }
    change = content + "\n# changed\n"
    result = run(ledger, repo, change, "src/calc/__init__.py", gate)
    row = unit_gate(ledger, result.run_id)
    if content == BROKEN:
        assert (result.state, row["state"]) == ("failed", "failed")
        assert row["failures"]
        assert row["failures"][0]["file"] == "tests/test_calc.py"
    else:
        assert (result.state, row["state"]) == ("succeeded", "passed")
        landed = git(repo, "show", f"uet/{result.run_id}:src/calc/__init__.py")
        assert landed == change.strip("\n")


def test_a_flat_layout_run_with_python_m_tests_the_copy_and_a_console_script_does_not(
    ledger: Ledger, tmp_path: Path
) -> None:
    repo = project(tmp_path, "flat")
    python = editable_venv(tmp_path / "venv", repo)
    module = {"run": [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]}
    result = run(ledger, repo, BROKEN, "calc/__init__.py", module)
    assert unit_gate(ledger, result.run_id)["state"] == "failed"  # the copy's broken code
    script = tmp_path / "venv" / "bin" / "pytest"
    script.write_text(
        f"#!{python}\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n"
    )
    script.chmod(0o755)
    console = {"run": [str(script), "-q", "-p", "no:cacheprovider", "tests"]}
    result = run(ledger, repo, BROKEN, "calc/__init__.py", console)
    row = unit_gate(ledger, result.run_id)
    assert row["state"] == "error"
    assert f"imported from {repo / 'calc' / '__init__.py'} outside the attempt" in row["feedback"]


def setup_venv_step() -> dict[str, Any]:
    """A setup step doing what `python -m venv .venv && .venv/bin/pip install -e .` does for
    a src/ layout, in the attempt's copy (the .pth names the copy's own src)."""
    deps = "\\n".join(p for p in site.getsitepackages() if Path(p).is_dir())
    code = (
        "import pathlib, subprocess, sys\n"
        "subprocess.run([sys.executable, '-m', 'venv', '--without-pip', '.venv'], check=True)\n"
        "sp = next(pathlib.Path('.venv').glob('lib/python*/site-packages'))\n"
        "(sp / '__editable__.calc-0.1.pth').write_text(str(pathlib.Path('src').resolve()))\n"
        f"(sp / 'zz_deps.pth').write_text('{deps}')\n"
    )
    return {"run": [sys.executable, "-c", code], "network": False}


def run_with_setup(
    ledger: Ledger, repo: Path, content: str, setup: list[dict[str, Any]]
) -> RunResult:
    gate = {"run": [".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]}
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "gates": {"unit": gate},
        "setup": setup,
        "tasks": [
            {
                "task_id": "t",
                "writes": True,
                "run": write(content, "src/calc/__init__.py"),
                "gates": ["unit"],
            }
        ],
    }
    bundle = check_bundle(json.loads(json.dumps(document)))
    return run_bundle(ledger, bundle, RunOptions(parallel=1, repo=repo, handle_signals=False))


@pytest.mark.parametrize("content", [BROKEN, GOOD + "# changed\n"], ids=["broken", "good"])
def test_setup_steps_install_the_copy_so_its_gates_test_the_patch(
    ledger: Ledger, tmp_path: Path, content: str
) -> None:
    repo = project(tmp_path, "src")
    editable_venv(tmp_path / "venv", repo / "src")  # the user's own dev set-up, beside it
    result = run_with_setup(ledger, repo, content, [setup_venv_step()])
    row = unit_gate(ledger, result.run_id)
    branch = f"uet/{result.run_id}"
    if content == BROKEN:
        assert (result.state, row["state"]) == ("failed", "failed")
        return
    assert (result.state, row["state"]) == ("succeeded", "passed"), row["feedback"]
    # What set-up made (.venv) is not part of the patch.
    assert git(repo, "ls-tree", "-r", "--name-only", branch).splitlines() == [
        "pyproject.toml",
        "src/calc/__init__.py",
        "tests/test_calc.py",
    ]


def test_a_failing_setup_step_fails_the_attempt_with_its_output_and_log(
    ledger: Ledger, tmp_path: Path
) -> None:
    repo = project(tmp_path, "src")
    failing = {"run": [sys.executable, "-c", "import sys; print('index unreachable'); sys.exit(3)"]}
    result = run_with_setup(ledger, repo, GOOD, [failing])
    assert result.state == "failed"
    (attempt,) = ledger.list_attempts(result.run_id)
    error = attempt["error"] or ""
    assert error.startswith("setup step 1 "), error
    assert "index unreachable" in error
    log = error.rpartition("(log: ")[2].rstrip(")")
    assert Path(log).read_text().strip() == "index unreachable"
    assert not ledger.list_patches(result.run_id)


def test_a_setup_step_that_edits_a_tracked_file_fails_the_attempt(
    ledger: Ledger, tmp_path: Path
) -> None:
    repo = project(tmp_path, "src")
    edit = {"run": write("edited by setup\n", "tests/test_calc.py")}
    result = run_with_setup(ledger, repo, GOOD, [edit])
    (attempt,) = ledger.list_attempts(result.run_id)
    assert "setup changed tracked files (tests/test_calc.py)" in (attempt["error"] or "")


def test_the_merge_queue_runs_setup_in_each_combination_it_gates(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Two patches verified on the same base: the second is gated again on head + both, in a
    copy of that combination, which needs the setup steps as much as the attempt's did."""
    repo = project(tmp_path, "src")
    gate = {"run": [".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]}
    document = {
        "schema_version": "workstream_spec.v1",
        "workstream_id": "ws",
        "gates": {"unit": gate},
        "setup": [setup_venv_step()],
        "tasks": [
            {
                "task_id": name,
                "writes": True,
                "run": write(f"VALUE = {name!r}\n", f"src/calc/{name}.py"),
                "gates": ["unit"],
            }
            for name in ("first", "second")
        ],
    }
    bundle = check_bundle(json.loads(json.dumps(document)))
    result = run_bundle(ledger, bundle, RunOptions(parallel=2, repo=repo, handle_signals=False))
    assert result.state == "succeeded", result.reason
    rows = ledger.list_gate_results(run_id=result.run_id)
    combination = [r for r in rows if r["scope"] == "combination"]
    assert combination, "the second patch was gated on the combination"
    assert all(r["state"] == "passed" for r in combination), combination[0]["feedback"]


@pytest.mark.parametrize("layout", ["src", "flat"])
@pytest.mark.parametrize("content", [BROKEN, GOOD + "# changed\n"], ids=["broken", "good"])
def test_uet_init_gates_test_the_copy_with_the_project_installed_editable(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, content: str
) -> None:
    """`uet init` on a project whose venv (first on PATH, as when it is activated) has the
    user's checkout installed editable: the unit gate it generates must test the attempt's
    copy, so a broken patch is rejected by the tests themselves and a good one lands."""
    from core.bootstrap.init import init_project

    repo = project(tmp_path, layout)
    python = editable_venv(tmp_path / "venv", repo / "src" if layout == "src" else repo)
    monkeypatch.setenv("PATH", f"{python.parent}{os.pathsep}{os.environ['PATH']}")
    (python.parent / "pytest").write_text(
        f"#!{python}\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n"
    )
    (python.parent / "pytest").chmod(0o755)
    init_project(repo, profile_id="software-dev-python", probe_versions=False)
    generated = json.loads((repo / ".uet" / "project_profile.json").read_text())
    unit = generated["gates"]["unit"]
    assert unit["env"] == {"PYTHONPATH": "src" if layout == "src" else "."}
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "uet init")
    path = "src/calc/__init__.py" if layout == "src" else "calc/__init__.py"
    result = run(ledger, repo, content, path, unit)
    row = unit_gate(ledger, result.run_id)
    if content == BROKEN:
        assert (result.state, row["state"]) == ("failed", "failed"), row["feedback"]
    else:
        assert (result.state, row["state"]) == ("succeeded", "passed"), row["feedback"]
