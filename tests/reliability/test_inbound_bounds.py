"""The inbound reassembler and its journal stay bounded in bytes, in parts per sender and
across restarts, whatever a sender (or someone holding the path secret) posts.

The flood through a real `kpn-sms serve` process is in `test_inbound_flood.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import InboundAssembler, InboundPart, parse_inbound
from kpn_sms_notify.inbound.assembler import part_size
from kpn_sms_notify.server.journal import JOURNAL_NAME, Journal, Recovered

GENUINE = "31611111111"
FLOODER = "31699999999"


def _part(msisdn: str, ref: str, no: int, total: int, text: str, **extra: str) -> InboundPart:
    return parse_inbound(
        {
            "msisdn": msisdn,
            "to": "3197010000000",
            "messageId": f"{msisdn}-{ref}-{no}",
            "text": text,
            "type": "unicode",
            "concat": "true",
            "concat-ref": ref,
            "concat-total": str(total),
            "concat-part": str(no),
            **extra,
        }
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_held_bytes_never_exceed_the_bound_and_nothing_is_lost() -> None:
    asm = InboundAssembler(max_bytes=64 * 1024, max_parts_per_sender=1000)
    big = "\U0001f600" * 2000  # 8,000 bytes of UTF-8 per part
    handed_out = []
    for n in range(200):
        asm.feed(_part(f"3161000{n % 7:04d}", f"r{n}", 1, 3, big))
        assert asm.held_bytes <= 64 * 1024
        handed_out += asm.take_expired()
    assert asm.held_bytes > 48 * 1024  # filled to the bound, not emptied
    # Every part pushed out was handed out (incomplete), none dropped.
    assert sum(m.received_parts for m in handed_out) + len(asm.pending_parts()) == 200
    assert all(not m.complete and m.text == big for m in handed_out)


def test_one_senders_flood_does_not_push_out_another_senders_partial_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    asm = InboundAssembler(max_parts_per_sender=32)
    assert asm.feed(_part(GENUINE, "g", 1, 2, "the first half, ")) is None
    flood = []
    with caplog.at_level(logging.WARNING):
        for n in range(1000):
            asm.feed(_part(FLOODER, f"f{n}", 1, 2, "x" * 150))
            flood += asm.take_expired()  # as a host does on every call
    assert len(flood) == 1000 - 32 and {m.msisdn for m in flood} == {"+" + FLOODER}
    message = asm.feed(_part(GENUINE, "g", 2, 2, "the second half"))
    assert message is not None and message.complete
    assert message.text == "the first half, the second half"
    # Each text pushed out is logged once, the number masked.
    pushed = [r.getMessage() for r in caplog.records if "handed out incomplete" in r.message]
    assert len(pushed) == 1000 - 32
    assert FLOODER not in caplog.text and "more than 32 parts waiting" in caplog.text


def test_a_flood_over_several_senders_costs_the_heaviest_sender_first() -> None:
    asm = InboundAssembler(max_pending=16, max_parts_per_sender=255)
    asm.feed(_part(GENUINE, "g", 1, 2, "genuine "))
    pushed_out = 0
    for n in range(500):
        asm.feed(_part(f"3169999{n % 5:04d}", f"f{n}", 1, 2, "flood"))
        pushed_out += len(asm.take_expired())
    assert asm.pending_count == 16
    assert pushed_out == 500 + 1 - 16
    message = asm.feed(_part(GENUINE, "g", 2, 2, "text"))
    assert message is not None and message.text == "genuine text" and message.complete


def test_a_text_longer_than_the_sender_limit_is_handed_out_in_pieces() -> None:
    asm = InboundAssembler(max_parts_per_sender=8)
    for no in range(1, 21):
        asm.feed(_part(GENUINE, "long", no, 30, f"[{no}]"))
    pieces = asm.take_expired()
    held = asm.pending_parts()
    got = [p.concat_part or 0 for m in pieces for p in m.parts]
    got += [p.concat_part or 0 for p in held]
    assert sorted(got) == list(range(1, 21))  # every part once, handed out or still held


@pytest.mark.parametrize("field", ["keyword", "concat-ref", "nonce", "message-timestamp", "udh"])
def test_short_fields_are_capped(field: str) -> None:
    with pytest.raises(KpnValidationError) as err:
        _part(GENUINE, "r", 1, 2, "x", **{field: "y" * 257})
    assert err.value.field == field and "longer than 256 characters" in str(err.value)
    _part(GENUINE, "r", 1, 2, "t" * 4096, **{field: "y" * 256})  # at the cap: fine


def test_ids_stay_remembered_for_the_replay_window() -> None:
    clock = _Clock()
    asm = InboundAssembler(max_seen=10, seen_for=300, clock=clock)
    single = {"msisdn": GENUINE, "to": "3197010000000", "text": "hi"}
    for n in range(30):
        asm.feed(parse_inbound({**single, "messageId": f"id{n}"}))
    assert asm.seen("id0") and asm.seen_count == 30  # younger than 300 s: all kept
    clock.now += 301
    asm.feed(parse_inbound({**single, "messageId": "later"}))
    assert asm.seen_count == 10 and not asm.seen("id0") and asm.seen("later")
    for n in range(200):  # a burst past five times max_seen is cut even inside the window
        asm.feed(parse_inbound({**single, "messageId": f"burst{n}"}))
    assert asm.seen_count == 50


# --------------------------------------------------------------------------- the journal


def _journal_lines(state: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (state / JOURNAL_NAME).read_bytes().splitlines()]


async def test_journal_is_compacted_to_the_live_parts_while_running(tmp_path: Path) -> None:
    asm = InboundAssembler(max_parts_per_sender=4)
    journal = Journal(tmp_path, live_parts=asm.pending_parts, min_compact_bytes=64 * 1024)
    journal.recover(Recovered())
    biggest = 0
    for n in range(400):
        part = _part(FLOODER, f"f{n}", 1, 2, "x" * 1000)
        asm.feed(part)
        await journal.part(part)
        asm.take_expired()
        biggest = max(biggest, (tmp_path / JOURNAL_NAME).stat().st_size)
    assert journal.compactions >= 5
    assert biggest <= 2 * 64 * 1024 + 2 * 1100  # 2x the floor, plus a line or two
    assert {line["part"]["message_id"] for line in _journal_lines(tmp_path)} >= {
        p.message_id for p in asm.pending_parts()
    }
    assert len(asm.pending_parts()) == 4  # the sender limit: what the journal must keep
    assert stat.S_IMODE((tmp_path / JOURNAL_NAME).stat().st_mode) == 0o600


async def test_appends_during_a_compaction_are_not_lost(tmp_path: Path) -> None:
    asm = InboundAssembler()
    journal = Journal(tmp_path, live_parts=asm.pending_parts, min_compact_bytes=4096)
    journal.recover(Recovered())
    parts = [_part(GENUINE, f"r{n}", 1, 2, "y" * 300) for n in range(60)]
    for part in parts:
        asm.feed(part)
    await asyncio.gather(*(journal.part(p) for p in parts), journal.compact())
    recovered = Recovered()
    Journal(tmp_path).recover(recovered)
    assert {p.message_id for p in recovered.pending_parts} == {p.message_id for p in parts}


def test_restart_loads_at_most_the_bound_and_skips_bad_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / JOURNAL_NAME
    with path.open("wb") as handle:
        for n in range(300):  # a journal from before the bound: 300 parts of ~8 KB
            part = _part(f"316100{n:05d}", f"r{n}", 1, 2, "\U0001f600" * 2000)
            handle.write(json.dumps({"part": part.to_dict()}).encode() + b"\n")
        handle.write(b'{"part": ' + b"[" * 100_000 + b"\n")  # nested junk
        handle.write(b'{"part": "' + b"z" * (3 * 1024 * 1024) + b'"}\n')  # oversized line
        handle.write(b"\xff\xfe not utf-8\n")
        handle.write(b'{"part": {"msisdn": 1, "to": "x", "message_id": "m", "text": 2}}\n')
        handle.write(b'{"done": ["31610000299-r299-1"]}\n')
        handle.write(b'{"part": {"msisdn": "torn')  # torn last line, no newline
    recovered = Recovered()
    with caplog.at_level(logging.WARNING):
        Journal(tmp_path, max_part_bytes=512 * 1024).recover(recovered)
    held = sum(part_size(p) for p in recovered.pending_parts)
    assert 0 < held <= 512 * 1024
    ids = [p.message_id for p in recovered.pending_parts]
    assert ids[-1] == "31610000298-r298-1"  # the newest kept; the handed-out one left out
    assert "unreadable or oversized line(s) skipped" in caplog.text
    assert "over the 524288-byte bound dropped at start" in caplog.text
    assert path.stat().st_size < 600 * 1024  # rewritten with only what was kept
    again = Recovered()
    Journal(tmp_path, max_part_bytes=512 * 1024).recover(again)
    assert [p.message_id for p in again.pending_parts] == ids


async def test_a_split_emoji_waits_in_the_journal_and_is_joined_after_a_restart(
    tmp_path: Path,
) -> None:
    asm = InboundAssembler()
    journal = Journal(tmp_path, live_parts=asm.pending_parts)
    journal.recover(Recovered())
    first = _part(GENUINE, "e", 1, 2, "Look at this: \ud83d")  # one half of U+1F600
    assert asm.feed(first) is None
    await journal.part(first)  # a lone surrogate cannot be UTF-8: written as an escape
    (tmp_path / JOURNAL_NAME).read_text(encoding="utf-8")
    recovered = Recovered()
    Journal(tmp_path).recover(recovered)
    fresh = InboundAssembler()
    for part in recovered.pending_parts:
        fresh.feed(part)
    message = fresh.feed(_part(GENUINE, "e", 2, 2, "\ude00 nice"))
    assert message is not None and message.text == "Look at this: \U0001f600 nice"
