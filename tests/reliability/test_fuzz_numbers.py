"""Fuzzing number normalisation, masking and sender IDs."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from hypothesis import example, given
from hypothesis import strategies as st

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.numbers import mask_number, normalize_number, validate_sender

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
number_like = st.one_of(
    st.text(alphabet="0123456789 +-().", max_size=20),
    st.text(max_size=20),
    st.integers(-(10**16), 10**16),
    st.from_regex(r"\+?(00)?31 ?\(0\)?6[ -]?\d{8}", fullmatch=True),
    st.none(),
    st.booleans(),
    st.floats(),
    st.lists(st.text(max_size=3), max_size=2),
)


# Every example hypothesis ever found failing, kept so no run depends on drawing it again.
@example("2010000", "DE", "NL")  # read back as the Dutch 0492 010000 (issue 11)
@example("020100000000000", "DE", "NL")  # 16 digits with the country code (issue 11)
@example("+49 201 0000", "NL", "NL")
@given(
    number_like,
    st.sampled_from(["NL", "BE", "DE", "US", "GB", "IT", *REGIONS[:5]]),
    st.sampled_from(REGIONS),
)
def test_normalize_is_canonical_or_one_line_error(raw: Any, region: str, other: str) -> None:
    try:
        number = normalize_number(raw, region, field="to")
    except KpnValidationError as err:
        text = str(err)
        assert text.startswith("to: ") and "\n" not in text
        digits = re.sub(r"\D", "", str(raw))
        if len(digits) > 5:  # a number-like value is masked in the message
            assert digits not in text
        return
    # E.164 with "+": at most 15 digits.
    assert re.fullmatch(r"\+[1-9]\d{6,14}", number), number
    # The canonical form reads back as the same number in its own region and any other.
    assert normalize_number(number, region) == number
    assert normalize_number(number, other) == number


@st.composite
def real_numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    region = draw(st.sampled_from(REGIONS))
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    if example is None:  # a few regions (e.g. 001-style ones) have no example number
        return "NL", phonenumbers.parse("+31612345678")
    return region, example


@given(
    real_numbers(),
    st.sampled_from(
        [
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.RFC3966,
        ]
    ),
    st.sampled_from(REGIONS),
)
def test_every_written_form_of_a_real_number_agrees(
    sample: tuple[str, Any], fmt: int, other: str
) -> None:
    region, parsed = sample
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(parsed, fmt)
    if fmt == phonenumbers.PhoneNumberFormat.RFC3966:
        written = written.removeprefix("tel:")
    assert normalize_number(written, region) == expected
    assert normalize_number(expected, other) == expected


@given(st.one_of(st.text(max_size=30), st.integers(0, 10**16).map(str)))
def test_mask_never_shows_more_than_five_digits(raw: str) -> None:
    masked = mask_number(raw)
    assert len(masked) == len(raw)
    digits = sum(c.isdigit() for c in masked)
    assert digits <= 5
    if sum(c.isdigit() for c in raw) > 5:
        assert masked != raw and "*" in masked


@given(st.one_of(st.text(max_size=20), st.integers(-10, 10**17), st.none(), st.booleans()))
def test_sender_is_valid_or_one_line_error(raw: Any) -> None:
    try:
        sender = validate_sender(raw)
    except KpnValidationError as err:
        assert str(err).startswith("sender: ") and "\n" not in str(err)
        return
    # None and booleans (YAML's yes/no) are never text: never "None" or "True" as a sender.
    assert raw is not None and not isinstance(raw, bool), (raw, sender)
    assert re.fullmatch(r"\d{1,15}|(?=.*[A-Za-z])[A-Za-z0-9]{1,11}", sender), sender
