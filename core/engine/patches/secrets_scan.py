"""Secrets a patch would add to the repository: the values of the secret variables in UET's
environment, and credentials of a format nobody writes by accident.

Only *added* lines count (a patch that deletes a committed key is a good patch). Each finding
names the file, the line and the variable or the kind of credential, never the value; the
policy check rejects the patch with those reasons, and the diff stored for it is redacted
(:func:`redacted_diff`).

The formats are a small table of high-confidence patterns (a vendor prefix or a fixed marker
and a fixed length), the same ones detect-secrets and gitleaks use; entropy and "password = ..."
keyword heuristics are left out on purpose: on ordinary code they flag hashes, test data and
identifiers, and a rejected patch is costly (the agent runs again). AWS's documentation keys
(``...EXAMPLE``) are not findings.
"""

from __future__ import annotations

import bisect
import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from core.secrets import Redactor

_PEM_LABEL = rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = rb"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"


@dataclass(frozen=True)
class CredentialFormat:
    kind: str  # what a rejection names: "adds <kind>"
    mask: str  # what replaces it in a stored diff: "[redacted:<mask>]"
    pattern: re.Pattern[bytes]


def _format(kind: str, mask: str, pattern: bytes) -> CredentialFormat:
    return CredentialFormat(kind, mask, re.compile(pattern))


# Each pattern starts with a literal, so the regex engine skips ahead to it (a leading \b or
# character class makes it try every position: ten times slower); "not the tail of a longer
# word" is checked on the byte before a match instead (_matches).
CREDENTIAL_FORMATS: tuple[CredentialFormat, ...] = (
    # The marker and key material after it (on the next lines, or after a literal "\n" in a
    # string), not a parser's mention of the marker. Masked whole in a stored diff (_BLOCK).
    _format(
        "a private key",
        "private-key",
        _PEM_LABEL + rb"(?:\\n|\s|[A-Za-z-]+: [^\n]*\n)*\+?[A-Za-z0-9+/]{40,}",
    ),
    _format(
        "an AWS access key id",
        "aws-access-key-id",
        rb"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])(?![A-Z0-9]*EXAMPLE\b)[A-Z0-9]{16}\b",
    ),
    _format("a GitHub token", "github-token", rb"gh[pousr]_[A-Za-z0-9]{36}\b"),
    _format("a GitHub token", "github-token", rb"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b"),
    _format("a GitLab token", "gitlab-token", rb"glpat-[A-Za-z0-9_-]{20,}"),
    _format("a Slack token", "slack-token", rb"xox[abposr]-[0-9]{6,}-[A-Za-z0-9-]{8,}"),
    _format(
        "a Slack webhook",
        "slack-webhook",
        rb"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]{16,}",
    ),
    _format(
        "an OpenAI API key",
        "openai-api-key",
        rb"sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"
        rb"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}",
    ),
    _format(
        "an Anthropic API key",
        "anthropic-api-key",
        rb"sk-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_-]{40,}",
    ),
    _format("a Stripe secret key", "stripe-secret-key", rb"[rs]k_live_[A-Za-z0-9]{24,}"),
    _format("a Google API key", "google-api-key", rb"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    _format("an npm token", "npm-token", rb"npm_[A-Za-z0-9]{36}\b"),
    _format("a PyPI token", "pypi-token", rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
)
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

# What is masked in a stored diff: a whole key block (to its END marker, or else as far as
# lines of key material go), line by line.
_BLOCK = re.compile(
    _PEM_LABEL
    + rb"(?:[\s\S]{0,20000}?"
    + _PEM_END
    + rb"|(?:(?:\\n|\r?\n[+ -]?)(?:[A-Za-z-]+: [^\n]*|[A-Za-z0-9+/=]{8,}))*)"
)


@dataclass(frozen=True)
class Finding:
    """A secret in an added line: where, and what (never the value)."""

    path: str
    line: int
    what: str  # "the value of the secret variable DEMO_API_KEY", "a GitHub token"

    @property
    def reason(self) -> str:
        return f"{self.path}:{self.line}: adds {self.what}"


def scan_patch(diff: bytes, redact: Redactor) -> list[Finding]:
    """Every secret the added lines of ``diff`` (a unified git diff) hold, in diff order."""
    secrets = [(name, value.encode()) for name, value in redact.secrets if value.encode() in diff]
    formats = [f for f in CREDENTIAL_FORMATS if next(_matches(f.pattern, diff), None)]
    if not secrets and not formats:
        return []
    findings: list[Finding] = []
    for path, lines in _added_lines(diff):
        text = b"\n".join(content for _, content in lines)
        starts = list(_offsets(lines))
        hits: list[tuple[int, str]] = [
            (match.start(), f"the value of the secret variable {name}")
            for name, value in secrets
            for match in re.finditer(re.escape(value), text)
        ]
        hits += [
            (match.start(), credential.kind)
            for credential in formats
            for match in _matches(credential.pattern, text)
        ]
        seen: set[tuple[int, str]] = set()
        for offset, what in sorted(hits):
            line = lines[bisect.bisect_right(starts, offset) - 1][0]
            if (line, what) not in seen:
                seen.add((line, what))
                findings.append(Finding(path, line, what))
    return findings


def redacted_diff(diff: bytes, redact: Redactor) -> bytes:
    """``diff`` with the secrets of ``redact`` and every credential format replaced by
    ``[redacted:...]``, line structure kept (a key block's lines each become a mask)."""
    cleaned = redact.data(diff)
    cleaned = _BLOCK.sub(lambda match: _mask_lines(match[0], b"[redacted:private-key]"), cleaned)
    for credential in CREDENTIAL_FORMATS[1:]:  # the key blocks are masked whole above
        mask = f"[redacted:{credential.mask}]".encode()
        cleaned = credential.pattern.sub(mask, cleaned)
    return cleaned


def _matches(pattern: re.Pattern[bytes], text: bytes) -> Iterator[re.Match[bytes]]:
    """The matches of ``pattern`` in ``text`` that do not continue a longer word."""
    for match in pattern.finditer(text):
        start = match.start()
        if start == 0 or text[start - 1] not in _WORD:
            yield match


def _mask_lines(region: bytes, mask: bytes) -> bytes:
    lines = region.split(b"\n")
    kept = [mask] + [line[:1] + mask if line[:1] in b"+- " else mask for line in lines[1:]]
    return b"\n".join(kept)


def _offsets(lines: list[tuple[int, bytes]]) -> Iterator[int]:
    offset = 0
    for _, content in lines:
        yield offset
        offset += len(content) + 1


def _added_lines(diff: bytes) -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """(path, [(line number in the new file, content)]) of each file's added lines."""
    path: str | None = None
    added: list[tuple[int, bytes]] = []
    number = 0
    in_hunk = False
    for line in diff.split(b"\n"):
        if line.startswith(b"diff --git "):
            if path is not None and added:
                yield path, added
            path, added, in_hunk = None, [], False
        elif not in_hunk and line.startswith(b"+++ "):
            path = _header_path(line[4:])
        elif line.startswith(b"@@ "):
            in_hunk = True
            match = re.match(rb"@@ -\d+(?:,\d+)? \+(\d+)", line)
            number = int(match[1]) if match else 1
        elif in_hunk and line.startswith(b"+"):
            added.append((number, line[1:]))
            number += 1
        elif in_hunk and line.startswith(b" "):
            number += 1
        elif line.startswith(b"GIT binary patch"):
            in_hunk = False
    if path is not None and added:
        yield path, added


def _header_path(raw: bytes) -> str | None:
    """The path of a ``+++`` header (``b/src/app.py``, or C-quoted when it has odd bytes)."""
    raw = raw.rstrip(b"\t")
    if raw == b"/dev/null":
        return None
    if raw.startswith(b'"') and raw.endswith(b'"'):
        raw = codecs.escape_decode(raw[1:-1])[0]
    text = raw.decode("utf-8", "replace")
    return text[2:] if text.startswith("b/") else text
