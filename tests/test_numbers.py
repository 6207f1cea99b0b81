"""Number normalisation, masking and sender IDs (table tests)."""

from __future__ import annotations

import pytest

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.logsafe import safe_fields, scrub
from kpn_sms_notify.numbers import (
    country_code,
    country_of,
    from_wire,
    mask_number,
    normalize_number,
    validate_sender,
    wire_number,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0612345678", "NL", "+31612345678"),
        ("+31612345678", "NL", "+31612345678"),
        ("0031612345678", "NL", "+31612345678"),
        ("31612345678", "NL", "+31612345678"),
        ("06-1234 5678", "NL", "+31612345678"),
        ("+31 (0)6 12345678", "NL", "+31612345678"),
        ("(06) 12.34.56.78", "NL", "+31612345678"),
        (31612345678, "NL", "+31612345678"),
        ("+1 415 555 2671", "NL", "+14155552671"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("+39 06 6982 1234", "NL", "+390669821234"),  # Italian leading zero is kept
        ("0151 23456789", "DE", "+4915123456789"),
        ("+49 201 0000", "NL", "+492010000"),
        ("2010000", "DE", "+492010000"),  # national, without the trunk 0
    ],
)
def test_normalize_number(raw: object, region: str, expected: str) -> None:
    assert normalize_number(raw, region) == expected


@pytest.mark.parametrize("region", ["NL", "DE", "BE", "US", "GB", "IT"])
@pytest.mark.parametrize(
    "number", ["+492010000", "+31612345678", "+14155552671", "+390669821234", "+4915123456789"]
)
def test_the_canonical_form_reads_back_as_the_same_number_in_any_region(
    number: str, region: str
) -> None:
    assert normalize_number(number, region) == number


def test_a_foreign_number_keeps_its_country() -> None:
    # Regression (issue 11): "+49 201 0000" was stored as "492010000", which also reads as
    # the Dutch 0492 010000, so reading it back texted a stranger.
    stored = normalize_number("+49 201 0000", "NL")
    assert stored == "+492010000"
    assert normalize_number(stored, "NL") == "+492010000"


@pytest.mark.parametrize(
    ("stored", "region", "expected"),
    [
        ("31612345678", "NL", "+31612345678"),  # bare E.164 of a Dutch number
        ("492010000", "NL", "+31492010000"),  # read as national first, as before
        ("4915123456789", "NL", "+4915123456789"),
        ("0612345678", "NL", "+31612345678"),
    ],
)
def test_bare_digits_read_as_before(stored: str, region: str, expected: str) -> None:
    """Configs written before numbers carried a "+" hold bare digits: same reading as then."""
    assert normalize_number(stored, region) == expected


def test_more_than_15_digits_is_refused() -> None:
    # Regression (issue 11): phonenumbers accepts this German number, 16 digits with the
    # country code ("4920100000000000"); E.164 and the gateway allow 15.
    with pytest.raises(KpnValidationError) as info:
        normalize_number("020100000000000", "DE", field="recipients[0]")
    text = str(info.value)
    assert text.startswith("recipients[0]: ") and "15 digits" in text
    assert info.value.field == "recipients[0]"
    assert "020100000000000" not in text
    assert info.value.value == mask_number("020100000000000") == "020**********00"


@pytest.mark.parametrize("number", ["+49201000000000", "+492010000000000"])
def test_14_and_15_digits_are_accepted(number: str) -> None:
    assert normalize_number(number, "NL") == number


def test_wire_and_canonical_forms() -> None:
    assert wire_number("+31612345678") == "31612345678"
    assert wire_number("31612345678") == "31612345678"
    assert from_wire("31612345678") == "+31612345678"
    assert from_wire("+31612345678") == "+31612345678"
    assert from_wire("KPNAlert") == "KPNAlert"  # a sender ID
    assert from_wire("1234") == "1234"  # a short code
    assert from_wire("1234567890123456") == "1234567890123456"  # too long for E.164
    assert from_wire("123456789012345") == "+123456789012345"  # 15 digits: the longest
    assert from_wire("1234567") == "+1234567"  # 7 digits: the shortest
    assert from_wire("123456") == "123456"  # a short code
    assert from_wire("31612345678+") == "31612345678+"  # not digits: left as it is


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345",
        "06123",
        "0612345678901234",
        "hello",
        "+999 1234567",
        None,
        True,
        3.5,
        ["0612345678"],
    ],
)
def test_invalid_numbers_are_refused_with_the_field(raw: object) -> None:
    with pytest.raises(KpnValidationError) as info:
        normalize_number(raw, "NL", field="recipients[2]")
    assert str(info.value).startswith("recipients[2]: ")
    assert info.value.field == "recipients[2]"


def test_invalid_number_error_masks_the_number() -> None:
    with pytest.raises(KpnValidationError) as info:
        normalize_number("061234567890", "NL")
    assert "061234567890" not in str(info.value)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("31612345678", "316******78"),
        ("+31612345678", "+316******78"),
        ("+31 6 1234", "+31 6 **34"),
        ("1234", "****"),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("KPNAlert", "KPNAlert"),
        ("HomeAlert", "HomeAlert"),
        ("ABCDEFGHIJK", "ABCDEFGHIJK"),
        ("3197010000001", "3197010000001"),
        ("+3197010000001", "3197010000001"),
        ("123456789012345", "123456789012345"),
        ("A1", "A1"),
    ],
)
def test_valid_senders(sender: str, expected: str) -> None:
    assert validate_sender(sender) == expected


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("Home Alert", "spaces"),
        ("ABCDEFGHIJKL", "at most 11"),
        ("1234567890123456", "15 digits"),
        ("Alert!", "letters and digits"),
        ("", "letters and digits"),
    ],
)
def test_invalid_senders(sender: str, reason: str) -> None:
    with pytest.raises(KpnValidationError, match=reason) as info:
        validate_sender(sender)
    assert info.value.field == "sender"


def test_log_fields_mask_numbers_with_or_without_plus() -> None:
    fields = safe_fields({"to": "+31612345678", "msisdn": "31687654321", "from": "KPNAlert"})
    assert fields == {"to": "+316******78", "msisdn": "316******21", "from": "KPNAlert"}
    assert scrub("sent to +492010000") == "sent to +492****00"


# -- errors name the field and the (masked) value exactly (issue 19: mutation survivors) ----


@pytest.mark.parametrize(
    ("raw", "message", "value"),
    [
        (None, "to: expected a phone number, got NoneType", None),
        (True, "to: expected a phone number, got bool", True),
        (6.5, "to: expected a phone number, got float", 6.5),
        (" (0) ", "to: empty phone number", ""),
        ("061", "to: '***' is not a valid phone number (default region DE)", "***"),
    ],
)
def test_bad_number_error_names_the_field_and_the_masked_value(
    raw: object, message: str, value: object
) -> None:
    with pytest.raises(KpnValidationError) as info:
        normalize_number(raw, "DE", field="to")
    assert (str(info.value), info.value.field, info.value.value) == (message, "to", value)


def test_number_defaults_are_region_nl_and_field_recipient() -> None:
    assert normalize_number("0612345678") == "+31612345678"
    with pytest.raises(KpnValidationError, match=r"^recipient: .* \(default region NL\)$") as info:
        normalize_number("061")
    assert info.value.field == "recipient"


@pytest.mark.parametrize("region", ["DE", "ZZ"])
def test_bare_e164_reads_as_international_when_the_region_cannot_read_it(region: str) -> None:
    """Germany reads "316…" as a (bad) national number, an unknown region not at all:
    then the digits are tried with a "+" in front, spaces and dots removed."""
    assert normalize_number("31612345678", region) == "+31612345678"
    assert normalize_number("31 6 12.34-56 78", region) == "+31612345678"
    with pytest.raises(KpnValidationError):  # only digits get the "+": not a stray letter
        normalize_number("31612345678x", region)


@pytest.mark.parametrize(
    ("raw", "message", "value"),
    [
        (True, "from: expected text, got the boolean True (in YAML, quote yes/no/on/off)", True),
        (None, "from: expected text, got NoneType", None),
        (4.5, "from: expected text, got float", 4.5),
        (
            "1234567890123456",
            "from: '1234567890123456' is not a valid sender ID: "
            "a numeric sender has at most 15 digits",
            "1234567890123456",
        ),
        (
            "KPNAlertTooLong",
            "from: 'KPNAlertTooLong' is not a valid sender ID: "
            "an alphanumeric sender has at most 11 characters",
            "KPNAlertTooLong",
        ),
        (
            "KPN-Alert12",
            "from: 'KPN-Alert12' is not a valid sender ID: "
            "use letters and digits only (A-Z, a-z, 0-9)",
            "KPN-Alert12",
        ),
        (
            " Home Alert ",
            "from: 'Home Alert' is not a valid sender ID: must not contain spaces",
            "Home Alert",
        ),
    ],
)
def test_bad_sender_error_names_the_field_and_the_value(
    raw: object, message: str, value: object
) -> None:
    with pytest.raises(KpnValidationError) as info:
        validate_sender(raw, field="from")
    assert (str(info.value), info.value.field, info.value.value) == (message, "from", value)


def test_mask_shows_digits_only_from_six_on() -> None:
    assert mask_number("12345") == "*****"
    assert mask_number("123456") == "123*56"


@pytest.mark.parametrize(
    ("raw", "code"), [("nl", "NL"), (" gb ", "GB"), ("De", "DE"), ("US", "US")]
)
def test_country_code_reads_any_case_and_spaces(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize("raw", ["XX", "001", "", "NLD", 31, None])
def test_country_code_refuses_what_is_no_country_naming_field_and_value(raw: object) -> None:
    with pytest.raises(KpnValidationError) as caught:
        country_code(raw, field="search.country")
    assert str(caught.value) == (
        f"search.country: {raw!r} is not a two-letter ISO country code such as NL"
    )
    assert caught.value.field == "search.country" and caught.value.value == raw
    with pytest.raises(KpnValidationError, match=r"^country: 'XX' "):
        country_code("XX")  # the field's default name


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("+31612345678", "NL"),  # the country of its number range
        ("+447700900123", "GB"),
        ("+3197012345678", "NL"),
        ("+14165550123", "CA"),  # not the calling code's main country (+1: US)
        ("+447624123456", "IM"),  # +44, but the Isle of Man
        ("+4400000000", "GB"),  # no range: the main country of its calling code
        ("+10000000000", "US"),
        ("+7000000000", "RU"),
        ("+8001234567", None),  # international freephone: a calling code of no country
        ("+88212345678", None),
        ("garbage", None),  # not a number at all
        ("", None),
    ],
)
def test_country_of_a_number(number: str, country: str | None) -> None:
    assert country_of(number) == country
