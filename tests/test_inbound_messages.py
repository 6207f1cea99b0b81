"""Inbound texts (inbound/messages.py): what a webhook call becomes, field by field.

`parse_inbound` turns one call into an `InboundPart`; `InboundMessage` is the whole text a
host sees (one part, or the parts of a long one joined). These tests pin the limits, the
defaults and the exact refusals a sender's gateway would get back as a 400.
"""

from __future__ import annotations

from typing import Any

import pytest
from inbound_support import SMS, refusal  # type: ignore[import-not-found]

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import InboundMessage, InboundPart, parse_inbound

MESSAGES_API: dict[str, Any] = {
    "to": "3197010000000",
    "from": "31612345678",
    "channel": "sms",
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    "message_type": "text",
    "text": "Hi",
}


def _refusal(params: dict[str, Any]) -> KpnValidationError:
    return refusal(parse_inbound, params)


def _part(no: int | None, text: str = "", total: int = 3, **extra: Any) -> InboundPart:
    params: dict[str, Any] = {
        **SMS,
        "messageId": f"id-{no}",
        "text": text,
        "concat": "true",
        "concat-ref": "r1",
        "concat-total": str(total),
        **extra,
    }
    if no is not None:
        params["concat-part"] = str(no)
    return parse_inbound(params)


# ------------------------------------------------------------------ field lengths


@pytest.mark.parametrize(
    ("wire", "shown_as"),
    [
        ("keyword", "keyword"),
        ("nonce", "nonce"),
        ("udh", "udh"),
        ("api-key", "api-key"),
        ("concat-ref", "concat-ref"),
        ("message-timestamp", "message-timestamp"),
        # An alias is refused under the attribute's canonical wire name.
        ("message-id", "messageId"),
        ("message_id", "messageId"),
    ],
)
def test_a_short_field_over_256_characters_is_refused_under_its_wire_name(
    wire: str, shown_as: str
) -> None:
    """A keyword, id or nonce of 257 characters is junk: a 400 naming the field."""
    params = {**SMS, wire: "k" * 257}
    if wire.startswith("message"):
        params.pop("messageId")
    err = _refusal(params)
    assert err.field == shown_as
    assert str(err).startswith(f"{shown_as}: longer than 256 characters (got 'kkk")


def test_a_short_field_of_exactly_256_characters_is_kept() -> None:
    part = parse_inbound({**SMS, "keyword": "k" * 256, "nonce": "n" * 256})
    assert (part.keyword, part.nonce) == ("k" * 256, "n" * 256)


@pytest.mark.parametrize("wire", ["text", "data"])
def test_text_and_binary_data_may_be_longer_than_a_short_field(wire: str) -> None:
    """Only the text and the binary payload may be long (up to the 4096 of every field)."""
    part = parse_inbound({**SMS, wire: "x" * 4096})
    assert getattr(part, wire) == "x" * 4096


# ------------------------------------------------------------------ surrogates


def test_lone_surrogates_in_short_fields_are_repaired_but_the_text_is_kept_raw() -> None:
    """The text is repaired only after the parts are joined (a pair may be split across two
    parts); every other field is repaired at once."""
    part = parse_inbound(
        {**SMS, "text": "a\ud83d", "keyword": "k\ud800", "nonce": "\udc00n", "data": "\ud800"}
    )
    assert part.text == "a\ud83d"
    assert (part.keyword, part.nonce, part.data) == ("k\ufffd", "\ufffdn", "\ufffd")


# ------------------------------------------------------------------ type


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(None, "text"), ("text", "text"), (" Unicode ", "unicode"), ("BINARY", "binary")],
)
def test_the_type_is_read_case_and_space_insensitively_text_by_default(
    raw: str | None, kind: str
) -> None:
    params = dict(SMS) if raw is None else {**SMS, "type": raw}
    assert parse_inbound(params).type == kind


def test_an_unknown_type_is_refused_with_the_choices() -> None:
    err = _refusal({**SMS, "type": " Fax "})
    assert str(err) == "type: expected text, unicode or binary (got 'fax')"
    assert (err.field, err.value) == ("type", "'fax'")


# ------------------------------------------------------------------ concatenation


@pytest.mark.parametrize(
    ("wire", "raw", "value"),
    [
        ("concat-total", "1", 1),
        ("concat-total", " 2 ", 2),
        ("concat-total", "255", 255),
        ("concat-part", "1", 1),
        ("concat-part", "255", 255),
        ("timestamp", "0", 0),
        ("timestamp", str(2**33), 2**33),
    ],
)
def test_numbers_at_the_edges_of_their_range_are_kept(wire: str, raw: str, value: int) -> None:
    params = {**SMS, wire: raw}
    attr = wire.replace("-", "_")
    assert getattr(parse_inbound(params), attr) == value


@pytest.mark.parametrize(
    ("wire", "raw", "reason"),
    [
        ("concat-total", "0", "expected 1..255"),
        ("concat-total", "256", "expected 1..255"),
        ("concat-part", "0", "expected 1..255"),
        ("concat-part", "256", "expected 1..255"),
        ("timestamp", "-1", "expected 0..8589934592"),
        ("timestamp", str(2**33 + 1), "expected 0..8589934592"),
    ],
)
def test_numbers_outside_their_range_are_refused(wire: str, raw: str, reason: str) -> None:
    err = _refusal({**SMS, wire: raw})
    assert (err.field, err.value) == (wire, repr(raw))
    assert str(err) == f"{wire}: {reason} (got {raw!r})"


@pytest.mark.parametrize(
    ("missing", "field"),
    [("concat-total", "concat-total"), ("concat-part", "concat-part")],
)
def test_a_concatenated_part_without_its_number_or_total_is_refused(
    missing: str, field: str
) -> None:
    params = {
        **SMS,
        "concat": "true",
        "concat-ref": "r1",
        "concat-total": "2",
        "concat-part": "1",
    }
    del params[missing]
    err = _refusal(params)
    assert str(err) == f"{field}: required field missing for a concatenated part"
    assert (err.field, err.value) == (field, None)


def test_a_part_number_beyond_the_total_is_refused_and_the_last_part_is_kept() -> None:
    err = _refusal(
        {**SMS, "concat": "true", "concat-ref": "r", "concat-total": "2", "concat-part": "3"}
    )
    assert str(err) == "concat-part: greater than concat-total 2 (got 3)"
    assert (err.field, err.value) == ("concat-part", "3")
    last = parse_inbound(
        {**SMS, "concat": "true", "concat-ref": "r", "concat-total": "2", "concat-part": "2"}
    )
    assert (last.concat_part, last.concat_total, last.is_part) == (2, 2, True)


@pytest.mark.parametrize(
    "extra",
    [
        {"concat-ref": "r"},  # concat not set
        {"concat": "false", "concat-ref": "r"},
        {"concat": "true"},  # no reference
    ],
)
def test_udh_fields_are_only_checked_for_a_concatenated_part(extra: dict[str, str]) -> None:
    """Without both concat and a reference, a missing number or total is no reason to 400."""
    part = parse_inbound({**SMS, **extra})
    assert part.concat_total is None and part.concat_part is None
    assert not part.is_part


@pytest.mark.parametrize(
    ("concat", "ref", "total", "is_part"),
    [
        (True, "r", 2, True),
        (True, "r", 1, False),  # a "long" text of one part
        (True, "r", None, False),  # no total: read as one part
        (True, None, 2, False),
        (False, "r", 2, False),
    ],
)
def test_is_part_needs_concat_a_reference_and_more_than_one_part(
    concat: bool, ref: str | None, total: int | None, is_part: bool
) -> None:
    part = InboundPart(
        msisdn="+31612345678",
        to="+3197010000000",
        message_id="m",
        concat=concat,
        concat_ref=ref,
        concat_total=total,
        concat_part=1,
    )
    assert part.is_part is is_part


# ------------------------------------------------------------------ every field lands


def test_every_sms_api_field_lands_in_its_attribute() -> None:
    part = parse_inbound(
        {
            **SMS,
            "type": "binary",
            "keyword": "HELLO",
            "message-timestamp": "2024-05-01 12:00:00",
            "timestamp": "1700000000",
            "nonce": "n-1",
            "concat": "true",
            "concat-ref": "r9",
            "concat-total": "3",
            "concat-part": "2",
            "data": "0102",
            "udh": "050003CC0302",
            "api-key": "abcd1234",
        }
    )
    assert part == InboundPart(
        msisdn="+31612345678",
        to="+3197010000000",
        message_id="0A0000000123ABCD1",
        text="Hello there",
        type="binary",
        keyword="HELLO",
        message_timestamp="2024-05-01 12:00:00",
        timestamp=1700000000,
        nonce="n-1",
        concat=True,
        concat_ref="r9",
        concat_total=3,
        concat_part=2,
        data="0102",
        udh="050003CC0302",
        api_key="abcd1234",
    )


def test_a_minimal_call_has_the_documented_defaults() -> None:
    part = parse_inbound({k: v for k, v in SMS.items() if k != "text"})
    assert part == InboundPart(
        msisdn="+31612345678", to="+3197010000000", message_id="0A0000000123ABCD1"
    )
    assert (part.text, part.type, part.concat) == ("", "text", False)


def test_the_recipient_number_is_checked_and_canonical() -> None:
    assert parse_inbound({**SMS, "to": "+3197010000000"}).to == "+3197010000000"
    err = _refusal({**SMS, "to": "31 97"})
    assert err.field == "to"


# ------------------------------------------------------------------ to_dict / from_dict


def test_from_dict_makes_both_numbers_canonical_and_ignores_unknown_keys() -> None:
    """A journal line of an older version: numbers without "+", a key this one lacks."""
    part = InboundPart.from_dict(
        {"msisdn": "31612345678", "to": "3197010000000", "message_id": "m", "extra": 1}
    )
    assert (part.msisdn, part.to, part.message_id) == ("+31612345678", "+3197010000000", "m")


def test_to_dict_holds_every_field_by_name() -> None:
    part = _part(2, "x")
    data = part.to_dict()
    assert (data["msisdn"], data["concat_ref"], data["concat_part"]) == ("+31612345678", "r1", 2)
    assert set(data) == set(InboundPart.__dataclass_fields__)


# ------------------------------------------------------------------ the Messages API


def test_a_messages_api_status_sent_to_the_inbound_url_is_refused() -> None:
    err = _refusal({**MESSAGES_API, "status": "delivered"})
    assert str(err) == (
        "status: a Messages API status, not an inbound text; send it to the receipt URL"
    )
    assert (err.field, err.value) == ("status", None)


@pytest.mark.parametrize("raw", [" TEXT ", "Text"])
def test_a_messages_api_text_type_is_read_case_and_space_insensitively(raw: str) -> None:
    part = parse_inbound({**MESSAGES_API, "message_type": raw})
    assert (part.type, part.text) == ("text", "Hi")


def test_a_messages_api_text_is_one_whole_part() -> None:
    part = parse_inbound({**MESSAGES_API, "sms": {"keyword": "HI"}})
    assert part == InboundPart(
        msisdn="+31612345678",
        to="+3197010000000",
        message_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
        text="Hi",
        keyword="HI",
    )


# ------------------------------------------------------------------ InboundMessage


def test_a_single_part_becomes_a_complete_message_with_its_text_repaired() -> None:
    part = parse_inbound(
        {
            **SMS,
            "text": "\ud83d\ude00 ok \ud800",
            "type": "unicode",
            "keyword": "HELLO",
            "message-timestamp": "2024-05-01 12:00:00",
            "data": "ab",
        }
    )
    message = InboundMessage.from_part(part)
    assert message == InboundMessage(
        msisdn="+31612345678",
        to="+3197010000000",
        text="\U0001f600 ok \ufffd",
        type="unicode",
        message_ids=("0A0000000123ABCD1",),
        keyword="HELLO",
        message_timestamp="2024-05-01 12:00:00",
        data="ab",
    )
    assert message.parts == (part,)
    assert message.message_id == "0A0000000123ABCD1"
    assert (message.concat_ref, message.total_parts, message.received_parts) == (None, 1, 1)
    assert message.complete


def test_to_dict_is_the_json_record_a_host_stores() -> None:
    message = InboundMessage.join([_part(2, "b"), _part(1, "a", keyword="KW")], total=3)
    assert message.to_dict() == {
        "msisdn": "+31612345678",
        "to": "+3197010000000",
        "text": "ab",
        "type": "text",
        "keyword": "KW",
        "message_id": "id-1",
        "message_ids": ["id-1", "id-2"],
        "message_timestamp": None,
        "concat_ref": "r1",
        "total_parts": 3,
        "received_parts": 2,
        "complete": False,
        "data": None,
    }


@pytest.mark.parametrize(
    ("received", "total", "complete"), [(1, 2, False), (2, 2, True), (3, 2, True)]
)
def test_a_message_is_complete_once_every_part_is_in(
    received: int, total: int, complete: bool
) -> None:
    message = InboundMessage(
        msisdn="+1",
        to="+2",
        text="",
        type="text",
        message_ids=("m",),
        total_parts=total,
        received_parts=received,
    )
    assert message.complete is complete


def test_join_orders_by_part_number_and_keeps_the_first_parts_details() -> None:
    parts = [
        _part(3, "three", msisdn="31600000003", **{"message-timestamp": "t3"}),
        _part(1, "one ", **{"message-timestamp": "t1"}),
        _part(2, "two ", to="3197020000000"),
    ]
    message = InboundMessage.join(parts, total=3)
    assert message.text == "one two three"
    assert message.message_ids == ("id-1", "id-2", "id-3")
    assert message.parts == (parts[1], parts[2], parts[0])
    assert (message.msisdn, message.to, message.message_timestamp) == (
        "+31612345678",
        "+3197010000000",
        "t1",
    )
    assert (message.concat_ref, message.total_parts, message.received_parts) == ("r1", 3, 3)


def test_join_repairs_an_emoji_split_across_two_parts() -> None:
    message = InboundMessage.join([_part(2, "\ude00!"), _part(1, "a\ud83d")], total=2)
    assert message.text == "a\U0001f600!"


def test_join_puts_a_part_without_a_number_first() -> None:
    """A part with no number (not a part of the UDH's) sorts as 0, ahead of part 1."""
    unnumbered = InboundPart(
        msisdn="+31600000009", to="+3197010000000", message_id="id-x", text="x"
    )
    message = InboundMessage.join([_part(1, "a"), unnumbered], total=2)
    assert message.text == "xa" and message.msisdn == "+31600000009"


@pytest.mark.parametrize(
    ("types", "kind"),
    [
        (("text", "text"), "text"),
        (("text", "unicode"), "unicode"),
        (("unicode", "text"), "unicode"),
        (("binary", "binary"), "binary"),
    ],
)
def test_a_text_with_any_unicode_part_is_unicode(types: tuple[str, str], kind: str) -> None:
    parts = [_part(n + 1, "x", type=t) for n, t in enumerate(types)]
    assert InboundMessage.join(parts, total=2).type == kind


def test_binary_parts_join_their_payloads_and_text_parts_carry_none() -> None:
    binary = [_part(2, type="binary", data="0304"), _part(1, type="binary", data="0102")]
    assert InboundMessage.join(binary, total=2).data == "01020304"
    gap = [_part(1, type="binary", data="01"), _part(2, type="binary")]
    assert InboundMessage.join(gap, total=2).data == "01"  # a part without data adds nothing
    text = [_part(1, "a", data="01"), _part(2, "b", data="02")]
    assert InboundMessage.join(text, total=2).data is None


def test_the_keyword_is_only_taken_from_part_one() -> None:
    """The keyword is the first word of the text: a text whose first part is missing has
    none, even when a later part's call carries one."""
    with_first = InboundMessage.join([_part(2, "b", keyword="B"), _part(1, "a", keyword="A")], 2)
    assert with_first.keyword == "A"
    without_first = InboundMessage.join([_part(2, "b", keyword="B")], total=3)
    assert without_first.keyword is None
    assert without_first.received_parts == 1 and not without_first.complete
