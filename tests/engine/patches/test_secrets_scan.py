"""The secrets a patch would add: the values of secret variables in UET's environment and
credentials of well-known formats, found in added lines only, named by file, line and
variable or kind (never the value), and masked in the stored diff. Diffs are made by the real
git from real repositories in tmp_path; the tokens are built at run time, so this file itself
holds none (a scan of the repository finds nothing here).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitrepos import git, make_repo, write_files

from core.engine.patches.secrets_scan import CREDENTIAL_FORMATS, redacted_diff, scan_patch
from core.secrets import Redactor

SECRET = "sk-demo-Ünïcode-7f3a9c2e"  # noqa: S105 - made up, set as DEMO_API_KEY below
BASE64 = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 2

TOKENS = {
    "an AWS access key id": "AKIA" + "Z7Q4R2M8K1P5X3W9",
    "a GitHub token": "gh" + "p_" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cD1fG2hJ4",
    "a GitLab token": "gl" + "pat-" + "xY9_zW8-vU7tS6rQ5pO4",
    "a Slack token": "xo" + "xb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "a Slack webhook": "https://hooks.slack.com/services/"
    + "T0123ABCD/B0456EFGH/aBcDeFgHiJkLmNoPqRsT",
    "an OpenAI API key": "sk-" + "proj-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz_-AbCdEfGhIj",
    "an Anthropic API key": "sk-"
    + "ant-api03-"
    + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa_-ZyXwVuTsRqPo",
    "a Stripe secret key": "sk" + "_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "a Google API key": "AI" + "za" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "an npm token": "np" + "m_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "a PyPI token": "pypi-"
    + "AgEIcHlwaS5vcmc"
    + "CJGI4ZTZhYjc3LTk5ZmMtNDQ4Yy1hNjQ5LTAxY2M2ZTc1NzJkMg",
}
PRIVATE_KEY = (
    "-----BEGIN "
    + "RSA PRIVATE KEY-----\n"
    + f"{BASE64}\n{BASE64}\n"
    + ("-----END RSA PRIVATE KEY-----\n")
)


@pytest.fixture
def redact(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    monkeypatch.setenv("DEMO_API_KEY", SECRET)
    return Redactor()


def diff_of(tmp_path: Path, before: dict[str, str], after: dict[str, str]) -> bytes:
    """The patch git makes of changing ``before`` into ``after`` (as UET's capture does:
    staged, binary, full index)."""
    repo = make_repo(tmp_path / "repo", before)
    write_files(repo, after)
    git(repo, "add", "--all")
    return subprocess.run(
        ["git", "diff", "--cached", "--binary", "--full-index", "--no-color", "HEAD"],
        cwd=repo,
        check=True,
        capture_output=True,
    ).stdout


def test_the_value_of_a_secret_variable_in_an_added_line_is_found_with_file_and_line(
    tmp_path: Path, redact: Redactor
) -> None:
    before = {"src/app.py": "a = 1\nb = 2\nc = 3\n", "README.md": "hello\n"}
    after = {
        "src/app.py": f"a = 1\nb = 2\nKEY = '{SECRET}'\nc = 3\n",
        "docs/new file.md": f"first\n\nthe key is {SECRET} (twice: {SECRET})\n",
    }
    diff = diff_of(tmp_path, before, after)
    found = scan_patch(diff, redact)
    assert [f.reason for f in found] == [
        "docs/new file.md:3: adds the value of the secret variable DEMO_API_KEY",
        "src/app.py:3: adds the value of the secret variable DEMO_API_KEY",
    ]
    stored = redacted_diff(diff, redact)
    assert SECRET.encode() not in stored
    assert b"+KEY = '[redacted:DEMO_API_KEY]'" in stored
    assert stored.count(b"\n") == diff.count(b"\n"), "the diff keeps its lines"


def test_a_secret_only_in_removed_or_context_lines_is_not_a_finding(
    tmp_path: Path, redact: Redactor
) -> None:
    """Deleting a committed key is a good patch; so is editing next to it."""
    before = {"settings.py": f"KEY = '{SECRET}'\nDEBUG = True\nOTHER = 1\n", "b.py": "x\n"}
    after = {"settings.py": "KEY = os.environ['DEMO_API_KEY']\nDEBUG = False\nOTHER = 1\n"}
    assert scan_patch(diff_of(tmp_path, before, after), redact) == []
    before = {"a.py": f"KEY = '{SECRET}'\nx = 1\n"}
    after = {"a.py": f"KEY = '{SECRET}'\nx = 2\n"}
    assert scan_patch(diff_of(tmp_path / "2", before, after), redact) == []


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_each_credential_format_is_found_and_masked(
    tmp_path: Path, redact: Redactor, kind: str
) -> None:
    token = TOKENS[kind]
    after = {"config.py": f'import os\n\nTOKEN = "{token}"\n'}
    diff = diff_of(tmp_path, {"x.txt": "x\n"}, after)
    (finding,) = scan_patch(diff, redact)
    assert finding.reason == f"config.py:3: adds {kind}"
    assert token not in finding.reason
    stored = redacted_diff(diff, redact)
    assert token.encode() not in stored
    assert b'+TOKEN = "[redacted:' in stored


def test_a_private_key_block_is_found_and_masked_line_by_line(
    tmp_path: Path, redact: Redactor
) -> None:
    after = {"deploy/id_rsa": PRIVATE_KEY, "k.py": f"KEY = {PRIVATE_KEY!r}\n"}
    diff = diff_of(tmp_path, {"x.txt": "x\n"}, after)
    found = scan_patch(diff, redact)
    assert [f.reason for f in found] == [
        "deploy/id_rsa:1: adds a private key",
        "k.py:1: adds a private key",
    ]
    stored = redacted_diff(diff, redact)
    assert BASE64[:40].encode() not in stored
    assert stored.count(b"\n") == diff.count(b"\n")


def test_ordinary_code_about_credentials_is_not_a_finding(tmp_path: Path, redact: Redactor) -> None:
    """What a codebase handling credentials holds: the markers named by a parser, AWS's
    documentation key, prefixes, short or long look-alikes, hashes, identifiers."""
    code = "\n".join(
        [
            "MARKER = '-----BEGIN " + "RSA PRIVATE KEY-----'",
            "if line.startswith('-----BEGIN '):  # a PEM block",
            "EXAMPLE_KEY = 'AKIA" + "IOSFODNN7EXAMPLE'",
            "prefix = 'gh" + "p_'  # GitHub tokens start so",
            "ask_live_updates = True",
            "task-ant-api03-style = 1",
            "mask_live_" + "x" * 30,
            "sha = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'",
            "desk-" + "proj-" + "a" * 50,
            "password = os.environ['DB_PASSWORD']",
            "api_key = settings.API_KEY",
        ]
    )
    diff = diff_of(tmp_path, {"x.txt": "x\n"}, {"creds.py": code + "\n"})
    assert scan_patch(diff, redact) == []


def test_uets_own_source_and_docs_hold_no_finding(redact: Redactor) -> None:
    """Every file of this repository's core/, docs/ and tests/, as if one patch added it all:
    the formats do not fire on ordinary code (this file builds its tokens at run time)."""
    root = Path(__file__).resolve().parents[3]
    files = sorted(
        path
        for folder in ("core", "docs", "tests", "profiles", "schema")
        for path in (root / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".md", ".json", ".toml", ".txt"}
    )
    assert len(files) > 100
    chunks = []
    for path in files:
        lines = path.read_bytes().split(b"\n")
        header = f"diff --git a/{path.name} b/{path.name}\n+++ b/{path.name}\n@@ -0,0 +1 @@\n"
        chunks.append(header.encode() + b"\n".join(b"+" + line for line in lines))
    assert scan_patch(b"\n".join(chunks), Redactor({})) == []


def test_nothing_secret_costs_one_pass_and_no_finding(redact: Redactor) -> None:
    diff = b"diff --git a/a b/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n"
    assert scan_patch(diff, redact) == []
    assert redacted_diff(diff, Redactor({})) == diff
    assert len({f.kind for f in CREDENTIAL_FORMATS}) == len(TOKENS) + 1
