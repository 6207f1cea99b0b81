"""InboundAssembler: its counters, its defaults and edges, which sender pays for a bound,
what it logs, the bounded hand-out list, and parts that carry no part number.

Sizes are computed with :func:`part_size`, so each bound is hit to the byte.
"""

from __future__ import annotations

import logging

import pytest

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import InboundAssembler, InboundMessage, InboundPart
from kpn_sms_notify.inbound.assembler import part_size

ALICE = "+31611111111"
BOB = "+31622222222"
CAROL = "+31633333333"
OURS = "+3197010000000"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def part(
    sender: str, ref: str, no: int | None, total: int, text: str = "", mid: str | None = None
) -> InboundPart:
    """One part of a long text (``no=None``: a part that carries no part number)."""
    return InboundPart(
        msisdn=sender,
        to=OURS,
        message_id=mid or f"{sender}-{ref}-{no}",
        text=text,
        concat=True,
        concat_ref=ref,
        concat_total=total,
        concat_part=no,
    )


def single(mid: str, text: str = "hi") -> InboundPart:
    return InboundPart(msisdn=ALICE, to=OURS, message_id=mid, text=text)


def texts(messages: list[InboundMessage]) -> list[str]:
    return [m.text for m in messages]


# --------------------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_pending", 0),
        ("max_seen", 0),
        ("max_bytes", -1),
        ("max_parts_per_sender", 0),
        ("ttl", 0),
        ("ttl", -1.0),
    ],
)
def test_a_limit_below_one_or_a_ttl_not_above_zero_is_named_with_its_value(
    field: str, value: float
) -> None:
    """Every bound must be at least 1 and the ttl positive; the error names the one refused."""
    with pytest.raises(KpnValidationError) as err:
        InboundAssembler(**{field: value})
    assert (err.value.field, err.value.value) == (field, value)
    assert str(err.value) == f"InboundAssembler: {field} must be positive, not {value!r}"


def test_limits_of_one_and_a_tiny_ttl_are_accepted() -> None:
    asm = InboundAssembler(
        max_pending=1, max_seen=1, max_bytes=1, max_parts_per_sender=1, ttl=0.001
    )
    assert (asm.max_pending, asm.max_seen, asm.max_bytes, asm.max_parts_per_sender) == (1, 1, 1, 1)


def test_by_default_an_unfinished_text_is_handed_out_after_exactly_an_hour() -> None:
    clock = Clock()
    asm = InboundAssembler(clock=clock)
    asm.feed(part(ALICE, "r", 1, 2, "half"))
    clock.now += 3599.5
    assert asm.take_expired() == []
    clock.now += 0.5  # now exactly 3600 s old
    assert texts(asm.take_expired()) == ["half"]


def test_by_default_ten_thousand_ids_are_remembered() -> None:
    asm = InboundAssembler(seen_for=0)
    asm.mark_seen(f"id{n}" for n in range(10_001))
    assert asm.seen_count == 10_000
    assert not asm.seen("id0") and asm.seen("id1") and asm.seen("id10000")


def test_an_id_exactly_seen_for_seconds_old_is_no_longer_kept_over_the_bound() -> None:
    clock = Clock()
    asm = InboundAssembler(max_seen=1, seen_for=300, clock=clock)
    asm.feed(single("first"))
    clock.now += 299.5
    asm.feed(single("second"))
    assert asm.seen("first")  # inside the replay window: kept past max_seen
    clock.now += 0.5  # "first" is now exactly 300 s old
    asm.feed(single("third"))
    assert not asm.seen("first") and asm.seen("second") and asm.seen("third")


# --------------------------------------------------------------------------- counters


def test_fresh_counters_are_zero_and_age_is_not_an_eviction() -> None:
    clock = Clock()
    asm = InboundAssembler(ttl=60, clock=clock)
    assert (asm.duplicates, asm.completed, asm.evicted) == (0, 0, 0)
    asm.feed(part(ALICE, "r", 1, 2, "half"))
    clock.now += 60
    assert texts(asm.take_expired()) == ["half"]
    assert asm.evicted == 0  # given up for its age, not pushed out by a bound


def test_completed_counts_every_whole_text() -> None:
    """Single texts and long texts alike: two of each give four."""
    asm = InboundAssembler()
    assert asm.feed(single("s1")) is not None
    assert asm.feed(single("s2")) is not None
    assert asm.completed == 2
    for ref in ("a", "b"):
        asm.feed(part(ALICE, ref, 1, 2, "x"))
        assert asm.feed(part(ALICE, ref, 2, 2, "y")) is not None
    assert asm.completed == 4


def test_duplicates_count_redeliveries_and_resent_parts() -> None:
    """A redelivery (same id) and a carrier resend (same part, new id) both count."""
    asm = InboundAssembler()
    asm.feed(part(ALICE, "r", 1, 3, "one"))
    assert asm.feed(part(ALICE, "r", 1, 3, "one", mid="resend-1")) is None
    assert asm.duplicates == 1
    assert asm.feed(part(ALICE, "r", 1, 3, "one", mid="resend-2")) is None
    assert asm.duplicates == 2
    assert asm.feed(part(ALICE, "r", 1, 3, "one")) is None  # the first id again
    assert asm.duplicates == 3


def test_evicted_counts_each_text_pushed_out_by_a_bound() -> None:
    asm = InboundAssembler(max_parts_per_sender=1)
    for ref in ("a", "b", "c", "d"):
        asm.feed(part(ALICE, ref, 1, 2, ref))
    assert asm.evicted == 3
    assert texts(asm.take_expired()) == ["a", "b", "c"]


def test_a_redelivery_counts_as_seen_again_for_the_id_bound() -> None:
    """The least recently SEEN id goes first: a redelivered id is fresh again."""
    asm = InboundAssembler(max_seen=2, seen_for=0)
    asm.feed(single("a"))
    asm.feed(single("b"))
    assert asm.feed(single("a")) is None
    asm.feed(single("c"))
    assert asm.seen("a") and asm.seen("c") and not asm.seen("b")
    assert asm.seen_count == 2


# --------------------------------------------------------------------------- who pays for a bound


def test_held_bytes_exactly_at_the_bound_push_nothing_out() -> None:
    first, second = part(ALICE, "a", 1, 2, "x" * 100), part(BOB, "b", 1, 2, "y" * 50)
    asm = InboundAssembler(max_bytes=part_size(first) + part_size(second))
    asm.feed(first)
    asm.feed(second)
    assert asm.take_expired() == [] and asm.pending_parts() == [first, second]
    assert asm.held_bytes == asm.max_bytes


def test_over_the_byte_bound_the_sender_holding_most_bytes_gives_up_its_oldest() -> None:
    """Alice holds two medium parts, Bob one bigger part: Alice holds more, so she pays."""
    a1, a2 = part(ALICE, "a", 1, 3, "a" * 500), part(ALICE, "a", 2, 3, "a" * 500)
    b1 = part(BOB, "b", 1, 2, "b" * 1500)
    assert part_size(a1) < part_size(b1) < part_size(a1) + part_size(a2)
    asm = InboundAssembler(max_bytes=part_size(a1) + part_size(a2) + part_size(b1) - 1)
    asm.feed(a1)
    asm.feed(a2)
    asm.feed(b1)
    assert texts(asm.take_expired()) == ["a" * 1000]
    assert asm.pending_parts() == [b1] and asm.evicted == 1


def test_a_retracted_waiting_part_no_longer_counts_for_its_sender() -> None:
    """Alice's big part is retracted; she then holds less than Bob, so Bob pays."""
    small, big = part(ALICE, "a", 1, 3), part(ALICE, "a", 2, 3, "A" * 1500)
    bobs = part(BOB, "b", 1, 2, "b" * 1200)
    later = part(ALICE, "c", 1, 2)
    asm = InboundAssembler(max_bytes=part_size(small) + part_size(big))
    asm.feed(small)
    asm.feed(big)
    asm.retract(big)
    asm.feed(bobs)
    assert asm.take_expired() == []
    asm.feed(later)  # over the bound: Alice holds 2 small parts, Bob 1 bigger one
    assert part_size(small) + part_size(later) < part_size(bobs)
    assert texts(asm.take_expired()) == ["b" * 1200]
    assert asm.pending_parts() == [small, later]


def test_a_completed_text_no_longer_counts_for_its_sender() -> None:
    """Alice finishes one text; what she still holds is less than Bob's, so Bob pays."""
    done1, done2 = part(ALICE, "done", 1, 2), part(ALICE, "done", 2, 2)
    waiting = part(ALICE, "w", 1, 2)
    bobs = part(BOB, "b", 1, 2, "b" * 1700)
    later = part(ALICE, "late", 1, 2, "l" * 500)
    asm = InboundAssembler(max_bytes=part_size(done1) + part_size(waiting) + part_size(bobs))
    asm.feed(done1)
    asm.feed(waiting)
    asm.feed(bobs)
    assert asm.feed(done2) is not None
    assert asm.take_expired() == []
    asm.feed(later)
    assert part_size(waiting) + part_size(later) < part_size(bobs)
    assert texts(asm.take_expired()) == ["b" * 1700]
    assert asm.pending_parts() == [waiting, later]


def test_a_retracted_waiting_part_frees_its_place_under_the_sender_limit() -> None:
    """Three parts held at a limit of three; one retracted leaves room for exactly one."""
    asm = InboundAssembler(max_parts_per_sender=3)
    held = [part(ALICE, "r", n, 4, f"r{n}") for n in (1, 2, 3)]
    for p in held:
        asm.feed(p)
    asm.retract(held[2])
    asm.feed(part(ALICE, "q", 1, 2, "q1"))
    assert asm.take_expired() == []
    asm.feed(part(ALICE, "s", 1, 2, "s1"))  # a fourth part: over the limit
    assert texts(asm.take_expired()) == ["r1r2"]


def test_a_retracted_long_text_over_the_sender_limit_pushes_out_as_many_texts_as_needed() -> None:
    """Re-taking two parts at once over a limit of three hands out two older texts."""
    asm = InboundAssembler(max_parts_per_sender=3)
    t1, t2, t3 = (part(ALICE, "t", n, 3, f"t{n}") for n in (1, 2, 3))
    asm.feed(t1)
    asm.feed(t2)
    message = asm.feed(t3)
    assert message is not None
    for ref in ("u", "v", "w"):
        asm.feed(part(ALICE, ref, 1, 2, ref))
    asm.retract(t3, message)  # t1 and t2 wait again: five parts held
    assert texts(asm.take_expired()) == ["u", "v"]
    assert [p.message_id for p in asm.pending_parts()] == [
        f"{ALICE}-w-1",
        t1.message_id,
        t2.message_id,
    ]
    again = asm.feed(t3)
    assert again is not None and again.text == "t1t2t3"


def test_retracting_a_completed_text_twice_is_the_same_as_once() -> None:
    asm = InboundAssembler()
    parts = [part(ALICE, "r", n, 3, f"p{n}") for n in (1, 2, 3)]
    for p in parts[:2]:
        asm.feed(p)
    message = asm.feed(parts[2])
    assert message is not None
    asm.retract(parts[2], message)
    asm.retract(parts[2], message)
    assert asm.completed == 0 and asm.pending_count == 1
    assert asm.pending_parts() == parts[:2]
    assert asm.held_bytes == part_size(parts[0]) + part_size(parts[1])
    again = asm.feed(parts[2])
    assert again is not None and again.text == "p1p2p3"
    assert asm.completed == 1 and asm.held_bytes == 0


# --------------------------------------------------------------------------- what is logged


def test_a_text_pushed_out_by_the_sender_limit_is_logged_with_the_sender_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    asm = InboundAssembler(max_parts_per_sender=1)
    with caplog.at_level(logging.WARNING, logger="kpn_sms_notify.inbound.assembler"):
        asm.feed(part(ALICE, "a", 1, 2, "a"))
        asm.feed(part(ALICE, "b", 1, 2, "b"))
    assert [r.getMessage() for r in caplog.records] == [
        "inbound text from +316******11 handed out incomplete (1 of 2 parts): "
        "more than 1 parts waiting from one sender"
    ]


def test_a_text_pushed_out_by_the_text_bound_is_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    asm = InboundAssembler(max_pending=2)
    with caplog.at_level(logging.WARNING, logger="kpn_sms_notify.inbound.assembler"):
        for sender in (ALICE, BOB, CAROL):
            asm.feed(part(sender, "r", 1, 3, sender))
    assert [r.getMessage() for r in caplog.records] == [
        "inbound text from +316******11 handed out incomplete (1 of 3 parts): "
        "more than 2 texts waiting"
    ]
    assert asm.evicted == 1 and texts(asm.take_expired()) == [ALICE]


def test_a_part_bigger_than_the_byte_bound_is_handed_out_logged_not_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    huge = part(ALICE, "r", 1, 2, "h" * 200)
    asm = InboundAssembler(max_bytes=100)
    with caplog.at_level(logging.WARNING, logger="kpn_sms_notify.inbound.assembler"):
        assert asm.feed(huge) is None
    assert [r.getMessage() for r in caplog.records] == [
        "inbound text from +316******11 handed out incomplete (1 of 2 parts): "
        "more than 100 bytes waiting"
    ]
    assert asm.evicted == 1 and asm.held_bytes == 0
    handed = asm.take_expired()
    assert texts(handed) == ["h" * 200] and handed[0].parts == (huge,)


# --------------------------------------------------------------------------- the hand-out list


def test_a_hand_out_list_never_collected_keeps_only_the_newest_over_the_text_bound() -> None:
    asm = InboundAssembler(max_pending=1)
    for ref in ("a", "b", "c"):
        asm.feed(part(ALICE, ref, 1, 2, ref))
    assert texts(asm.take_expired()) == ["b"]
    assert asm.pending_parts() == [part(ALICE, "c", 1, 2, "c")]


def test_a_hand_out_list_exactly_at_the_byte_bound_keeps_everything_each_time() -> None:
    """Two texts given up whose parts fill max_bytes exactly are both handed out, and
    again after the list was taken."""
    clock = Clock()
    a, b = part(ALICE, "a", 1, 2, "a" * 300), part(BOB, "b", 1, 2, "b" * 100)
    asm = InboundAssembler(ttl=10, max_bytes=part_size(a) + part_size(b), clock=clock)
    for _ in range(2):
        asm.feed(a)
        asm.feed(b)
        clock.now += 10
        assert texts(asm.take_expired()) == ["a" * 300, "b" * 100]
        asm.retract(a)  # forget the ids so the same parts are taken again
        asm.retract(b)


def test_a_hand_out_list_never_collected_drops_its_oldest_over_the_byte_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Room for two and a half parts: each third text given up drops the oldest, logged."""
    clock = Clock()
    parts = [part(ALICE, ref, 1, 2, ref * 10) for ref in "abcde"]
    size = part_size(parts[0])
    assert all(part_size(p) == size for p in parts)
    asm = InboundAssembler(ttl=10, max_bytes=size * 5 // 2, clock=clock)
    asm.feed(parts[0])
    asm.feed(parts[1])
    with caplog.at_level(logging.ERROR, logger="kpn_sms_notify.inbound.assembler"):
        for p in parts[2:]:
            clock.now += 10
            asm.feed(p)  # gives up the texts fed before it
    assert texts(asm.take_expired()) == ["c" * 10, "d" * 10]
    assert [r.getMessage() for r in caplog.records] == [
        "incomplete inbound text from +316******11 dropped: the host did not take it in time"
    ] * 2
    assert [r.levelno for r in caplog.records] == [logging.ERROR] * 2


# --------------------------------------------------------------------------- odd parts


def test_a_part_without_a_part_number_is_part_one() -> None:
    """A part rebuilt without its number (e.g. from a foreign journal) counts as part 1."""
    asm = InboundAssembler()
    assert asm.feed(part(ALICE, "r", None, 2, "first ")) is None
    message = asm.feed(part(ALICE, "r", 2, 2, "second"))
    assert message is not None and message.text == "first second" and message.complete


def test_a_waiting_part_without_a_part_number_can_be_retracted() -> None:
    asm = InboundAssembler()
    unnumbered = part(ALICE, "r", None, 2, "first")
    asm.feed(unnumbered)
    asm.retract(unnumbered)
    assert asm.pending_count == 0 and asm.held_bytes == 0 and asm.pending_parts() == []
    assert not asm.seen(unnumbered.message_id)


def test_a_retracted_text_takes_its_unnumbered_part_back_as_part_one() -> None:
    asm = InboundAssembler()
    unnumbered, second = part(ALICE, "r", None, 2, "first "), part(ALICE, "r", 2, 2, "second")
    asm.feed(unnumbered)
    message = asm.feed(second)
    assert message is not None
    asm.retract(second, message)
    again = asm.feed(second)
    assert again is not None and again.text == "first second"


def test_an_empty_reference_is_a_reference_of_its_own() -> None:
    """Parts with the reference "" and with any other reference are different texts."""
    asm = InboundAssembler()
    assert asm.feed(part(ALICE, "", 1, 2, "empty ")) is None
    assert asm.feed(part(ALICE, "XXXX", 2, 2, "other")) is None
    assert asm.pending_count == 2
    message = asm.feed(part(ALICE, "", 2, 2, "ref"))
    assert message is not None and message.text == "empty ref"
