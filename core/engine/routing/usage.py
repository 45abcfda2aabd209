"""What an agent CLI's own stdout says about the tokens, model and money one run used.

A tool's router entry names one parser (``usage`` in router_config.v1); each reads the format its
CLI prints, tolerates noise and truncation, and returns None when it finds nothing it knows:

``claude_json``
    Claude Code, ``claude -p PROMPT --output-format json``: one JSON object, last on stdout,
    ``{"type": "result", "subtype": "success" | "error_max_turns" | "error_during_execution",
    "is_error", "result", "errors", "total_cost_usd"`` (``cost_usd`` in early versions)``,
    "usage": {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
    "output_tokens"}, "modelUsage": {MODEL_ID: {"inputTokens", ..., "costUSD"}}}``. The last
    line of ``--output-format stream-json`` is the same object, so that format parses too.
``codex_jsonl``
    OpenAI Codex CLI, ``codex exec --json PROMPT``: JSON Lines events. Each turn ends with
    ``{"type": "turn.completed", "usage": {"input_tokens", "cached_input_tokens",
    "output_tokens"}}``; failures are ``{"type": "turn.failed", "error": {"message"}}`` and
    ``{"type": "error", "message"}`` (also sent, harmlessly, while it reconnects). Codex reports
    neither its model nor a cost.
``aider_text``
    aider, ``aider --message MSG FILES``: plain text. The banner names the model
    (``Model: NAME with diff edit format`` or ``Main model: NAME with ...`` beside a weak
    model); each message ends with ``Tokens: 2.5k sent, 2.2k cache write, 1.3k cache hit, 215
    received.`` and ``Cost: $0.02 message, $0.05 session.`` (on the next line when both cache
    counts appear). aider rounds counts (``999``, ``4.2k`` below 10k, ``12k`` above), so its
    totals are approximate.

The token fields mean the same for every CLI: ``tokens_in`` is input billed at the full input
price, without cache reads and writes. Anthropic's ``input_tokens`` already is; OpenAI counts
cached tokens inside ``input_tokens``, so codex's ``cached_input_tokens`` are taken out; aider
adds cache writes to the figure it prints as "sent", so they are taken out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput

CACHE_READ_PRICE_FACTOR = 0.10
"""A cache read costs this share of the input price (Anthropic's rate; OpenAI's is lower)."""
CACHE_WRITE_PRICE_FACTOR = 1.25
"""A cache write costs this multiple of the input price (Anthropic's five-minute cache)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens, model and cost as one CLI run reported them.

    ``tokens_in`` counts uncached input tokens (see the module docstring for each CLI);
    ``cache_read_tokens`` and ``cache_write_tokens`` are the input tokens read from and written
    to the provider's prompt cache, counted apart. ``error`` is set when the output itself
    reports failure (claude's ``is_error`` or an ``error_*`` subtype, codex's ``turn.failed``,
    aider's ``litellm.*Error`` line), even if the process exited 0.
    """

    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model: str | None = None
    reported_cost: float | None = None
    error: str | None = None

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    def document(self) -> dict[str, Any]:
        """The ``usage`` object of a cost_record.v1 document."""
        return {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "model": self.model,
            "reported_cost": self.reported_cost,
        }


def estimate_cost(usage: Usage, price: Mapping[str, Any] | None) -> float | None:
    """The cost of ``usage`` at ``price`` (``input_per_mtok``, ``output_per_mtok``: per million
    tokens), in the price's currency; None without a price.

    Cache reads are priced at 10% of the input price and cache writes at 125%
    (:data:`CACHE_READ_PRICE_FACTOR`, :data:`CACHE_WRITE_PRICE_FACTOR`).
    """
    if price is None:
        return None
    per_input = float(price["input_per_mtok"])
    input_cost = per_input * (
        usage.tokens_in
        + usage.cache_read_tokens * CACHE_READ_PRICE_FACTOR
        + usage.cache_write_tokens * CACHE_WRITE_PRICE_FACTOR
    )
    return (input_cost + float(price["output_per_mtok"]) * usage.tokens_out) / 1_000_000


def parse_usage(parser: str, output: str) -> Usage | None:
    """What ``output`` (a CLI's stdout) reports, read by the parser named ``parser``."""
    try:
        parse = PARSERS[parser]
    except KeyError:
        raise InvalidInput(
            f"unknown usage parser {parser!r} (known: {', '.join(PARSERS)})"
        ) from None
    return parse(output)


# --- claude -------------------------------------------------------------------------------------

_OBJECT_START = re.compile(r"^[ \t]*\{", re.MULTILINE)


def parse_claude_json(output: str) -> Usage | None:
    result = _claude_result(output)
    if result is None:
        return None
    per_model = result.get("modelUsage")
    per_model = per_model if isinstance(per_model, dict) else {}
    cost = _amount(result.get("total_cost_usd"))
    if cost is None:
        cost = _amount(result.get("cost_usd"))
    counts = _claude_counts(result.get("usage"), per_model)
    return Usage(
        **counts, model=_main_model(per_model), reported_cost=cost, error=_claude_error(result)
    )


_CLAUDE_FIELDS = {  # Usage field: (name in "usage", name in each "modelUsage" entry)
    "tokens_in": ("input_tokens", "inputTokens"),
    "tokens_out": ("output_tokens", "outputTokens"),
    "cache_read_tokens": ("cache_read_input_tokens", "cacheReadInputTokens"),
    "cache_write_tokens": ("cache_creation_input_tokens", "cacheCreationInputTokens"),
}


def _claude_counts(usage: Any, per_model: Mapping[str, Any]) -> dict[str, int]:
    if isinstance(usage, dict):
        return {field: _count(usage.get(key)) for field, (key, _) in _CLAUDE_FIELDS.items()}
    # No summary (an old or odd version): add up the per-model figures.
    entries = [entry for entry in per_model.values() if isinstance(entry, dict)]
    return {
        field: sum(_count(entry.get(key)) for entry in entries)
        for field, (_, key) in _CLAUDE_FIELDS.items()
    }


def _claude_result(output: str) -> dict[str, Any] | None:
    """The last ``{"type": "result"}`` object that starts a line of ``output``."""
    decoder = json.JSONDecoder()
    for match in reversed(list(_OBJECT_START.finditer(output))):
        try:
            found, _ = decoder.raw_decode(output, match.end() - 1)
        except (ValueError, RecursionError):
            continue
        if isinstance(found, dict) and found.get("type") == "result":
            return found
    return None


def _main_model(per_model: Mapping[str, Any]) -> str | None:
    # Claude Code may bring in a small model for chores; the one that cost most did the work.
    def weight(name: str) -> tuple[float, int]:
        entry = per_model[name] if isinstance(per_model[name], dict) else {}
        return (_amount(entry.get("costUSD")) or 0.0, _count(entry.get("outputTokens")))

    return max(per_model, key=weight, default=None)


def _claude_error(result: Mapping[str, Any]) -> str | None:
    subtype = result.get("subtype")
    subtype = subtype if isinstance(subtype, str) else ""
    is_error = result.get("is_error") is True
    if not is_error and not subtype.startswith("error"):
        return None
    errors = result.get("errors")
    details = [str(e).strip() for e in errors if str(e).strip()] if isinstance(errors, list) else []
    text = result.get("result")
    if not details and is_error and isinstance(text, str) and text.strip():
        details = [text.strip()]  # API errors come as subtype "success" with the text here
    detail = "; ".join(details)
    if subtype in ("", "success"):
        return detail or "is_error"
    return f"{subtype}: {detail}" if detail else subtype


# --- codex --------------------------------------------------------------------------------------


def parse_codex_jsonl(output: str) -> Usage | None:
    tokens_in = tokens_out = cached = 0
    failure: str | None = None
    recognised = False
    for event in _json_lines(output):
        kind = event.get("type")
        if kind == "turn.completed":
            usage = event.get("usage")
            usage = usage if isinstance(usage, dict) else {}
            cached_now = _count(usage.get("cached_input_tokens"))
            tokens_in += max(_count(usage.get("input_tokens")) - cached_now, 0)
            tokens_out += _count(usage.get("output_tokens"))
            cached += cached_now
            failure = None  # an error before a completed turn was a retry that recovered
        elif kind == "turn.failed":
            error = event.get("error")
            failure = _message(error.get("message") if isinstance(error, dict) else None, kind)
        elif kind == "error":
            failure = _message(event.get("message"), kind)
        else:
            continue
        recognised = True
    if not recognised:
        return None
    return Usage(tokens_in, tokens_out, cache_read_tokens=cached, error=failure)


def _json_lines(output: str) -> Iterator[dict[str, Any]]:
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue  # log lines, "Reading prompt from stdin..."
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(event, dict):
            yield event


def _message(value: Any, fallback: str) -> str:
    return value.strip() if isinstance(value, str) and value.strip() else fallback


# --- aider --------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_COUNT = r"\d+(?:\.\d+)?[kKM]?"
_TOKENS = re.compile(
    rf"^\s*Tokens: (?P<sent>{_COUNT}) sent"
    rf"(?:, (?P<write>{_COUNT}) cache write)?"
    rf"(?:, (?P<hit>{_COUNT}) cache hit)?"
    rf", (?P<received>{_COUNT}) received\.",
    re.MULTILINE,
)
_COST = re.compile(
    r"Cost: \$(?P<message>\d+(?:\.\d+)?) message, \$(?P<session>\d+(?:\.\d+)?) session"
)
_MODEL = re.compile(r"^\s*(?:Main model|Models?): (?P<model>\S+) with ", re.MULTILINE)
_ERROR = re.compile(r"^\s*(?P<error>litellm\.\w*(?:Error|Exception)\w*:.*?)\s*$", re.MULTILINE)
_SCALE = {"": 1, "k": 1_000, "K": 1_000, "M": 1_000_000}


def parse_aider_text(output: str) -> Usage | None:
    text = _ANSI.sub("", output)
    reports = list(_TOKENS.finditer(text))
    errors = list(_ERROR.finditer(text))
    # An error followed by a token report was retried and recovered.
    last_report = reports[-1].end() if reports else -1
    failure = next((e["error"] for e in reversed(errors) if e.start() > last_report), None)
    if not reports and failure is None:
        return None
    sent = sum(_aider_count(r["sent"]) for r in reports)
    written = sum(_aider_count(r["write"]) for r in reports)
    costs = list(_COST.finditer(text))
    model = _MODEL.search(text)
    return Usage(
        tokens_in=max(sent - written, 0),
        tokens_out=sum(_aider_count(r["received"]) for r in reports),
        cache_read_tokens=sum(_aider_count(r["hit"]) for r in reports),
        cache_write_tokens=written,
        model=model["model"] if model else None,
        reported_cost=float(costs[-1]["session"]) if costs else None,
        error=failure,
    )


def _aider_count(text: str | None) -> int:
    """Undo aider's ``format_tokens``: ``"4.2k"`` -> 4200."""
    if not text:
        return 0
    suffix = text[-1] if text[-1] in _SCALE else ""
    return round(float(text[: len(text) - len(suffix)]) * _SCALE[suffix])


# --- shared -------------------------------------------------------------------------------------


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _amount(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _none(output: str) -> Usage | None:
    return None


PARSERS: Mapping[str, Callable[[str], Usage | None]] = {
    "claude_json": parse_claude_json,
    "codex_jsonl": parse_codex_jsonl,
    "aider_text": parse_aider_text,
    "none": _none,
}
"""The usage parsers by the names router_config.v1 gives them."""
