"""The Redactor: decoded JSON values whatever their characters, numbers and booleans that
hold a secret, and redaction of a stream as it is written (a Sink's file never holds a
secret, whatever the chunking, at any moment). Secrets come from the environment."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine.execution.sinks import Sink
from core.secrets import Redactor

SECRET = 'sk-live-ÉTÉ"quoted"\\back-42'  # noqa: S105 - non-ASCII, a quote, a backslash
MASK = "[redacted:DEMO_API_KEY]"


@pytest.fixture
def redact(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    monkeypatch.setenv("DEMO_API_KEY", SECRET)
    return Redactor()


def test_only_secret_names_of_four_characters_or_more_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_API_KEY", "abc")  # too short: would redact ordinary words
    monkeypatch.setenv("DEMO_PASSWORD_FILE", "hunter22")
    monkeypatch.setenv("DEMO_PLAIN", "visible-value")
    redact = Redactor()
    assert redact.text("abc hunter22 visible-value") == (
        "abc [redacted:DEMO_PASSWORD_FILE] visible-value"
    )


def test_no_secrets_is_falsy_and_changes_nothing() -> None:
    redact = Redactor({"PATH": "/usr/bin"})
    assert not redact
    value = {"a": [1, "x"]}
    assert redact.value(value) is value
    assert redact.data(b"anything") == b"anything"
    stream = redact.stream()
    assert stream.feed(b"abc") == b"abc"
    assert stream.flush() == b""


def test_json_values_are_redacted_on_their_decoded_characters(redact: Redactor) -> None:
    output = {
        "said": f"the key is {SECRET}!",
        SECRET: [SECRET, {"nested": f"<{SECRET}>"}, 3, None, True],
        "kept": "nothing secret",
    }
    cleaned = redact.value(output)
    assert cleaned == {
        "said": f"the key is {MASK}!",
        MASK: [MASK, {"nested": f"<{MASK}>"}, 3, None, True],
        "kept": "nothing secret",
    }
    assert SECRET not in json.dumps(cleaned, ensure_ascii=False)
    assert SECRET.encode() not in json.dumps(cleaned).encode()


def test_unchanged_values_are_not_copied(redact: Redactor) -> None:
    value = {"a": ["b", {"c": 1}]}
    assert redact.value(value) is value


def test_a_number_or_boolean_holding_a_secret_becomes_its_redacted_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIN_KEY", "1234")
    monkeypatch.setenv("FLAG_TOKEN", "true")
    redact = Redactor()
    assert redact.value(1234) == "[redacted:PIN_KEY]"
    assert redact.value([91234.5, 12, False]) == ["9[redacted:PIN_KEY].5", 12, False]
    assert redact.value({"ok": True}) == {"ok": "[redacted:FLAG_TOKEN]"}
    json.dumps(redact.value({"n": 1234, "f": 1.5e300}))  # always serialisable


def test_a_secret_inside_another_is_replaced_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORT_KEY", "abcd")
    monkeypatch.setenv("LONG_KEY", "xxabcdxx")
    redact = Redactor()
    assert redact.text("xxabcdxx abcd") == "[redacted:LONG_KEY] [redacted:SHORT_KEY]"
    assert redact.data(b"xxabcdxx abcd") == b"[redacted:LONG_KEY] [redacted:SHORT_KEY]"


def stream_all(redact: Redactor, chunks: list[bytes]) -> bytes:
    stream = redact.stream()
    return b"".join([stream.feed(chunk) for chunk in chunks] + [stream.flush()])


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.sampled_from([SECRET.encode(), b"xxabcdxx", b"abcd", b"xxab", b"cdxx"]),
            st.binary(max_size=12),
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_a_stream_is_redacted_the_same_wherever_it_is_cut(
    pieces: list[bytes], cuts: list[int]
) -> None:
    redact = Redactor({"DEMO_API_KEY": SECRET, "SHORT_KEY": "abcd", "LONG_KEY": "xxabcdxx"})
    whole = b"".join(pieces)
    bounds = sorted({0, len(whole), *(cut for cut in cuts if cut < len(whole))})
    chunks = [whole[a:b] for a, b in itertools.pairwise(bounds)]
    streamed = stream_all(redact, chunks)
    assert streamed == stream_all(redact, [whole]), "the chunking changes nothing"
    # Ended by a byte no secret holds, the stream is redacted exactly like the whole.
    assert stream_all(redact, [*chunks, b"."]) == redact.data(whole + b".")
    for secret in (SECRET.encode(), b"abcd", b"xxabcdxx"):
        assert secret not in streamed


def test_a_sinks_file_never_holds_the_secret_even_while_it_is_written(
    redact: Redactor, tmp_path: Path
) -> None:
    """Byte by byte: after every chunk the file on disk (flushed, as a kill -9 would leave it)
    holds no secret; only fewer bytes than the longest secret wait in memory."""
    path = tmp_path / "t.stdout.log"
    sink = Sink(path, cap=10_000, redact=redact)
    data = f"before {SECRET} middle {SECRET}{SECRET} after".encode()
    for index in range(len(data)):
        sink.feed(data[index : index + 1])
        if sink._file is not None:
            sink._file.flush()
            on_disk = path.read_bytes()
            assert SECRET.encode() not in on_disk
        assert sink._scrub is not None
        assert len(sink._scrub._pending) < redact.longest
    log = sink.close()
    assert log is not None
    assert path.read_text() == f"before {MASK} middle {MASK}{MASK} after"
    assert (log.bytes, log.truncated) == (len(data), False)
    assert sink.last_lines()[-1] == f"before {MASK} middle {MASK}{MASK} after"


def test_a_sink_caps_what_it_writes_after_redaction(redact: Redactor, tmp_path: Path) -> None:
    sink = Sink(tmp_path / "log", cap=10, redact=redact)
    sink.feed(f"{SECRET} and more text".encode())
    log = sink.close()
    assert log is not None
    assert log.truncated
    assert (tmp_path / "log").read_bytes().startswith(MASK[:10].encode())
    assert SECRET.encode()[:10] not in (tmp_path / "log").read_bytes()


def test_a_sink_without_secrets_holds_nothing_back(tmp_path: Path) -> None:
    sink = Sink(tmp_path / "log", cap=100, redact=Redactor({}))
    sink.feed(b"x")
    assert sink._file is not None
    sink._file.flush()
    assert (tmp_path / "log").read_bytes() == b"x"
    sink.close()


def test_a_file_written_by_a_gate_is_rewritten_redacted(redact: Redactor, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(f"<failure message='{SECRET}'/>", encoding="utf-8")
    redact.file(report)
    assert report.read_text(encoding="utf-8") == f"<failure message='{MASK}'/>"
    redact.file(tmp_path / "missing.xml")  # nothing to do, no error


def test_a_stream_cut_inside_a_secret_masks_the_piece_it_ends_with(redact: Redactor) -> None:
    """A tool killed while printing the secret: the piece it printed is not kept either, once
    it is half the secret or more."""
    data = SECRET.encode()
    for cut in range(1, len(data)):
        stream = redact.stream()
        out = stream.feed(b"key: " + data[:cut]) + stream.flush()
        if cut >= max(len(data) // 2, 4):
            assert out == f"key: {MASK}".encode(), cut
        else:
            assert out == b"key: " + data[:cut]
