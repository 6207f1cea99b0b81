"""Replies people type back: short references and the commands in them.

Shared by ``kpn-sms serve``'s paging and Home Assistant's ``ask`` and alert acknowledgement, so
both read a reply the same way:

- A *reference* names one open page or question in a text ("ACK 7K2", "reply YES 4K"). It is
  short and typeable on a phone keypad: upper-case letters and digits without the look-alikes
  0/O and 1/I, starting with a digit so that no word ("ack thanks") reads as one. Replies carry
  nothing that links them to the text they answer, so the reference in the text is the only
  link. :func:`reference_for` derives a stable one from a key (the same key gives the same
  reference on every replica); :func:`new_reference` draws a fresh one that is not taken.
- :func:`parse_command` reads ``ACK [ref]``, ``UNACK <ref>``, ``STATUS`` and ``HELP``.
- :func:`match_answer` reads an answer to a question: one of its options, or any text.

Every reader ignores case, extra spaces and punctuation around words, so "ack 7k2!",
" Ack, 7K2." and "ACK-7K2" are the same reply. Nothing here does I/O.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass

__all__ = [
    "REFERENCE_ALPHABET",
    "REFERENCE_FIRST",
    "Answer",
    "Command",
    "ReplyCommand",
    "is_reference",
    "match_answer",
    "new_reference",
    "normalize_reference",
    "parse_command",
    "reference_for",
    "reply_words",
]

#: Characters of a reference: digits and capitals without 0, O, 1 and I (32 of them).
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#: The first character of a reference: a digit of the alphabet.
REFERENCE_FIRST = REFERENCE_ALPHABET[:8]
#: Lengths a reference can have: 2 (256 of them), 3 (8,192) up to 6.
REFERENCE_LENGTHS = range(2, 7)
_REFERENCE_CHARS = frozenset(REFERENCE_ALPHABET)


class Command(enum.Enum):
    """What a reply asks for."""

    ACK = "ACK"
    UNACK = "UNACK"
    STATUS = "STATUS"
    HELP = "HELP"


_TAKES_REFERENCE = (Command.ACK, Command.UNACK)


@dataclass(frozen=True, slots=True)
class ReplyCommand:
    """A reply read as a command: the command, the reference if one was typed, the rest."""

    command: Command
    reference: str | None
    rest: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply read as the answer to a question.

    ``reply`` is the matched option as the question spelled it (or the text as typed when the
    question had no options), ``reference`` the reference typed with it, if any.
    """

    reply: str
    reference: str | None


def reply_words(text: str) -> tuple[str, ...]:
    """The words of a reply, upper-cased: runs of letters and digits, everything else a gap."""
    words: list[str] = []
    current: list[str] = []
    for char in text:
        if char.isalnum():
            current.append(char)
        elif current:
            words.append("".join(current).upper())
            current = []
    if current:
        words.append("".join(current).upper())
    return tuple(words)


def normalize_reference(word: str) -> str:
    """``word`` upper-cased and stripped of spaces and punctuation (it may not be a reference)."""
    return "".join(reply_words(word))


def is_reference(word: str) -> bool:
    """Whether ``word`` (any case) has the shape of a reference."""
    ref = normalize_reference(word)
    return (
        len(ref) in REFERENCE_LENGTHS and ref[0] in REFERENCE_FIRST and set(ref) <= _REFERENCE_CHARS
    )


def reference_for(key: str, *, length: int = 3) -> str:
    """A reference derived from ``key``: the same key always gives the same reference."""
    _check_length(length)
    value = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")
    return _spell(value, length)


def new_reference(*, taken: Collection[str], length: int = 2) -> str:
    """A random reference of ``length`` not in ``taken``; longer when that length is full."""
    _check_length(length)
    used = {normalize_reference(ref) for ref in taken}
    while len(used) >= _count(length) // 2:
        length += 1  # more than half taken: a longer reference finds a free one quickly
        _check_length(length)
    while True:
        ref = _spell(secrets.randbits(8 * length), length)
        if ref not in used:
            return ref


def parse_command(text: str) -> ReplyCommand | None:
    """``text`` read as ``ACK [ref]``, ``UNACK [ref]``, ``STATUS`` or ``HELP``; else ``None``.

    The reference is the word after the command when it has a reference's shape ("ACK 7K2"),
    or the rest of the first word ("ACK7K2"; "ACKED" is no command). Words after it are kept
    in ``rest``.
    """
    words = reply_words(text)
    if not words:
        return None
    first, rest = words[0], list(words[1:])
    for command in Command:
        if first == command.value:
            break
        tail = first.removeprefix(command.value)
        if command in _TAKES_REFERENCE and tail != first and is_reference(tail):
            first = command.value
            rest.insert(0, tail)
            break
    else:
        return None
    reference = None
    if command in _TAKES_REFERENCE and rest and is_reference(rest[0]):
        reference = rest.pop(0)
    return ReplyCommand(command=command, reference=reference, rest=tuple(rest))


def match_answer(
    text: str, *, options: Sequence[str] = (), references: Collection[str] = ()
) -> Answer | None:
    """``text`` read as an answer: one of ``options`` or, without options, any text.

    A word of ``references`` (any case) typed first or last is taken as the reference, so
    "yes 4K", "4k yes" and "Yes." all answer YES. Options match ignoring case, spaces and
    punctuation. ``None`` when the text is empty or fits no option.
    """
    words = list(reply_words(text))
    known = {normalize_reference(ref) for ref in references}
    reference = None
    if len(words) > 1 and words[-1] in known:
        reference = words.pop()
    elif len(words) > 1 and words[0] in known:
        reference = words.pop(0)
    if not words:
        return None
    if not options:
        typed = text.strip() if reference is None else " ".join(_typed_without(text, reference))
        return Answer(reply=typed, reference=reference)
    said = "".join(words)
    for option in options:
        if "".join(reply_words(option)) == said:
            return Answer(reply=option, reference=reference)
    return None


def _typed_without(text: str, reference: str) -> list[str]:
    """The whitespace-separated pieces of ``text`` without the one that is ``reference``."""
    pieces = text.split()
    for index in (len(pieces) - 1, 0):
        if pieces and normalize_reference(pieces[index]) == reference:
            return pieces[:index] + pieces[index + 1 :]
    return pieces


def _spell(value: int, length: int) -> str:
    value, first = divmod(value, len(REFERENCE_FIRST))
    chars = [REFERENCE_FIRST[first]]
    for _ in range(length - 1):
        value, digit = divmod(value, len(REFERENCE_ALPHABET))
        chars.append(REFERENCE_ALPHABET[digit])
    return "".join(chars)


def _count(length: int) -> int:
    """How many references of ``length`` there are."""
    count: int = len(REFERENCE_FIRST) * len(REFERENCE_ALPHABET) ** (length - 1)
    return count


def _check_length(length: int) -> None:
    if length not in REFERENCE_LENGTHS:
        raise ValueError(
            f"reference length {length} is not between {REFERENCE_LENGTHS.start} "
            f"and {REFERENCE_LENGTHS.stop - 1}"
        )
