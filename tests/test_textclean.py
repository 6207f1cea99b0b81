"""The one text-cleaning module: surrogates, control and bidi characters, log escaping."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpn_sms_notify.textclean import (
    clean_sms_text,
    escape_surrogates,
    for_log,
    repair_surrogates,
)


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    assert repair_surrogates("a\ud800b") == "a\ufffdb"
    assert repair_surrogates("\udfff") == "\ufffd"


def test_two_halves_of_a_pair_are_joined() -> None:
    # UCS-2 concatenation may end one part with a high and start the next with a low half.
    assert repair_surrogates("Look \ud83d" + "\ude00 nice") == "Look \U0001f600 nice"


def test_clean_text_is_returned_unchanged() -> None:
    text = "Disk /var 95% full \u20ac \U0001f600\nline two"
    assert repair_surrogates(text) is text
    assert clean_sms_text(text) is text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x00b\x07c", "abc"),  # NUL, BEL
        ("\x1b[31mred\x1b[0m", "[31mred[0m"),  # ESC removed: no terminal sequence left
        ("pay to \u202eNL99RABO\u202c ok", "pay to NL99RABO ok"),  # right-to-left override
        ("\u2066x\u2069 \u202a\u202b\u202d", "x "),  # isolates and embeddings
        ("tab\there", "tab here"),
        ("crlf\r\nand cr\rend", "crlf\nand cr\nend"),
        ("del\x7f c1\x85\x9b", "del c1 "),
        ("lone \ud800", "lone \ufffd"),
    ],
)
def test_sms_text_loses_control_and_bidi_characters(raw: str, clean: str) -> None:
    assert clean_sms_text(raw) == clean


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=())))  # surrogates included
def test_cleaned_sms_text_always_encodes_and_holds_no_controls(text: str) -> None:
    cleaned = clean_sms_text(text)
    cleaned.encode("utf-8")  # never raises: no surrogates left
    assert all(c == "\n" or (ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F) for c in cleaned)
    assert not set(cleaned) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert clean_sms_text(cleaned) == cleaned  # idempotent


def test_escaped_surrogates_survive_a_utf8_json_line() -> None:
    record = {"text": "half \ud83d", "other": "\U0001f600"}
    line = escape_surrogates(json.dumps(record, ensure_ascii=False))
    assert "\\ud83d" in line and "\U0001f600" in line  # only the lone half is escaped
    assert json.loads(line.encode("utf-8")) == record


def test_for_log_makes_newlines_escapes_and_bidi_visible() -> None:
    shown = for_log("x\nCRITICAL forged\x1b[2J\u202e\ud800")
    assert shown == "x\\nCRITICAL forged\\x1b[2J\\u202e\\ud800"
    assert shown.isprintable()
    assert for_log("plain-key") == "plain-key"
    assert for_log("k" * 200) == "k" * 77 + "..."
