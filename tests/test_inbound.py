"""kpn_sms_notify.inbound: parsing, de-duplication, reassembly, receipts, signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples  # type: ignore[import-not-found]

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import (
    DLR_ERROR_CODES,
    DeliveryOutcome,
    InboundAssembler,
    InboundMessage,
    InboundPart,
    SeenReceipts,
    compute_signature,
    decode_json,
    parse_delivery_receipt,
    parse_inbound,
    signature_problem,
    verify_signature,
    webhook_params,
)
from kpn_sms_notify.inbound.assembler import part_size
from kpn_sms_notify.inbound.signatures import timestamp_fresh
from kpn_sms_notify.numbers import normalize_number
from kpn_sms_notify.server.journal import receipt_key

BASE: dict[str, Any] = {
    "msisdn": "31612345678",
    "to": "3197010000000",
    "messageId": "0A0000000123ABCD1",
    "text": "Hello there",
    "type": "text",
    "keyword": "HELLO",
    "message-timestamp": "2024-05-01 12:00:00",
}


def _part(ref: str, no: int, total: int, text: str, msg_id: str | None = None, **kw: Any) -> Any:
    params = {
        **BASE,
        "messageId": msg_id or f"id-{ref}-{no}",
        "text": text,
        "concat": "true",
        "concat-ref": ref,
        "concat-total": str(total),
        "concat-part": str(no),
        **kw,
    }
    return parse_inbound(params)


# --------------------------------------------------------------------------- parse_inbound


def test_parse_inbound_maps_wire_names() -> None:
    part = parse_inbound(BASE)
    assert part.msisdn == "+31612345678"  # numbers in the canonical form, E.164 with "+"
    assert part.to == "+3197010000000"
    assert part.message_id == "0A0000000123ABCD1"
    assert part.text == "Hello there"
    assert part.keyword == "HELLO"
    assert part.message_timestamp == "2024-05-01 12:00:00"
    assert part.concat is False and not part.is_part


def test_parse_inbound_from_query_lists_numbers_and_json_bools() -> None:
    query = parse_qs(
        "msisdn=31612345678&to=3197010000000&messageId=abc&text=a%26b%3Dc&concat=true"
        "&concat-ref=7&concat-total=2&concat-part=1&timestamp=1461605396"
    )
    part = parse_inbound(query)  # values are lists of one string
    assert part.text == "a&b=c"
    assert part.concat_total == 2 and part.concat_part == 1 and part.timestamp == 1461605396
    assert part.is_part
    as_json = parse_inbound(
        {
            "msisdn": 31612345678,
            "to": 3197010000000,
            "messageId": "abc",
            "text": "x",
            "concat": True,
            "concat-ref": 7,
            "concat-total": 2,
            "concat-part": 2,
        }
    )
    assert (
        as_json.msisdn == "+31612345678" and as_json.concat_ref == "7" and as_json.concat_part == 2
    )


def test_parse_inbound_empty_text_is_allowed_and_a_plus_is_kept_once() -> None:
    part = parse_inbound({**BASE, "text": "", "msisdn": "+31612345678"})
    assert part.text == "" and part.msisdn == "+31612345678"


def test_inbound_numbers_keep_their_country() -> None:
    # Issue 11: "492010000" from the gateway is German; shown bare it would read back as the
    # Dutch 0492 010000 (say, in an automation replying to the sender).
    part = parse_inbound({**BASE, "msisdn": "492010000"})
    assert part.msisdn == "+492010000"
    assert normalize_number(part.msisdn, "NL") == "+492010000"


def test_a_sender_id_or_short_code_is_not_made_a_number() -> None:
    assert parse_inbound({**BASE, "msisdn": "KPN"}).msisdn == "KPN"
    assert parse_inbound({**BASE, "msisdn": "1234"}).msisdn == "1234"
    receipt = parse_delivery_receipt({**DLR, "to": "KPNAlert"})
    assert (receipt.msisdn, receipt.to) == ("+31612345678", "KPNAlert")


def test_a_journal_of_an_older_version_reads_back_with_plus() -> None:
    # Pending parts journalled before numbers carried a "+" still join with new parts.
    old = {**_part("9", 1, 2, "A1").to_dict(), "msisdn": "31612345678", "to": "3197010000000"}
    asm = InboundAssembler()
    assert asm.feed(InboundPart.from_dict(old)) is None
    done = asm.feed(_part("9", 2, 2, "A2"))
    assert done is not None and done.text == "A1A2" and done.msisdn == "+31612345678"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"msisdn": None}, "msisdn"),
        ({"to": ""}, "to"),
        ({"messageId": None}, "messageId"),
        ({"messageId": "x" * 65}, "messageId"),
        ({"type": "fax"}, "type"),
        ({"concat": "maybe"}, "concat"),
        (
            {"concat": "true", "concat-ref": "1", "concat-total": "x", "concat-part": "1"},
            "concat-total",
        ),
        ({"concat": "true", "concat-ref": "1", "concat-total": "2"}, "concat-part"),
        (
            {"concat": "true", "concat-ref": "1", "concat-total": "2", "concat-part": "3"},
            "concat-part",
        ),
        ({"concat-part": "0"}, "concat-part"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"text": {"nested": 1}}, "text"),
        ({"text": ["a", "b"]}, "text"),
        ({"text": "x" * 5000}, "text"),
        ({"msisdn": "316 1234 5678"}, "msisdn"),
    ],
)
def test_parse_inbound_rejects_bad_fields_naming_them(change: dict[str, Any], field: str) -> None:
    params = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(KpnValidationError) as info:
        parse_inbound(params)
    assert info.value.field == field
    message = str(info.value)
    assert message.startswith(field + ":")
    assert "\n" not in message


def test_parse_inbound_error_masks_the_number() -> None:
    with pytest.raises(KpnValidationError) as info:
        parse_inbound({**BASE, "msisdn": "316 12345678"})
    assert "12345678" not in str(info.value)


def test_parse_inbound_rejects_non_mapping() -> None:
    with pytest.raises(KpnValidationError) as info:
        parse_inbound(["msisdn"])  # type: ignore[arg-type]
    assert info.value.field == "payload"


def test_part_round_trips_through_dict() -> None:
    part = _part("9", 1, 2, "abc")
    assert InboundPart.from_dict(part.to_dict()) == part


# --------------------------------------------------------------------------- assembler


def test_single_message_once_then_duplicate_dropped() -> None:
    asm = InboundAssembler()
    part = parse_inbound(BASE)
    message = asm.feed(part)
    assert isinstance(message, InboundMessage)
    assert message.text == "Hello there" and message.message_id == part.message_id
    assert message.complete and message.keyword == "HELLO"
    assert asm.feed(part) is None
    assert asm.duplicates == 1 and asm.completed == 1


def test_concatenated_parts_join_in_order_whatever_the_arrival() -> None:
    asm = InboundAssembler()
    parts = [_part("42", n, 3, t) for n, t in ((3, "three"), (1, "one "), (2, "two "))]
    assert asm.feed(parts[0]) is None
    assert asm.feed(parts[1]) is None
    assert asm.pending_count == 1
    message = asm.feed(parts[2])
    assert message is not None
    assert message.text == "one two three"
    assert message.message_ids == ("id-42-1", "id-42-2", "id-42-3")
    assert message.total_parts == 3 and message.complete
    assert asm.pending_count == 0
    # A redelivery of any part after completion is a duplicate, not a new message.
    assert all(asm.feed(p) is None for p in parts)


def test_same_ref_from_different_senders_is_kept_apart() -> None:
    asm = InboundAssembler()
    a1 = _part("5", 1, 2, "A1")
    b1 = _part("5", 1, 2, "B1", msisdn="31687654321", msg_id="b1")
    a2 = _part("5", 2, 2, "A2")
    b2 = _part("5", 2, 2, "B2", msisdn="31687654321", msg_id="b2")
    assert asm.feed(a1) is None and asm.feed(b1) is None
    done_a, done_b = asm.feed(a2), asm.feed(b2)
    assert done_a is not None and done_a.text == "A1A2"
    assert done_b is not None and done_b.text == "B1B2" and done_b.msisdn == "+31687654321"


def test_same_part_under_new_message_id_is_not_used_twice() -> None:
    asm = InboundAssembler()
    assert asm.feed(_part("8", 1, 2, "first ")) is None
    assert asm.feed(_part("8", 1, 2, "again ", msg_id="resent")) is None
    message = asm.feed(_part("8", 2, 2, "second"))
    assert message is not None and message.text == "first second"


def test_concat_true_without_udh_is_a_whole_message() -> None:
    asm = InboundAssembler()
    message = asm.feed(parse_inbound({**BASE, "concat": "true"}))
    assert message is not None and message.text == BASE["text"]


def test_ttl_expiry_hands_out_incomplete_message() -> None:
    now = [1000.0]
    asm = InboundAssembler(ttl=60, clock=lambda: now[0])
    assert asm.feed(_part("1", 1, 2, "half")) is None
    now[0] += 61
    expired = asm.take_expired()
    assert len(expired) == 1
    assert expired[0].text == "half" and not expired[0].complete
    assert expired[0].received_parts == 1 and expired[0].total_parts == 2
    assert asm.pending_count == 0
    assert asm.take_expired() == []


def test_pending_and_seen_are_bounded() -> None:
    asm = InboundAssembler(max_pending=3, max_seen=50, seen_for=0)  # count bound alone
    handed_out = []
    for ref in range(10):
        asm.feed(_part(str(ref), 1, 2, f"p{ref}"))
        handed_out += asm.take_expired()
    assert asm.pending_count == 3
    # The oldest unfinished texts were pushed out, and handed out rather than lost.
    assert [m.text for m in handed_out] == [f"p{i}" for i in range(7)]
    # A host that never collects them still holds at most max_pending of them.
    for ref in range(10, 20):
        asm.feed(_part(str(ref), 1, 2, f"p{ref}"))
    assert [m.text for m in asm.take_expired()] == ["p14", "p15", "p16"]
    for i in range(200):
        asm.feed(parse_inbound({**BASE, "messageId": f"m{i}"}))
    assert asm.seen_count == 50
    assert asm.seen("m199") and not asm.seen("m0")


def test_retract_lets_a_redelivery_complete_again() -> None:
    asm = InboundAssembler()
    first, last = _part("3", 1, 2, "a"), _part("3", 2, 2, "b")
    asm.feed(first)
    message = asm.feed(last)
    assert message is not None
    asm.retract(last, message)  # the host failed to store it and answered an error
    again = asm.feed(last)
    assert again is not None and again.text == "ab"
    single = parse_inbound(BASE)
    done = asm.feed(single)
    asm.retract(single, done)
    assert asm.feed(single) is not None


def test_retract_of_a_waiting_part_frees_it_and_its_bytes() -> None:
    asm = InboundAssembler()
    first, second = _part("4", 1, 3, "a" * 50), _part("4", 2, 3, "b")
    asm.feed(first)
    asm.feed(second)
    asm.retract(InboundPart.from_dict(second.to_dict()))  # not the part it holds: kept
    assert asm.pending_parts() == [first, second]
    asm.retract(second)  # the host failed to store it
    assert asm.pending_parts() == [first] and asm.held_bytes == part_size(first)
    assert not asm.seen(second.message_id) and asm.seen(first.message_id)
    asm.retract(first)
    assert asm.pending_parts() == [] and asm.held_bytes == 0 and asm.pending_count == 0
    asm.feed(first)  # the redeliveries are taken again and complete the text
    asm.feed(second)
    message = asm.feed(_part("4", 3, 3, "c"))
    assert message is not None and message.text == "a" * 50 + "bc" and asm.completed == 1


def test_retract_of_a_completed_text_waits_for_its_part_again() -> None:
    asm = InboundAssembler()
    parts = [_part("5", n, 3, t) for n, t in ((1, "x" * 40), (2, "y"), (3, "z"))]
    for part in parts[:2]:
        asm.feed(part)
    message = asm.feed(parts[2])
    assert message is not None and asm.completed == 1 and asm.held_bytes == 0
    asm.retract(parts[1], message)
    assert asm.completed == 0 and asm.pending_count == 1
    assert sorted(asm.pending_parts(), key=lambda p: p.concat_part or 0) == [parts[0], parts[2]]
    assert asm.held_bytes == part_size(parts[0]) + part_size(parts[2])
    again = asm.feed(parts[1])
    assert again is not None and again.text == "x" * 40 + "yz" and asm.completed == 1
    assert asm.held_bytes == 0 and asm.pending_count == 0


def test_mark_seen_recovers_dedupe_state() -> None:
    asm = InboundAssembler()
    asm.mark_seen(["0A0000000123ABCD1"])
    assert asm.feed(parse_inbound(BASE)) is None


def test_pending_parts_can_be_replayed_into_a_new_assembler() -> None:
    asm = InboundAssembler()
    asm.feed(_part("6", 1, 2, "x"))
    fresh = InboundAssembler()
    for part in asm.pending_parts():
        assert fresh.feed(InboundPart.from_dict(part.to_dict())) is None
    message = fresh.feed(_part("6", 2, 2, "y"))
    assert message is not None and message.text == "xy"


def test_bad_assembler_limits_rejected() -> None:
    with pytest.raises(KpnValidationError):
        InboundAssembler(max_pending=0)


@settings(max_examples=examples(60))
@given(
    texts=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=8),
    seed=st.integers(0, 2**16),
    dup_rate=st.floats(0, 0.9),
)
def test_any_arrival_order_with_redeliveries_yields_one_message(
    texts: list[str], seed: int, dup_rate: float
) -> None:
    total = len(texts)
    parts = [
        _part("r", i + 1, total, t) if total > 1 else parse_inbound({**BASE, "text": t})
        for i, t in enumerate(texts)
    ]
    rng = random.Random(seed)
    arrivals = parts + [p for p in parts if rng.random() < dup_rate]
    rng.shuffle(arrivals)
    asm = InboundAssembler()
    results = [m for m in (asm.feed(p) for p in arrivals) if m is not None]
    assert len(results) == 1
    assert results[0].text == "".join(texts)


# --------------------------------------------------------------------------- delivery receipts

DLR = {
    "msisdn": "31612345678",
    "to": "KPNAlert",
    "network-code": "20408",
    "messageId": "0A00000012345678",
    "price": "0.03330000",
    "status": "delivered",
    "scts": "2001011400",
    "err-code": "0",
    "client-ref": "alert-1",
    "message-timestamp": "2020-01-01 14:00:00",
}


@pytest.mark.parametrize(
    ("status", "outcome", "final"),
    [
        ("delivered", DeliveryOutcome.DELIVERED, True),
        ("failed", DeliveryOutcome.FAILED, True),
        ("expired", DeliveryOutcome.FAILED, True),
        ("rejected", DeliveryOutcome.FAILED, True),
        ("accepted", DeliveryOutcome.PENDING, False),
        ("buffered", DeliveryOutcome.PENDING, False),
        ("unknown", DeliveryOutcome.UNKNOWN, False),
        ("SomethingNew", DeliveryOutcome.UNKNOWN, False),
    ],
)
def test_receipt_status_classification(status: str, outcome: DeliveryOutcome, final: bool) -> None:
    receipt = parse_delivery_receipt({**DLR, "status": status})
    assert receipt.outcome is outcome
    assert receipt.final is final
    assert receipt.delivered is (outcome is DeliveryOutcome.DELIVERED)
    assert receipt.failed is (outcome is DeliveryOutcome.FAILED)


def test_receipt_fields_and_meaning() -> None:
    receipt = parse_delivery_receipt({**DLR, "status": "failed", "err-code": 9})
    assert receipt.message_id == "0A00000012345678"
    assert receipt.network_code == "20408" and receipt.price == "0.03330000"
    assert receipt.client_ref == "alert-1" and receipt.to == "KPNAlert"
    assert receipt.err_code == 9
    assert receipt.error_meaning == "Illegal number (recipient opted out)"
    assert receipt.carrier_time is not None and receipt.carrier_time.year == 2020
    assert receipt.carrier_time.hour == 14
    data = receipt.to_dict()
    assert data["outcome"] == "failed" and data["final"] is True
    assert parse_delivery_receipt({**DLR, "err-code": "77"}).error_meaning == (
        "Unlisted error code 77"
    )
    assert parse_delivery_receipt({**DLR, "err-code": None}).error_meaning is None


def test_every_listed_error_code_has_a_meaning() -> None:
    for code in (*range(17), *range(50, 55), 99):
        assert DLR_ERROR_CODES[code]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"messageId": None}, "messageId"),
        ({"status": None}, "status"),
        ({"status": "de livered"}, "status"),
        ({"err-code": "zero"}, "err-code"),
        ({"err-code": "-1"}, "err-code"),
        ({"msisdn": "not a number"}, "msisdn"),
    ],
)
def test_receipt_rejects_bad_fields(change: dict[str, Any], field: str) -> None:
    params = {k: v for k, v in {**DLR, **change}.items() if v is not None}
    with pytest.raises(KpnValidationError) as info:
        parse_delivery_receipt(params)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


# --------------------------------------------------------------------------- signatures

VECTOR = {"a": "1", "b": "2", "timestamp": "1461605396"}


def test_md5hash_test_vector() -> None:
    assert compute_signature(VECTOR, "secret") == "6af838ef94998832dbfc29020b564830"
    signed = {**VECTOR, "sig": "6af838ef94998832dbfc29020b564830"}
    assert verify_signature(signed, "secret")
    assert verify_signature({**signed, "sig": signed["sig"].upper()}, "secret")
    assert not verify_signature(signed, "other-secret")
    assert not verify_signature({**signed, "b": "3"}, "secret")
    assert not verify_signature(VECTOR, "secret")  # no sig at all


def test_numbers_sign_like_their_strings() -> None:
    signed = {"a": 1, "b": 2, "timestamp": 1461605396, "sig": "6af838ef94998832dbfc29020b564830"}
    assert verify_signature(signed, "secret")


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_hmac_methods_match_an_independent_computation(method: str) -> None:
    params = {"msisdn": "31612345678", "text": "a&b=c", "timestamp": "1700000000"}
    # Written out by hand from the Vonage description, not through the module.
    joined = "&msisdn=31612345678&text=a_b_c&timestamp=1700000000"
    expected = hmac.new(b"s3cr3t", joined.encode(), getattr(hashlib, method)).hexdigest()
    assert compute_signature(params, "s3cr3t", method) == expected
    assert verify_signature({**params, "sig": expected.upper()}, "s3cr3t", method)
    assert not verify_signature({**params, "sig": expected}, "s3cr3t", "md5hash")


def test_signature_skew_window() -> None:
    signed = {**VECTOR, "sig": "6af838ef94998832dbfc29020b564830"}
    assert verify_signature(signed, "secret", max_skew=300, now=1461605396 + 299)
    assert not verify_signature(signed, "secret", max_skew=300, now=1461605396 + 301)
    assert not verify_signature(signed, "secret", max_skew=300, now=1461605396 - 301)
    missing_stamp = {"a": "1", "sig": compute_signature({"a": "1"}, "secret")}
    assert not verify_signature(missing_stamp, "secret")


def test_signing_string_reads_absent_values_as_empty() -> None:
    params = {"a": None, "b": "", "c": ["x&y=z"], "timestamp": "1"}
    joined = "&a=&b=&c=x_y_z&timestamp=1"
    expected = hashlib.md5((joined + "secret").encode()).hexdigest()
    assert compute_signature(params, "secret") == expected


def test_a_value_that_cannot_be_a_wire_value_fails_the_check_without_raising() -> None:
    params = {"a": ["1", "2"], "timestamp": "1461605396", "sig": "x"}
    with pytest.raises(KpnValidationError) as info:
        compute_signature(params, "secret")
    assert info.value.field == "a"
    assert verify_signature(params, "secret") is False
    signed = {**VECTOR, "sig": "6af838ef94998832dbfc29020b564830"}
    assert verify_signature({**signed, "sig": [signed["sig"]] * 2}, "secret") is False
    assert verify_signature({**signed, "timestamp": ["1", "2"]}, "secret") is False


def test_lone_surrogates_give_a_signature_not_an_exception() -> None:
    params = {"text": "\ud800", "timestamp": "1700000000"}
    sig = compute_signature(params, "s\udc00cret")
    assert re.fullmatch("[0-9a-f]{32}", sig)
    assert verify_signature({**params, "sig": sig}, "s\udc00cret") is True
    assert verify_signature({**params, "sig": "\ud800"}, "s\udc00cret") is False


def test_unknown_method_error_names_the_choices() -> None:
    with pytest.raises(KpnValidationError) as info:
        compute_signature(VECTOR, "secret", "crc32")
    assert str(info.value) == (
        "method: expected one of md5hash, md5, sha1, sha256, sha512 (got 'crc32')"
    )
    assert info.value.value == "'crc32'"


def test_timestamp_fresh_at_the_edges() -> None:
    assert timestamp_fresh("100", 300, now=400) is True  # exactly max_skew away
    assert timestamp_fresh("100", 300, now=400.5) is False
    assert timestamp_fresh("soon", 300, now=100) is False
    assert timestamp_fresh("nan", 300, now=100) is False


def test_signature_problem_says_what_is_wrong() -> None:
    signed = {**VECTOR, "sig": "6af838ef94998832dbfc29020b564830"}
    assert signature_problem(signed, "secret", now=1461605396) is None  # md5hash by default
    assert signature_problem(VECTOR, "secret", now=1461605396) == (
        "sig: required, signature checking is on"
    )
    assert signature_problem(signed, "other", now=1461605396) == "sig: signature does not match"
    assert signature_problem(signed, "secret", now=1461605396 + 301) == (
        "timestamp: outside the allowed 300 s of this clock (a replayed or delayed call)"
    )


def test_unknown_signature_method_is_a_validation_error() -> None:
    with pytest.raises(KpnValidationError) as info:
        verify_signature({**VECTOR, "sig": "x"}, "secret", "crc32")
    assert info.value.field == "method"


def test_signature_over_a_real_inbound_payload() -> None:
    params = {**BASE, "timestamp": "1700000000", "nonce": "abc-123"}
    params["sig"] = compute_signature(params, "k3y", "sha256")
    assert verify_signature(params, "k3y", "sha256")
    part = parse_inbound(params)  # sig is not a field of the part
    assert part.nonce == "abc-123" and part.timestamp == 1700000000


_WIRE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers()),
)
_KEYS = st.sampled_from(
    [
        "msisdn",
        "to",
        "messageId",
        "text",
        "type",
        "concat",
        "concat-ref",
        "concat-total",
        "concat-part",
        "timestamp",
        "status",
        "err-code",
        "scts",
        "price",
        "other",
    ]
)


@settings(max_examples=examples(400))
@given(params=st.dictionaries(_KEYS, _WIRE, max_size=10))
def test_any_parameters_parse_or_raise_a_validation_error(params: dict[str, Any]) -> None:
    asm = InboundAssembler()
    try:
        asm.feed(parse_inbound(params))
    except KpnValidationError as err:
        assert err.field and "\n" not in str(err)
    try:
        parse_delivery_receipt(params).to_dict()
    except KpnValidationError as err:
        assert err.field
    assert verify_signature(params, "secret") in (True, False)


# ------------------------------------------------------------------ reading a webhook body

SMS_JSON = json.dumps(BASE).encode()


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "application/octet-stream",
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.vonage+json",
        "application/x-www-form-urlencoded",
    ],
)
def test_a_json_object_is_json_whatever_its_label(content_type: str | None) -> None:
    params = webhook_params(query=[], body=b"\n " + SMS_JSON + b"\n", content_type=content_type)
    assert params == BASE
    assert parse_inbound(params).text == "Hello there"


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"],
)
def test_anything_else_is_a_form(content_type: str | None) -> None:
    body = urlencode(BASE).encode()
    assert webhook_params(query=[], body=body, content_type=content_type) == BASE


def test_query_and_body_merge_the_body_winning() -> None:
    params = webhook_params(
        query=[("text", "from the query"), ("nonce", "n1")], body=SMS_JSON, content_type=None
    )
    assert params["text"] == "Hello there" and params["nonce"] == "n1"
    assert webhook_params(query=[("a", "1"), ("a", "2")], body=b"", content_type=None) == {
        "a": ["1", "2"]
    }
    assert webhook_params(query=[], body=b"\xef\xbb\xbf" + SMS_JSON, content_type=None) == BASE


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"msisdn=1&to=2", "application/json", "body: not valid JSON (Expecting value at line 1"),
        (b"{oops", None, "body: not valid JSON"),
        (b"[1, 2]", "text/plain", "body: expected a JSON object, got array"),
        (b'"text"', "application/json", "body: expected a JSON object, got string"),
        (b"null", "application/json", "body: expected a JSON object, got null"),
        (b"[" * 100_000, None, "body: not valid JSON (nested too deeply)"),
        (b'{"text": "\xff"}', None, "body: not UTF-8 text"),
        (b"msisdn=\xff", "application/x-www-form-urlencoded", "body: not UTF-8 text"),
        (b"<sms/>", "text/xml", "body: unsupported content type 'text/xml'"),
    ],
)
def test_an_unreadable_body_says_why_on_one_line(
    body: bytes, content_type: str | None, reason: str
) -> None:
    with pytest.raises(KpnValidationError) as caught:
        webhook_params(query=[], body=body, content_type=content_type)
    assert str(caught.value).startswith(reason)
    assert "\n" not in str(caught.value) and caught.value.field


def test_decode_json_is_the_json_half_of_the_reader() -> None:
    """The reader `kpn-sms serve` also uses for alert bodies: UTF-8 JSON of any kind, a
    byte-order mark dropped, the same one-line reasons; the depth limit is the caller's."""
    assert decode_json(b"\xef\xbb\xbf[1, 2]") == [1, 2]
    for body, reason in (
        (b"{oops", "body: not valid JSON (Expecting property name"),
        (b'"\xff"', "body: not UTF-8 text"),
    ):
        with pytest.raises(KpnValidationError, match=re.escape(reason)):
            decode_json(body)
    with pytest.raises(RecursionError):
        decode_json(b"[" * 100_000)


# ------------------------------------------------------------------ the Messages API's shapes

# An inbound text from an account set to the Messages API (vonage-node-sdk issue 876; the
# fields as Vonage's Java SDK reads them: InboundMessage, SmsInboundMetadata).
MESSAGES_INBOUND: dict[str, Any] = {
    "to": "3197010000000",
    "from": "31612345678",
    "channel": "sms",
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    "message_type": "text",
    "text": "HELLO from the Messages API",
    "timestamp": "2024-05-01T12:00:00.123Z",
    "sms": {"num_messages": "2", "keyword": "HELLO"},
    "usage": {"price": "0.0333", "currency": "EUR"},
}
MESSAGES_STATUS: dict[str, Any] = {
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac",
    "to": "31612345678",
    "from": "KPNAlert",
    "timestamp": "2024-05-01T12:00:05+02:00",
    "status": "rejected",
    "channel": "sms",
    "client_ref": "ticket-7",
    "usage": {"price": "0.0750", "currency": "EUR"},
    "destination": {"network_code": "20408"},
    "error": {"code": 1300, "reason": "Not part of the provider network"},
}


def test_messages_api_inbound_maps_to_the_same_record() -> None:
    part = parse_inbound(MESSAGES_INBOUND)
    assert (part.msisdn, part.to) == ("+31612345678", "+3197010000000")
    assert part.message_id == MESSAGES_INBOUND["message_uuid"]
    assert (part.text, part.type, part.keyword) == ("HELLO from the Messages API", "text", "HELLO")
    assert part.message_timestamp == "2024-05-01 12:00:00"  # as the SMS API writes it
    assert not part.is_part  # Vonage joined the parts already
    message = InboundAssembler().feed(part)
    assert message is not None and message.to_dict()["complete"] is True
    # The same text through a form or a query (values as strings) reads the same.
    flat = {k: v for k, v in MESSAGES_INBOUND.items() if not isinstance(v, dict)}
    assert parse_inbound(flat).text == part.text and parse_inbound(flat).keyword is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"channel": "whatsapp"}, "channel: expected sms"),
        ({"message_type": "image"}, "message_type: expected text"),
        ({"message_uuid": None}, "message_uuid: required field missing"),
        ({"from": None}, "from: required field missing"),
        ({"from": {"type": "sms", "number": "31612345678"}}, "from: required field missing"),
        ({"to": "has spaces in it"}, "to: expected a phone number"),
        ({"sms": "2"}, None),  # not an object: ignored, the text still counts
        ({"status": "delivered"}, "status: a Messages API status, not an inbound text"),
    ],
)
def test_messages_api_inbound_errors_name_its_own_fields(
    change: dict[str, Any], reason: str | None
) -> None:
    params = {k: v for k, v in {**MESSAGES_INBOUND, **change}.items() if v is not None}
    if reason is None:
        assert parse_inbound(params).text == MESSAGES_INBOUND["text"]
        return
    with pytest.raises(KpnValidationError) as caught:
        parse_inbound(params)
    assert str(caught.value).startswith(reason)
    assert caught.value.field == reason.split(":")[0]


def test_messages_api_inbound_defaults_and_refusal_text() -> None:
    bare = {k: v for k, v in MESSAGES_INBOUND.items() if k not in ("message_type", "text")}
    part = parse_inbound(bare)  # no message_type: a text; no text: an empty one
    assert (part.text, part.type) == ("", "text")
    with pytest.raises(KpnValidationError) as caught:
        parse_inbound({**MESSAGES_INBOUND, "message_type": " Image "})
    assert str(caught.value) == (
        "message_type: expected text; only SMS text is handled here (got 'image')"
    )
    assert caught.value.value == "'image'"


def test_messages_api_status_recipient_is_optional_but_checked() -> None:
    receipt = parse_delivery_receipt({k: v for k, v in MESSAGES_STATUS.items() if k != "to"})
    assert receipt.msisdn is None and receipt.to == "KPNAlert"
    with pytest.raises(KpnValidationError) as caught:
        parse_delivery_receipt({**MESSAGES_STATUS, "to": "has spaces"})
    assert caught.value.field == "to"


def test_form_body_keeps_blank_values_and_refuses_bytes_that_are_not_utf8() -> None:
    form = "application/x-www-form-urlencoded"
    assert webhook_params(query=[], body=b"a=&b=1", content_type=form) == {"a": "", "b": "1"}
    with pytest.raises(KpnValidationError) as caught:
        webhook_params(query=[], body=b"a=\xff", content_type=form)
    assert (str(caught.value), caught.value.field) == ("body: not UTF-8 text", "body")


def test_messages_api_timestamps_become_sms_api_time() -> None:
    def stamp(raw: str) -> str | None:
        return parse_inbound({**MESSAGES_INBOUND, "timestamp": raw}).message_timestamp

    assert stamp("2024-05-01T14:00:00+02:00") == "2024-05-01 12:00:00"
    assert stamp("2024-05-01T12:00:00") == "2024-05-01 12:00:00"  # no zone: UTC
    assert stamp("yesterday") == "yesterday"  # kept as sent, not a reason to lose the text


def test_messages_api_status_maps_to_a_receipt() -> None:
    receipt = parse_delivery_receipt(MESSAGES_STATUS)
    assert receipt.message_id == MESSAGES_STATUS["message_uuid"]
    assert (receipt.msisdn, receipt.to) == ("+31612345678", "KPNAlert")  # recipient, sender
    assert receipt.status == "rejected" and receipt.failed and receipt.final
    assert (receipt.err_code, receipt.error_meaning) == (1300, "Not part of the provider network")
    assert (receipt.price, receipt.network_code, receipt.client_ref) == (
        "0.0750",
        "20408",
        "ticket-7",
    )
    assert receipt.message_timestamp == "2024-05-01 10:00:05"
    assert receipt.to_dict()["outcome"] == "failed"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("submitted", "pending"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("rejected", "failed"),
        ("undeliverable", "failed"),
        ("brand_new_word", "unknown"),
    ],
)
def test_messages_api_status_words(status: str, outcome: str) -> None:
    plain = {k: v for k, v in MESSAGES_STATUS.items() if k != "error"}
    assert parse_delivery_receipt({**plain, "status": status}).outcome.value == outcome


def test_messages_api_v1_error_object() -> None:
    error = {
        "type": "https://developer.vonage.com/api-errors/messages#1000",
        "title": "1000",
        "detail": "Throttled",
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
    }
    receipt = parse_delivery_receipt({**MESSAGES_STATUS, "error": error})
    assert (receipt.err_code, receipt.error_meaning) == (1000, "Throttled")
    wordy = parse_delivery_receipt({**MESSAGES_STATUS, "error": {"title": "Throttled"}})
    assert wordy.err_code is None and wordy.status == "rejected"  # still stored, not a 400
    with pytest.raises(KpnValidationError, match=r"^message_uuid: required"):
        parse_delivery_receipt({k: v for k, v in MESSAGES_STATUS.items() if k != "message_uuid"})


def test_an_sms_api_payload_is_never_read_as_the_messages_api() -> None:
    both = {**BASE, "channel": "sms", "message_uuid": "x"}
    assert parse_inbound(both).message_id == BASE["messageId"]


# ------------------------------------------------------------------ receipts already seen


def test_seen_receipts_are_bounded_and_agree_with_serves_key() -> None:
    seen = SeenReceipts(max_entries=2)
    receipt = parse_delivery_receipt(DLR)
    assert receipt.key == receipt_key(receipt.to_dict())  # serve keys its sink records so
    assert seen.first(receipt.key) and not seen.first(receipt.key)
    seen.remember("b")
    assert seen.first("c") and len(seen) == 2
    assert receipt.key not in seen and "b" in seen  # the least recently seen went first
