"""What the fake agent CLIs in this directory (``claude``, ``codex``, ``aider``) share.

The real CLIs and the LLMs behind them cannot be reached from the test machine, so each fake
parses its argv like the real CLI, edits files like an agent would, and prints exactly the
real CLI's output format. Environment variables say what to do:

``FAKE_AGENT_EDITS``       JSON object {relative path: new content}, written under the working
                           directory (parents created), even when the run then fails
``FAKE_AGENT_TOKENS_IN``   input tokens to report (default 1200)
``FAKE_AGENT_TOKENS_OUT``  output tokens to report (default 300)
``FAKE_AGENT_COST``        USD to report (default: the tokens at $3 / $15 per million);
                           codex never reports a cost
``FAKE_AGENT_MODEL``       model to report; ``--model`` on the command line wins
``FAKE_AGENT_FAIL``        an error message: the run fails the way the real CLI reports it
``FAKE_AGENT_SLEEP``       seconds to sleep before answering (timeout tests)
``FAKE_AGENT_ECHO_ENV``    name of a variable whose value is printed to stdout and stderr
``FAKE_AGENT_RECORD``      file to append {"cli", "argv", "cwd", "stdin_closed"} to, one JSON line
``FAKE_AGENT_SCRIPT``      a JSON file {cli: {task id or "*": {"edits", "tokens_in", "tokens_out",
                           "cost", "model", "fail"}}}: what each CLI does for each task (the task
                           id comes from UET_TASK_ID); its entries win over the variables above
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

_peeked = b""  # what stdin_closed() had to read to find out; read_stdin() returns it too


@dataclass(frozen=True)
class Act:
    """What this run of a fake does, from the environment and the ``--model`` option."""

    edits: Mapping[str, str]
    tokens_in: int
    tokens_out: int
    cost: float
    model: str
    failure: str | None


def scripted(cli: str) -> dict[str, str]:
    """This CLI's entry for the current task in ``FAKE_AGENT_SCRIPT``, as FAKE_AGENT_* values."""
    path = os.environ.get("FAKE_AGENT_SCRIPT")
    if not path:
        return {}
    script = json.loads(Path(path).read_text(encoding="utf-8")).get(cli, {})
    entry = script.get(os.environ.get("UET_TASK_ID", ""), script.get("*", {}))
    return {
        f"FAKE_AGENT_{key.upper()}": value if isinstance(value, str) else json.dumps(value)
        for key, value in entry.items()
    }


def act(default_model: str, model_option: str | None) -> Act:
    env = {**os.environ, **scripted(Path(sys.argv[0]).name)}
    tokens_in = int(env.get("FAKE_AGENT_TOKENS_IN", "1200"))
    tokens_out = int(env.get("FAKE_AGENT_TOKENS_OUT", "300"))
    cost = env.get("FAKE_AGENT_COST")
    edits = json.loads(env.get("FAKE_AGENT_EDITS") or "{}")
    if not isinstance(edits, dict):
        raise SystemExit("FAKE_AGENT_EDITS must be a JSON object {path: content}")
    return Act(
        edits={str(path): str(content) for path, content in edits.items()},
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=float(cost) if cost else (tokens_in * 3 + tokens_out * 15) / 1_000_000,
        model=model_option or env.get("FAKE_AGENT_MODEL") or default_model,
        failure=env.get("FAKE_AGENT_FAIL") or None,
    )


def start(cli: str, argv: Sequence[str]) -> None:
    """What every fake does first: record its call, echo a variable, sleep."""
    record = os.environ.get("FAKE_AGENT_RECORD")
    if record:
        line = {"cli": cli, "argv": list(argv), "cwd": os.getcwd(), "stdin_closed": stdin_closed()}
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    name = os.environ.get("FAKE_AGENT_ECHO_ENV")
    if name:
        value = os.environ.get(name, "")
        print(f"{name}={value}", flush=True)
        print(f"{name}={value}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get("FAKE_AGENT_SLEEP") or 0))


def parse_argv(
    cli: str,
    argv: Sequence[str],
    valued: Mapping[str, str],
    switches: Mapping[str, str],
) -> tuple[dict[str, str | bool], list[str]]:
    """Options (by the names ``valued`` and ``switches`` map each spelling to) and positional
    arguments; an unknown option ends the run with status 2, as the real CLIs do."""
    options: dict[str, str | bool] = {}
    positional: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            positional += args
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        flag, has_value, value = arg.partition("=")
        if flag in switches and not has_value:
            options[switches[flag]] = True
        elif flag in valued:
            if not has_value:
                if not args:
                    usage_error(cli, f"option '{flag}' argument missing")
                value = args.pop(0)
            options[valued[flag]] = value
        else:
            usage_error(cli, f"unknown option '{arg}'")
    return options, positional


def usage_error(cli: str, message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    print(f"Usage: {cli} [options] ...  (the fake {cli} of UET's tests)", file=sys.stderr)
    raise SystemExit(2)


def apply_edits(edits: Mapping[str, str], root: Path | None = None) -> list[Path]:
    """Write each edit under ``root`` (the working directory); the paths written."""
    written = []
    for relative, content in edits.items():
        path = (root or Path.cwd()) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def stdin_closed(wait: float = 0.2) -> bool:
    """True when reading stdin gives end-of-file at once (stdin=DEVNULL or a closed pipe);
    False when it has data or nothing arrives within ``wait`` seconds (an open pipe or a tty)."""
    global _peeked
    try:
        ready, _, _ = select.select([sys.stdin], [], [], wait)
        if not ready:
            return False
        _peeked = os.read(sys.stdin.fileno(), 1)
    except (OSError, ValueError, AttributeError):
        return True  # no stdin at all
    return _peeked == b""


def read_stdin() -> str:
    try:
        rest = sys.stdin.buffer.read()
    except (OSError, ValueError, AttributeError):
        rest = b""
    return (_peeked + rest).decode("utf-8", errors="replace")


def new_id() -> str:
    return str(uuid.uuid4())


def emit(line: str) -> None:
    print(line, flush=True)


def emit_json(document: object) -> None:
    emit(json.dumps(document, separators=(",", ":"), ensure_ascii=False))
