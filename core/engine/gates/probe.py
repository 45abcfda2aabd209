"""The isolation probe: does a Python gate test the attempt's code, or a copy installed elsewhere?

A project installed editable (``pip install -e .``, the usual development set-up) puts the
user's checkout on the interpreter's path. A gate run in an attempt's copy with that
interpreter then imports the package from the user's checkout, not from the copy, and passes
whatever the patch did. So before a Python gate runs in a copy, the probe asks the gate's own
interpreter, with the gate's environment and working directory, where the project's top-level
packages would be imported from (``importlib.util.find_spec``, which finds without importing).
A package found outside the copy makes the gate an ``error``: "would test <package> imported
from <path> outside the attempt". A package found nowhere is left to the gate (the tests then
fail on their own import error).

The probe mimics how the gate's command builds ``sys.path``:

- ``python -m ...`` and ``python -c ...``: the working directory comes first;
- ``python script.py``: the script's folder;
- a console script (``pytest``, ``ward``, ...): its own folder, which holds no project code;
- pytest, however started, also puts its configured ``pythonpath`` entries first
  (``[tool.pytest.ini_options]`` in pyproject.toml, ``pytest.ini``, ``tox.ini``, ``setup.cfg``).

The project's packages are the folders under ``src/`` holding Python files, and the folders
at the root holding an ``__init__.py`` (tests, docs, examples and the like excepted).
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.engine.gates.parsing import is_pytest

NOT_PACKAGES = frozenset(
    {
        "test",
        "tests",
        "testing",
        "docs",
        "doc",
        "examples",
        "example",
        "benchmarks",
        "scripts",
        "build",
        "dist",
        "node_modules",
        "site-packages",
    }
)
_PROBE = """
import importlib.util, json, sys
mode, first = sys.argv[1], json.loads(sys.argv[2])
if mode == "console":
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
sys.path[:0] = first
found = {}
for name in json.loads(sys.argv[3]):
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    if spec is None:
        continue
    where = spec.origin if spec.origin not in (None, "namespace") else None
    if where is None and spec.submodule_search_locations:
        where = list(spec.submodule_search_locations)[0]
    found[name] = where
print(json.dumps(found))
"""


@dataclass(frozen=True)
class ProbeCommand:
    argv: list[str]
    cwd: Path


def own_packages(root: Path) -> list[str]:
    """The project's top-level packages in the checkout at ``root``."""
    names: set[str] = set()
    src = root / "src"
    if src.is_dir():
        for entry in _entries(src):
            if entry.is_dir() and entry.name.isidentifier() and _holds_python(entry):
                names.add(entry.name)
            elif entry.suffix == ".py" and entry.stem.isidentifier() and entry.is_file():
                names.add(entry.stem)
    for entry in _entries(root):
        if (
            entry.is_dir()
            and entry.name.isidentifier()
            and entry.name.lower() not in NOT_PACKAGES
            and (entry / "__init__.py").is_file()
        ):
            names.add(entry.name)
    return sorted(names - {"src"})


def layout(root: Path) -> str | None:
    """``"src"`` when the project's packages live under ``src/``, ``"flat"`` when at the
    root, None when it has none."""
    src = root / "src"
    if src.is_dir() and any(name in own_packages(root) for name in _src_names(src)):
        return "src"
    return "flat" if own_packages(root) else None


def _src_names(src: Path) -> list[str]:
    return [entry.stem for entry in _entries(src)]


def interpreter_of(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> str | None:
    """The Python interpreter ``argv`` runs, when it runs one."""
    if not argv:
        return None
    program = argv[0]
    if "/" in program:
        path = str(cwd / program) if not program.startswith("/") else program
    else:
        found = shutil.which(program, path=env.get("PATH"))
        if found is None:
            return None
        path = found
    if PurePosixPath(program).name.startswith("python"):
        return path
    try:
        with open(path, "rb") as handle:
            first = handle.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if not words:
        return None
    if PurePosixPath(words[0]).name == "env" and len(words) > 1:
        words = words[1:]
        return shutil.which(words[0], path=env.get("PATH")) if "python" in words[0] else None
    return words[0] if "python" in PurePosixPath(words[0]).name else None


def probe_command(
    argv: Sequence[str], cwd: Path, root: Path, env: Mapping[str, str]
) -> tuple[ProbeCommand, list[str]] | None:
    """The probe to run for a gate's ``argv`` (and the packages it asks about), or None when
    the gate runs no Python interpreter or the project has no package of its own."""
    packages = own_packages(root)
    if not packages:
        return None
    python = interpreter_of(argv, env, cwd)
    if python is None:
        return None
    first: list[str] = []
    program = PurePosixPath(argv[0]).name
    if program.startswith("python"):
        rest = list(argv[1:])
        mode = "cwd"
        script = next((a for a in rest if not a.startswith("-")), None)
        if "-m" not in rest and "-c" not in rest and script is not None:
            mode = "script"
            first.append(str((cwd / script).parent))
    else:
        mode = "console"
    if is_pytest(list(argv)):
        first = [str(root / entry) for entry in pytest_pythonpath(root)] + first
    code = [python, "-c", _PROBE, mode, json.dumps(first), json.dumps(packages)]
    return ProbeCommand(code, cwd), packages


def outside(found: Mapping[str, str | None], root: Path) -> dict[str, str]:
    """The packages of ``found`` (name -> where it imports from) that are not in ``root``."""
    resolved = root.resolve()
    escaped: dict[str, str] = {}
    for name, where in found.items():
        if not where:
            continue
        path = Path(where).resolve()
        if not path.is_relative_to(resolved):
            escaped[name] = str(path)
    return escaped


def verdict(found: Mapping[str, str | None], root: Path) -> str | None:
    """The gate's error when a package of the project imports from outside ``root``."""
    escaped = outside(found, root)
    if not escaped:
        return None
    name, where = next(iter(sorted(escaped.items())))
    more = f" (and {len(escaped) - 1} more)" if len(escaped) > 1 else ""
    return (
        f"would test {name} imported from {where} outside the attempt{more}: the gate's "
        "interpreter finds the project installed elsewhere (an editable install of your "
        "checkout?). Run the tests from the copy, e.g. gate env PYTHONPATH=src for a src/ "
        "layout, `python -m pytest` for a flat one, or a setup step that installs the copy"
    )


def run_probe(
    argv: Sequence[str],
    cwd: Path,
    root: Path,
    env: Mapping[str, str],
    execute: Callable[[ProbeCommand, Mapping[str, str]], str | None],
) -> str | None:
    """Probe the gate ``argv``; the error it must end in, or None. ``execute`` runs the probe
    command (confined like the gate) and returns its standard output, or None if it failed."""
    planned = probe_command(argv, cwd, root, env)
    if planned is None:
        return None
    command, _ = planned
    out = execute(command, env)
    if not out:
        return None  # the interpreter could not run it: the gate will say so itself
    try:
        found = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    if not isinstance(found, dict):
        return None
    return verdict(found, root)


def pytest_pythonpath(root: Path) -> list[str]:
    """pytest's configured ``pythonpath`` entries (relative to ``root``), from the first file
    that configures pytest, in pytest's own order of precedence."""
    ini = root / "pytest.ini"
    if ini.is_file():
        return _ini_paths(ini, "pytest")
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        options = data.get("tool", {}).get("pytest", {}).get("ini_options")
        if isinstance(options, dict):
            value = options.get("pythonpath", [])
            if isinstance(value, str):
                value = value.split()
            return [str(entry) for entry in value if isinstance(entry, str)]
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = root / name
        if path.is_file():
            found = _ini_paths(path, section)
            if found or _has_section(path, section):
                return found
    return []


def _ini_paths(path: Path, section: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    return parser.get(section, "pythonpath", fallback="").split()


def _has_section(path: Path, section: str) -> bool:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False
    return parser.has_section(section)


def _entries(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return [Path(entry.path) for entry in entries if not entry.name.startswith(".")]
    except OSError:
        return []


def _holds_python(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.endswith(".py") for entry in entries)
    except OSError:
        return False


__all__ = ["interpreter_of", "layout", "own_packages", "probe_command", "run_probe", "verdict"]
