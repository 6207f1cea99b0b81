"""inbound.wire: the wire names and the checks every webhook field goes through, seen
through parse_inbound and parse_delivery_receipt (what a host calls)."""

from __future__ import annotations

from typing import Any

import pytest
from inbound_support import DLR, SMS, refusal  # type: ignore[import-not-found]

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import MAX_FIELD_CHARS, parse_delivery_receipt, parse_inbound


def _inbound_error(**change: Any) -> KpnValidationError:
    return refusal(parse_inbound, {**SMS, **change})


# --------------------------------------------------------------------------- wire names


@pytest.mark.parametrize(
    ("wire", "value", "attr", "expected"),
    [
        ("message-id", "dash-id", "message_id", "dash-id"),
        ("message_id", "snake-id", "message_id", "snake-id"),
        ("keyword", "STOP", "keyword", "STOP"),
        ("message-timestamp", "2024-05-01 12:00:00", "message_timestamp", "2024-05-01 12:00:00"),
        ("timestamp", "1461605396", "timestamp", 1461605396),
        ("nonce", "n-1", "nonce", "n-1"),
        ("concat", "true", "concat", True),
        ("concat-ref", "7", "concat_ref", "7"),
        ("concat-total", "3", "concat_total", 3),
        ("concat-part", "2", "concat_part", 2),
        ("data", "0102", "data", "0102"),
        ("udh", "050003070302", "udh", "050003070302"),
        ("api-key", "abcd1234", "api_key", "abcd1234"),
    ],
)
def test_each_inbound_wire_name_fills_its_attribute(
    wire: str, value: str, attr: str, expected: Any
) -> None:
    """Every wire name a gateway uses (dash, camel or snake) lands on the record."""
    params = {k: v for k, v in SMS.items() if not (attr == "message_id" and k == "messageId")}
    part = parse_inbound({**params, wire: value})
    assert getattr(part, attr) == expected


@pytest.mark.parametrize(
    ("wire", "value", "attr", "expected"),
    [
        ("msisdn", "31612345678", "msisdn", "+31612345678"),
        ("to", "KPNAlert", "to", "KPNAlert"),
        ("network-code", "20408", "network_code", "20408"),
        ("price", "0.03330000", "price", "0.03330000"),
        ("scts", "2001011400", "scts", "2001011400"),
        ("err-code", "9", "err_code", 9),
        ("client-ref", "alert-1", "client_ref", "alert-1"),
        ("message-timestamp", "2020-01-01 14:00:00", "message_timestamp", "2020-01-01 14:00:00"),
        ("api-key", "abcd1234", "api_key", "abcd1234"),
        ("timestamp", "1461605396", "timestamp", 1461605396),
        ("nonce", "n-1", "nonce", "n-1"),
    ],
)
def test_each_receipt_wire_name_fills_its_attribute(
    wire: str, value: str, attr: str, expected: Any
) -> None:
    receipt = parse_delivery_receipt({**DLR, wire: value})
    assert getattr(receipt, attr) == expected


@pytest.mark.parametrize("wire", ["messageId", "message-id", "message_id"])
def test_a_receipt_reads_its_id_under_every_alias(wire: str) -> None:
    receipt = parse_delivery_receipt({"status": "delivered", wire: "id-7"})
    assert receipt.message_id == "id-7"


@pytest.mark.parametrize("parse", [parse_inbound, parse_delivery_receipt])
def test_the_canonical_name_wins_over_an_alias(parse: Any) -> None:
    """A payload carrying both `messageId` and `message-id` is read by `messageId`."""
    base = SMS if parse is parse_inbound else DLR
    params = {**base, "message-id": "alias", "message_id": "snake", "messageId": "canonical"}
    assert parse(params).message_id == "canonical"
    # An empty canonical value counts as absent: the alias is used.
    assert parse({**params, "messageId": ""}).message_id == "alias"


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (["one"], "one"),
        (("one",), "one"),
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (7.0, "7"),
        (7.5, "7.5"),
        ("", ""),
        (None, ""),
    ],
)
def test_a_text_value_of_any_wire_type_reads_as_a_string(value: Any, text: str) -> None:
    """JSON numbers and booleans and query lists of one read as the string a form would give;
    an empty or null text is an empty text."""
    assert parse_inbound({**SMS, "text": value}).text == text


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ([True], True)])
def test_json_booleans_read_as_concat(value: Any, expected: bool) -> None:
    assert parse_inbound({**SMS, "concat": value}).concat is expected


@pytest.mark.parametrize("field", ["keyword", "nonce", "udh", "message-timestamp"])
@pytest.mark.parametrize("empty", ["", None, [""]])
def test_an_empty_optional_field_is_absent(field: str, empty: Any) -> None:
    part = parse_inbound({**SMS, field: empty})
    assert getattr(part, field.replace("-", "_")) is None


@pytest.mark.parametrize(
    ("value", "message", "shown"),
    [
        (["a", "b"], "text: expected one value (got ['a', 'b'])", "['a', 'b']"),
        ([], "text: expected one value (got [])", "[]"),
        ({"nested": 1}, "text: expected a string or number (got {'nested': 1})", "{'nested': 1}"),
    ],
)
def test_a_value_that_is_not_one_string_is_refused_saying_so(
    value: Any, message: str, shown: str
) -> None:
    err = _inbound_error(text=value)
    assert (str(err), err.field, err.value) == (message, "text", shown)


def test_a_field_may_be_max_field_chars_long_and_no_longer() -> None:
    longest = "x" * MAX_FIELD_CHARS
    assert MAX_FIELD_CHARS == 4096
    assert parse_inbound({**SMS, "text": longest}).text == longest
    err = _inbound_error(text=longest + "x")
    assert str(err).startswith("text: longer than 4096 characters (got 'xxx")
    assert err.field == "text"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("x" * 38, "'" + "x" * 38 + "'"),  # a repr of 40 characters is shown whole
        ("x" * 39, "'" + "x" * 36 + "..."),  # one more: cut to 37 and an ellipsis
    ],
)
def test_a_long_bad_value_is_shortened_in_the_error(raw: str, shown: str) -> None:
    err = _inbound_error(**{"concat-total": raw})
    assert err.value == shown
    assert str(err) == f"concat-total: expected a whole number (got {shown})"


def test_a_payload_that_is_not_an_object_isrefusal() -> None:
    for parse in (parse_inbound, parse_delivery_receipt):
        err = refusal(parse, ["msisdn", "to"])  # type: ignore[arg-type]
        assert str(err) == "payload: expected an object of parameters (got list)"
        assert (err.field, err.value) == ("payload", "list")


# --------------------------------------------------------------------------- required fields


@pytest.mark.parametrize("field", ["msisdn", "to", "messageId"])
def test_a_missing_required_field_is_named(field: str) -> None:
    err = refusal(parse_inbound, {k: v for k, v in SMS.items() if k != field})
    assert str(err) == f"{field}: required field missing"
    assert (err.field, err.value) == (field, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" abc ", "abc"), ("x" * 64, "x" * 64), ("1", "1")],
)
def test_a_message_id_is_trimmed_and_up_to_64_characters(raw: str, expected: str) -> None:
    assert parse_inbound({**SMS, "messageId": raw}).message_id == expected


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("x" * 65, "'" + "x" * 36 + "..."), ("   ", "''")],
)
def test_a_message_id_too_long_or_blank_isrefusal(raw: str, shown: str) -> None:
    err = _inbound_error(messageId=raw)
    assert str(err) == f"messageId: expected 1..64 characters (got {shown})"
    assert (err.field, err.value) == ("messageId", shown)


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" +31612345678 ", "+31612345678"),
        ("++31612345678", "+31612345678"),
        ("A" * 32, "A" * 32),
        ("KPN-Alert!", "KPN-Alert!"),
        ("XS4ALL", "XS4ALL"),  # only a "+" is dropped from the front, no letter
    ],
)
def test_an_address_is_trimmed_and_up_to_32_characters(raw: str, expected: str) -> None:
    assert parse_inbound({**SMS, "msisdn": raw}).msisdn == expected


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("A" * 33, "*" * 33),  # a sender ID is masked like a number: five digits or fewer
        ("+", ""),
        ("316 12345678", "316 ******78"),
        ("3161234\t5678", "316****\t**78"),
        ("31612345678\u200b", "316******78\u200b"),
    ],
)
def test_an_address_that_is_no_number_or_sender_id_is_refused_masked(raw: str, shown: str) -> None:
    err = _inbound_error(msisdn=raw)
    assert str(err) == f"msisdn: expected a phone number or sender ID (got {shown})"
    assert (err.field, err.value) == ("msisdn", shown)


def test_only_addresses_are_masked_in_errors() -> None:
    """Other fields show the value as sent (repr), even when it is all digits."""
    err = _inbound_error(type="12345678")
    assert err.value == "'12345678'"
    assert str(err) == "type: expected text, unicode or binary (got '12345678')"


# --------------------------------------------------------------------------- flags and types


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        (" TRUE ", True),
        ("1", True),
        ("yes", True),
        ("Yes", True),
        ("false", False),
        ("0", False),
        ("no", False),
        (" NO ", False),
    ],
)
def test_concat_reads_the_usual_spellings_of_a_flag(raw: str, expected: bool) -> None:
    assert parse_inbound({**SMS, "concat": raw}).concat is expected


def test_a_flag_that_is_neither_isrefusal() -> None:
    err = _inbound_error(concat="maybe")
    assert str(err) == "concat: expected true or false (got 'maybe')"
    assert (err.field, err.value) == ("concat", "'maybe'")


@pytest.mark.parametrize("kind", ["text", "unicode", "binary", " Unicode "])
def test_every_inbound_type_is_accepted(kind: str) -> None:
    assert parse_inbound({**SMS, "type": kind}).type == kind.strip().lower()
