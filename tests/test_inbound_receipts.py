"""Delivery receipts (inbound/receipts.py): what a receipt call becomes, field by field.

`parse_delivery_receipt` reads the SMS API's receipt and the Messages API's status into one
`DeliveryReceipt`; `SeenReceipts` drops a redelivered receipt. These tests pin the optional
fields, the status word's limits, the refusals a gateway gets back as a 400, and what a host
stores (never the API key).
"""

from __future__ import annotations

from typing import Any

import pytest
from inbound_support import DLR, refusal  # type: ignore[import-not-found]

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.inbound import DeliveryReceipt, SeenReceipts, parse_delivery_receipt

STATUS: dict[str, Any] = {
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac",
    "status": "delivered",
    "channel": "sms",
}


def _refusal(params: dict[str, Any]) -> KpnValidationError:
    return refusal(parse_delivery_receipt, params)


# ------------------------------------------------------------------ every field lands


def test_every_sms_api_receipt_field_lands_in_its_attribute() -> None:
    receipt = parse_delivery_receipt(
        {
            **DLR,
            "msisdn": "31612345678",
            "to": "KPNAlert",
            "network-code": "20408",
            "price": "0.03330000",
            "scts": "2001011400",
            "err-code": "0",
            "client-ref": "alert-1",
            "message-timestamp": "2020-01-01 14:00:00",
            "api-key": "abcd1234",
            "timestamp": "1700000000",
            "nonce": "n-1",
        }
    )
    assert receipt == DeliveryReceipt(
        message_id="0A00000012345678",
        status="delivered",
        msisdn="+31612345678",
        to="KPNAlert",
        network_code="20408",
        price="0.03330000",
        scts="2001011400",
        err_code=0,
        client_ref="alert-1",
        message_timestamp="2020-01-01 14:00:00",
        api_key="abcd1234",
        timestamp=1700000000,
        nonce="n-1",
    )


def test_a_receipt_needs_only_its_id_and_status() -> None:
    """A receipt without recipient, sender or any other field is kept, not a 400."""
    assert parse_delivery_receipt(DLR) == DeliveryReceipt(
        message_id="0A00000012345678", status="delivered"
    )


def test_the_stored_record_never_holds_the_api_key() -> None:
    receipt = parse_delivery_receipt({**DLR, "api-key": "abcd1234", "nonce": "n-1"})
    data = receipt.to_dict()
    assert "api_key" not in data
    assert data["nonce"] == "n-1" and data["outcome"] == "delivered"


@pytest.mark.parametrize(
    ("wire", "raw", "attr", "value"),
    [
        ("err-code", "9999", "err_code", 9999),
        ("err-code", "0", "err_code", 0),
        ("timestamp", "0", "timestamp", 0),
        ("timestamp", str(2**33), "timestamp", 2**33),
    ],
)
def test_numbers_at_the_edges_of_their_range_are_kept(
    wire: str, raw: str, attr: str, value: int
) -> None:
    assert getattr(parse_delivery_receipt({**DLR, wire: raw}), attr) == value


@pytest.mark.parametrize(
    ("wire", "raw", "reason"),
    [
        ("err-code", "10000", "expected 0..9999"),
        ("timestamp", "-1", "expected 0..8589934592"),
        ("timestamp", "noon", "expected a whole number"),
    ],
)
def test_numbers_outside_their_range_are_refused(wire: str, raw: str, reason: str) -> None:
    err = _refusal({**DLR, wire: raw})
    assert str(err) == f"{wire}: {reason} (got {raw!r})"
    assert err.field == wire


@pytest.mark.parametrize("wire", ["msisdn", "to"])
def test_a_malformed_recipient_or_sender_is_refused_under_its_wire_name(wire: str) -> None:
    err = _refusal({**DLR, wire: "has spaces"})
    assert err.field == wire
    assert str(err).startswith(f"{wire}: expected a phone number or sender ID")


# ------------------------------------------------------------------ the status word


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (" Delivered ", "delivered"),
        ("brand_new_word", "brand_new_word"),
        ("s" * 32, "s" * 32),
        ("a_", "a_"),
    ],
)
def test_a_status_word_is_lower_cased_and_may_hold_underscores(raw: str, status: str) -> None:
    assert parse_delivery_receipt({**DLR, "status": raw}).status == status


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("s" * 33, repr("s" * 33)),  # too long for a status word
        ("_", "'_'"),  # underscores alone are no word
        ("___", "'___'"),
        ("de livered", "'de livered'"),
        ("failed!", "'failed!'"),
        ("   ", "''"),
    ],
)
def test_anything_but_a_status_word_is_refused_saying_so(raw: str, shown: str) -> None:
    err = _refusal({**DLR, "status": raw})
    assert str(err) == (f"status: expected a status word such as delivered or failed (got {shown})")
    assert (err.field, err.value) == ("status", shown)


# ------------------------------------------------------------------ the Messages API


def test_a_messages_api_status_needs_neither_recipient_nor_sender() -> None:
    receipt = parse_delivery_receipt(STATUS)
    assert (receipt.msisdn, receipt.to) == (None, None)
    assert receipt == DeliveryReceipt(
        message_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac", status="delivered"
    )


def test_a_messages_api_status_with_a_malformed_sender_names_from() -> None:
    """In a Messages API status the sender ID is `from`: the refusal names that field."""
    err = _refusal({**STATUS, "from": "has spaces"})
    assert err.field == "from"
    assert str(err).startswith("from: expected a phone number or sender ID")


def test_a_messages_api_status_word_is_checked_like_the_sms_apis() -> None:
    err = _refusal({**STATUS, "status": "not delivered"})
    assert err.field == "status"


# ------------------------------------------------------------------ SeenReceipts


def test_seen_receipts_remember_fifty_thousand_keys_by_default() -> None:
    """The default bound: the 50,000 most recent keys are kept, the oldest goes next."""
    seen = SeenReceipts()
    for n in range(50_000):
        seen.remember(f"k{n}")
    assert len(seen) == 50_000 and "k0" in seen
    seen.remember("one more")
    assert len(seen) == 50_000 and "k0" not in seen and "k1" in seen
