"""Replies people type back: references, commands and answers (kpn_sms_notify.replies)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kpn_sms_notify.replies import (
    REFERENCE_ALPHABET,
    REFERENCE_FIRST,
    Answer,
    Command,
    ReplyCommand,
    is_reference,
    match_answer,
    new_reference,
    parse_command,
    reference_for,
    reply_words,
)


def test_alphabet_has_no_look_alikes_and_32_characters() -> None:
    assert len(set(REFERENCE_ALPHABET)) == 32
    assert not set("0O1I") & set(REFERENCE_ALPHABET)


def test_reference_for_is_stable_and_depends_on_the_key() -> None:
    first = reference_for("group-a/2026-12-01T03:10:00Z")
    assert first == reference_for("group-a/2026-12-01T03:10:00Z")
    assert len(first) == 3 and is_reference(first)
    others = {reference_for(f"group-{n}") for n in range(200)}
    assert len(others) > 190  # 8,192 values: a handful of collisions at most
    assert all(ref[0] in REFERENCE_FIRST for ref in others)
    assert len(reference_for("x", length=5)) == 5


@pytest.mark.parametrize("length", [1, 7])
def test_reference_length_out_of_range_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match=f"reference length {length} is not between 2 and 6"):
        reference_for("x", length=length)


def test_new_reference_avoids_taken_ones_and_grows_when_full() -> None:
    taken: set[str] = set()
    for _ in range(100):
        ref = new_reference(taken=taken)
        assert ref not in taken and is_reference(ref)
        taken.add(ref)
    assert {len(ref) for ref in taken} == {2}
    crowded = {a + b for a in REFERENCE_FIRST for b in REFERENCE_ALPHABET[:16]}  # half of 256
    assert len(new_reference(taken=crowded)) == 3
    all_but_one = {a + b for a in REFERENCE_FIRST for b in REFERENCE_ALPHABET} - {"9z"}
    assert new_reference(taken=all_but_one, length=3) not in all_but_one


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ack 7k2!", ("ACK", "7K2")),
        ("  Ack,   7K2. ", ("ACK", "7K2")),
        ("ACK-7K2", ("ACK", "7K2")),
        ("", ()),
        ("?!", ()),
        ("oké", ("OKÉ",)),
    ],
)
def test_reply_words(text: str, words: tuple[str, ...]) -> None:
    assert reply_words(text) == words


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("ack 7k2", ReplyCommand(Command.ACK, "7K2")),
        ("  Ack,  7K2. ", ReplyCommand(Command.ACK, "7K2")),
        ("ACK7K2", ReplyCommand(Command.ACK, "7K2")),
        ("ack", ReplyCommand(Command.ACK, None)),
        ("Ack!", ReplyCommand(Command.ACK, None)),
        ("ack thanks", ReplyCommand(Command.ACK, None, ("THANKS",))),
        ("ack 7", ReplyCommand(Command.ACK, None, ("7",))),  # one character is too short
        ("ack 7k2 on it", ReplyCommand(Command.ACK, "7K2", ("ON", "IT"))),
        ("unack 7K2", ReplyCommand(Command.UNACK, "7K2")),
        ("UNACK7K2", ReplyCommand(Command.UNACK, "7K2")),
        ("status", ReplyCommand(Command.STATUS, None)),
        ("Status?", ReplyCommand(Command.STATUS, None)),
        ("help", ReplyCommand(Command.HELP, None)),
        ("status 7K2", ReplyCommand(Command.STATUS, None, ("7K2",))),
        ("acked", None),  # a word that starts like a command is no command
        ("ackno", None),
        ("hello", None),
        ("", None),
        ("7K2 ack", None),
    ],
)
def test_parse_command(text: str, parsed: ReplyCommand | None) -> None:
    assert parse_command(text) == parsed


def test_a_word_with_look_alikes_is_no_reference() -> None:
    assert parse_command("ack 1O0") == ReplyCommand(Command.ACK, None, ("1O0",))
    assert not is_reference("ok")
    assert not is_reference("KQZ")  # a reference starts with a digit
    assert is_reference("7k2")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes", Answer("YES", None)),
        ("Yes.", Answer("YES", None)),
        (" no!! ", Answer("NO", None)),
        ("yes 4k", Answer("YES", "4K")),
        ("4K yes", Answer("YES", "4K")),
        ("yes 9Z", None),  # not a known reference: "yes 9z" is no option
        ("maybe", None),
        ("", None),
        ("4K", None),  # the reference alone answers nothing
    ],
)
def test_match_answer_with_options(text: str, answer: Answer | None) -> None:
    assert match_answer(text, options=["YES", "NO"], references=["4k", "7M"]) == answer


def test_options_match_ignoring_spaces_and_punctuation() -> None:
    assert match_answer("close it", options=["Close-it", "Leave"]) == Answer("Close-it", None)
    assert match_answer("CLOSEIT!", options=["Close it"]) == Answer("Close it", None)


def test_without_options_any_text_is_the_answer_as_typed() -> None:
    assert match_answer("  Running late, 10 min  ") == Answer("Running late, 10 min", None)
    assert match_answer("on my way 4K", references=["4K"]) == Answer("on my way", "4K")
    assert match_answer("4k. on my way", references=["4K"]) == Answer("on my way", "4K")
    assert match_answer("   ") is None


@given(st.text(max_size=60))
@example("ACK\x00")
@example("ack ⁷k²")
def test_readers_never_crash(text: str) -> None:
    parsed = parse_command(text)
    if parsed is not None and parsed.reference is not None:
        assert is_reference(parsed.reference)
    answer = match_answer(text, options=["YES", "NO"], references=["4K"])
    assert answer is None or answer.reply in {"YES", "NO"}
