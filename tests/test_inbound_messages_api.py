"""inbound.messages_api: the Messages API's webhook shapes, recognised and mapped onto the
SMS API's records by parse_inbound and parse_delivery_receipt."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import parse_delivery_receipt, parse_inbound

INBOUND: dict[str, Any] = {
    "to": "3197010000000",
    "from": "31612345678",
    "channel": "sms",
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    "message_type": "text",
    "text": "Hello",
    "timestamp": "2024-05-01T12:00:00Z",
    "sms": {"num_messages": "1", "keyword": "HELLO"},
}
STATUS: dict[str, Any] = {
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac",
    "to": "31612345678",
    "from": "KPNAlert",
    "status": "delivered",
    "channel": "sms",
}


@pytest.fixture
def amsterdam_clock() -> Iterator[None]:
    """The process's local time zone set to Europe/Amsterdam (UTC+2 in May), then restored."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Amsterdam"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


# --------------------------------------------------------------------------- recognising one


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("msisdn", "messageId"),
        ("messageId", "msisdn"),
        ("message-id", "msisdn"),
        ("message_id", "msisdn"),
    ],
)
def test_any_sms_api_name_makes_a_payload_the_sms_apis(name: str, missing: str) -> None:
    """A Messages API payload that also has an SMS API name is read as the SMS API's: what
    that API needs, and this payload lacks, is named."""
    with pytest.raises(KpnValidationError) as caught:
        parse_inbound({**INBOUND, name: "31612345678"})
    assert str(caught.value) == f"{missing}: required field missing"


def test_a_message_uuid_alone_makes_a_payload_the_messages_apis() -> None:
    part = parse_inbound({"from": "31612345678", "to": "3197010000000", "message_uuid": "u-1"})
    assert (part.msisdn, part.message_id, part.text) == ("+31612345678", "u-1", "")


def test_a_channel_alone_makes_a_payload_the_messages_apis() -> None:
    """What is missing is then named as the Messages API names it."""
    with pytest.raises(KpnValidationError) as caught:
        parse_inbound({"from": "31612345678", "to": "3197010000000", "channel": "sms"})
    assert str(caught.value) == "message_uuid: required field missing"


def test_a_payload_with_neither_apis_names_is_read_as_the_sms_apis() -> None:
    with pytest.raises(KpnValidationError) as caught:
        parse_inbound({"from": "31612345678", "to": "3197010000000", "text": "hi"})
    assert str(caught.value) == "msisdn: required field missing"


@pytest.mark.parametrize("parse", [parse_inbound, parse_delivery_receipt])
def test_a_list_of_messages_api_names_is_no_payload(parse: Any) -> None:
    with pytest.raises(KpnValidationError) as caught:
        parse(["message_uuid", "channel"])
    assert (caught.value.field, caught.value.value) == ("payload", "list")


# --------------------------------------------------------------------------- inbound texts


def test_an_inbound_text_maps_every_field() -> None:
    part = parse_inbound(INBOUND)
    assert (part.msisdn, part.to, part.message_id) == (
        "+31612345678",
        "+3197010000000",
        INBOUND["message_uuid"],
    )
    assert (part.text, part.type, part.keyword) == ("Hello", "text", "HELLO")
    assert part.message_timestamp == "2024-05-01 12:00:00"


@pytest.mark.parametrize("channel", ["sms", "SMS", " Sms "])
def test_the_sms_channel_is_read_in_any_case(channel: str) -> None:
    assert parse_inbound({**INBOUND, "channel": channel}).text == "Hello"


def test_no_channel_is_the_sms_channel() -> None:
    params = {k: v for k, v in INBOUND.items() if k != "channel"}
    assert parse_inbound(params).text == "Hello"


@pytest.mark.parametrize(("channel", "shown"), [("whatsapp", "'whatsapp'"), (" MMS ", "'mms'")])
def test_another_channel_is_refused_saying_which(channel: str, shown: str) -> None:
    for parse, params in ((parse_inbound, INBOUND), (parse_delivery_receipt, STATUS)):
        with pytest.raises(KpnValidationError) as caught:
            parse({**params, "channel": channel})
        assert str(caught.value) == (
            f"channel: expected sms; other channels are not SMS webhooks (got {shown})"
        )
        assert (caught.value.field, caught.value.value) == ("channel", shown)


def test_a_lone_surrogate_in_a_field_becomes_a_replacement_character() -> None:
    """JSON may carry a lone half of a surrogate pair (`\\ud83d`); it is repaired, so the
    record can be written as UTF-8."""
    part = parse_inbound({**INBOUND, "text": "hi \ud83d", "sms": {"keyword": "K\udc00"}})
    assert (part.text, part.keyword) == ("hi \ufffd", "K\ufffd")
    paired = parse_inbound({**INBOUND, "text": "\ud83d\ude00"})
    assert paired.text == "\U0001f600"


def test_nested_objects_are_read_by_dotted_names_only() -> None:
    """`sms.keyword` is the keyword; a top-level `keyword` is no Messages API name."""
    assert parse_inbound({**INBOUND, "keyword": "TOP", "sms": {}}).keyword is None
    assert parse_inbound({**INBOUND, "sms": {"keyword": ["LIST"]}}).keyword == "LIST"


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T14:00:00+02:00", "2024-05-01 12:00:00"),
        (" 2024-05-01T12:00:00Z ", "2024-05-01 12:00:00"),
        ("2024-05-01T12:00:00.999Z", "2024-05-01 12:00:00"),
        ("2024-12-31T23:30:00-01:00", "2025-01-01 00:30:00"),
        ("yesterday ", "yesterday "),  # kept as sent: a text is not refused for its clock
        ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
    ],
)
def test_a_timestamp_becomes_sms_api_time_in_utc(raw: str, expected: str) -> None:
    assert parse_inbound({**INBOUND, "timestamp": raw}).message_timestamp == expected
    receipt = parse_delivery_receipt({**STATUS, "timestamp": raw})
    assert receipt.message_timestamp == expected


@pytest.mark.usefixtures("amsterdam_clock")
def test_a_timestamp_without_a_zone_is_utc_not_local_time() -> None:
    assert time.strftime("%z", time.localtime(1714564800)) == "+0200"  # the clock is set
    part = parse_inbound({**INBOUND, "timestamp": "2024-05-01T12:00:00"})
    assert part.message_timestamp == "2024-05-01 12:00:00"
    aware = parse_inbound({**INBOUND, "timestamp": "2024-05-01T12:00:00+02:00"})
    assert aware.message_timestamp == "2024-05-01 10:00:00"


def test_no_timestamp_is_none() -> None:
    params = {k: v for k, v in INBOUND.items() if k != "timestamp"}
    assert parse_inbound(params).message_timestamp is None
    assert parse_delivery_receipt(STATUS).message_timestamp is None


# --------------------------------------------------------------------------- statuses


def test_a_status_maps_every_field() -> None:
    receipt = parse_delivery_receipt(
        {
            **STATUS,
            "status": "rejected",
            "client_ref": "ticket-7",
            "usage": {"price": "0.0750", "currency": "EUR"},
            "destination": {"network_code": "20408"},
            "error": {"code": 1300, "reason": "Not part of the provider network"},
        }
    )
    assert (receipt.msisdn, receipt.to) == ("+31612345678", "KPNAlert")
    assert (receipt.status, receipt.client_ref) == ("rejected", "ticket-7")
    assert (receipt.price, receipt.network_code) == ("0.0750", "20408")
    assert (receipt.err_code, receipt.error_reason) == (1300, "Not part of the provider network")


def test_a_v1_error_gives_its_detail_as_the_reason() -> None:
    receipt = parse_delivery_receipt({**STATUS, "error": {"title": "1000", "detail": "Throttled"}})
    assert (receipt.err_code, receipt.error_reason, receipt.error_meaning) == (
        1000,
        "Throttled",
        "Throttled",
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ({"code": "1300"}, 1300),
        ({"code": " 42 "}, 42),
        ({"code": "999999"}, 999999),
        ({"code": "1000000"}, None),  # seven digits: no error number
        ({"code": "-1"}, None),
        ({"code": "E12"}, None),
        ({"code": "E12", "title": "1000"}, 1000),  # the code first, the title if not a number
        ({"code": "1300", "title": "1000"}, 1300),
        ({"title": "1000"}, 1000),
        ({"title": "Throttled"}, None),
        ({"reason": "no number"}, None),
    ],
)
def test_a_status_error_number_is_read_when_it_is_one(error: dict[str, Any], code: Any) -> None:
    assert parse_delivery_receipt({**STATUS, "error": error}).err_code == code


def test_a_status_without_an_error_has_no_error_number() -> None:
    receipt = parse_delivery_receipt(STATUS)
    assert (receipt.err_code, receipt.error_reason, receipt.error_meaning) == (None, None, None)
