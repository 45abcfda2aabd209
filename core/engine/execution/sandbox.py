"""The OS sandbox a tool or gate runs in, where the platform has one.

On Linux with bubblewrap (``bwrap``) each process UET starts for an attempt runs with:

- the whole filesystem read-only, except the paths its :class:`Confinement` makes writable
  (the attempt's private copy, a private HOME, paths the config names);
- a private ``/tmp`` (a fresh tmpfs), with whatever the attempt must still read from the real
  ``/tmp`` bound back read-only (the repository, the interpreter, argv paths);
- its own PID namespace: when the tool's main process ends, or UET kills the sandbox, the
  kernel kills every process inside, however it forked or ``setsid``-ed; ``--die-with-parent``
  does the same when UET itself dies;
- no network unless the confinement allows it (agent CLIs call their API; ``run`` tasks and
  gates get the loopback device only);
- no capabilities when UET runs as root, so nothing inside can remount what is read-only.

Without bubblewrap (macOS, a container without user namespaces, ``sandbox: off``) UET says
so once per run and falls back to containing processes only: every descendant is still killed
at the end of an attempt (see :mod:`core.engine.execution.reaping`), but a tool can write
wherever the user can. ``sandbox: required`` refuses to run then.

The sandbox is chosen once per process (:func:`detect`, a probe run of ``bwrap``), so an
attempt pays only for the ``bwrap`` exec itself.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInput, SandboxUnavailable

MODES = ("auto", "required", "off")
ENV_VAR = "UET_SANDBOX"
BUBBLEWRAP = "bubblewrap"
PROCESSES = "processes"  # no OS sandbox: descendants contained, filesystem not
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: "
    "`dnf install bubblewrap`) on a Linux kernel that allows user namespaces"
)
_TMP = Path("/tmp")  # noqa: S108 - the folder the sandbox replaces with a private one
# Where tools that cache beside the code are told to cache instead (under the private HOME).
_CACHE_VARIABLES = {
    "RUFF_CACHE_DIR": "ruff",
    "MYPY_CACHE_DIR": "mypy",
    "PYTHONPYCACHEPREFIX": "pycache",
}


@dataclass(frozen=True)
class Confinement:
    """What one process may touch: the paths it may write, the attempt's own folder (its
    HOME in the sandbox, where tools' caches go on every level), whether it may reach the
    network, and what it must still read from the real ``/tmp``."""

    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    home: Path | None = None  # the attempt's own folder (made in the sandbox if missing)
    network: bool = False
    user_home: bool = False  # HOME stays the user's in the sandbox too (read-only there)

    def environment(self, env: Mapping[str, str], *, sandboxed: bool) -> dict[str, str]:
        """``env`` as the confined process sees it. In the sandbox: HOME is the attempt's
        folder and TMPDIR the private ``/tmp``. Without one, HOME stays the user's (a tool
        can reach it anyway; agent CLIs find their logins there). On both, the caches tools
        would write next to the code (``.ruff_cache``, ``.mypy_cache``, ``__pycache__``,
        ``.pytest_cache``) go to the attempt's folder, unless ``env`` places them: the code
        may be read-only (the user's checkout, for a task that does not write), and a cache
        in an attempt's copy is not part of its change."""
        out = dict(env)
        if self.home is None:
            return out
        if sandboxed:
            out["TMPDIR"] = str(_TMP)
        if sandboxed and not self.user_home:
            out["HOME"] = str(self.home)
            for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
                out.pop(name, None)
            # git still finds the user's identity and settings, read-only, from its real file.
            real = Path(env.get("HOME", "~")).expanduser() / ".gitconfig"
            if "GIT_CONFIG_GLOBAL" not in env and real.is_file():
                out["GIT_CONFIG_GLOBAL"] = str(real)
        caches = self.home / ".cache"
        for name, folder in _CACHE_VARIABLES.items():
            out.setdefault(name, str(caches / folder))
        if "cache_dir" not in env.get("PYTEST_ADDOPTS", ""):
            option = f"-o cache_dir={shlex.quote(str(caches / 'pytest'))}"
            out["PYTEST_ADDOPTS"] = " ".join(filter(None, (env.get("PYTEST_ADDOPTS"), option)))
        return out


@dataclass(frozen=True)
class Isolation:
    """The isolation in force for this process: ``level`` is ``bubblewrap`` or ``processes``,
    ``reason`` says why in words a person can act on."""

    level: str
    reason: str
    bwrap: str | None = None

    @property
    def sandboxed(self) -> bool:
        return self.level == BUBBLEWRAP

    def wrap(
        self, argv: Sequence[str], cwd: str, env: Mapping[str, str], confinement: Confinement
    ) -> tuple[list[str], dict[str, str]]:
        """The argv and environment that run ``argv`` confined (the argv unchanged when not
        sandboxed: the tools create the cache folders they are given)."""
        if not self.sandboxed or self.bwrap is None:
            return list(argv), confinement.environment(env, sandboxed=False)
        for folder in (confinement.home, *confinement.writable):  # what bwrap binds must exist
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        wrapped = [self.bwrap, *_bwrap_args(argv, cwd, env, confinement), "--", *argv]
        return wrapped, confinement.environment(env, sandboxed=True)


def _bwrap_args(
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    confinement: Confinement,
) -> list[str]:
    # --die-with-parent ties the sandbox to the thread that started bwrap (Linux's parent
    # death signal follows the thread): UET starts tools from worker threads that live as
    # long as their run or worker, never from a thread that ends first.
    args = ["--die-with-parent", "--new-session", "--unshare-all"]
    if confinement.network:
        args.append("--share-net")
    args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", str(_TMP)]
    writable = list(confinement.writable)
    if confinement.home is not None:
        writable.append(confinement.home)
    for path in _visible_under_tmp(argv, cwd, env, confinement.readable):
        if not any(path.is_relative_to(w) for w in writable):
            args += ["--ro-bind-try", str(path), str(path)]
    for path in dict.fromkeys(writable):
        args += ["--bind", str(path), str(path)]
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]
    args += ["--chdir", cwd]
    return args


def _visible_under_tmp(
    argv: Sequence[str], cwd: str, env: Mapping[str, str], readable: Iterable[Path]
) -> list[Path]:
    """What the process must still read that lives under the real ``/tmp`` (the private one
    hides it): the paths it was given, its working directory, the interpreter's prefixes, the
    folders around each PATH entry, and absolute argv items that exist."""
    wanted: list[Path] = [*readable, Path(cwd), Path(sys.prefix), Path(sys.base_prefix)]
    for entry in env.get("PATH", "").split(os.pathsep):
        if entry:
            wanted.append(Path(entry).parent)  # a venv's bin/ needs the venv around it
    for item in argv:
        if item.startswith("/") and "\0" not in item and os.path.exists(item):
            wanted.append(Path(item))
    found: list[Path] = []
    for path in wanted:
        resolved = Path(os.path.realpath(path))
        if resolved != _TMP and resolved.is_relative_to(_TMP) and resolved.exists():
            found.append(resolved)
    # Outermost first, and nothing bound twice.
    found.sort(key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in found:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


def detect(mode: str | None = None) -> Isolation:
    """The isolation this process can give its tools under ``mode`` (default: from
    ``$UET_SANDBOX``, else ``auto``): ``auto``, bubblewrap when it works here; ``off``,
    processes only; ``required``, the same as auto (the caller refuses to run when it is not
    sandboxed)."""
    return _detect(resolve_mode(mode))


@functools.lru_cache(maxsize=4)
def _detect(mode: str) -> Isolation:
    if mode == "off":
        return Isolation(PROCESSES, "the sandbox is turned off (sandbox: off)")
    if not sys.platform.startswith("linux"):
        return Isolation(PROCESSES, f"no OS sandbox on {sys.platform} yet; {INSTALL_HINT}")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Isolation(PROCESSES, f"bwrap is not on PATH; {INSTALL_HINT}")
    probe = [bwrap, *_bwrap_args(["true"], "/", {}, Confinement()), "--", "true"]
    try:
        result = subprocess.run(
            probe, capture_output=True, stdin=subprocess.DEVNULL, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation(PROCESSES, f"bwrap cannot start ({exc}); {INSTALL_HINT}")
    if result.returncode != 0:
        why = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = why[-1] if why else f"exit code {result.returncode}"
        return Isolation(
            PROCESSES,
            f"bwrap cannot make a sandbox here ({detail}); user namespaces may be disabled",
        )
    return Isolation(
        BUBBLEWRAP,
        f"bubblewrap ({bwrap}): read-only filesystem but the "
        "attempt's copy, private /tmp and HOME, own PID namespace, no network "
        "unless the tool declares it",
        bwrap,
    )


def resolve_mode(*choices: str | None) -> str:
    """One mode from every place that can set it (command line, environment, router config,
    project profile): ``required`` anywhere wins, then ``off`` anywhere, else ``auto``."""
    chosen = [c for c in (*choices, os.environ.get(ENV_VAR)) if c]
    for mode in chosen:
        if mode not in MODES:
            raise InvalidInput(
                f"unknown sandbox mode {mode[:40]!r} (from {ENV_VAR} or a config): use one of "
                f"{', '.join(MODES)}"
            )
    if "required" in chosen:
        return "required"
    return "off" if "off" in chosen else "auto"


def settings(
    router: Mapping[str, object] | None, *modes: str | None
) -> tuple[str, tuple[Path, ...]]:
    """The mode and extra writable paths a run's router config asks for (``sandbox``: a mode,
    or ``{"mode": ..., "writable": [...]}``), the mode resolved with ``modes`` (the project
    profile's) and ``$UET_SANDBOX``."""
    value = (router or {}).get("sandbox")
    mode: str | None = None
    writable: tuple[Path, ...] = ()
    if isinstance(value, str):
        mode = value
    elif isinstance(value, Mapping):
        chosen = value.get("mode")
        mode = chosen if isinstance(chosen, str) else None
        paths = value.get("writable") or []
        if isinstance(paths, list):
            writable = tuple(Path(str(p)).expanduser().resolve() for p in paths)
    return resolve_mode(mode, *modes), writable


def require_isolation(
    router: Mapping[str, object] | None, *modes: str | None, repo: Path | None = None
) -> Isolation:
    """The isolation a run with this router config (and project profile ``modes``) gets;
    refuses (exit 2, nothing written) when either, or ``$UET_SANDBOX``, requires a sandbox
    this machine cannot give, or when ``sandbox.writable`` would open ``repo`` (the user's
    checkout) to the tools."""
    mode, writable = settings(router, *modes)
    for path in writable:
        if repo is not None and (repo.is_relative_to(path) or path.is_relative_to(repo)):
            raise InvalidInput(
                f"sandbox.writable names {path}, which is or holds part of the repository "
                f"{repo}: tools would write into your checkout; name a folder outside it"
            )
    isolation = detect(mode)
    if mode == "required" and not isolation.sandboxed:
        raise SandboxUnavailable(f"{isolation.reason}; {INSTALL_HINT}")
    return isolation
