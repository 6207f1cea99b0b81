"""GSM-7 / UCS-2 detection, segment maths and the max-parts policy (table tests)."""

from __future__ import annotations

import pytest

from kpn_sms_notify.encoding import analyse, compose, fit, to_gsm7
from kpn_sms_notify.errors import KpnValidationError


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),  # extension characters count double
        ("€" * 81, "gsm7", 162, 2),
        ("a" * 152 + "€", "gsm7", 154, 1),
        ("a" * 159 + "[", "gsm7", 161, 2),
        # an escape pair is never split: 152 + 2 does not fit 153, so it moves to part 2
        ("a" * 152 + "{" + "a" * 10, "gsm7", 164, 2),
        ("a" * 152 + "{" + "a" * 152, "gsm7", 306, 3),
        ("Zoë", "ucs2", 3, 1),  # ë is not in GSM-7 (é and ü are)
        ("é ü ñ Ä ß", "gsm7", 9, 1),
        ("ë" * 70, "ucs2", 70, 1),
        ("ë" * 71, "ucs2", 71, 2),
        ("ë" * 134, "ucs2", 134, 2),
        ("ë" * 135, "ucs2", 135, 3),
        ("😀" * 35, "ucs2", 70, 1),  # surrogate pairs: two UTF-16 units each
        ("😀" * 36, "ucs2", 72, 2),
        ("a" + "😀" * 33, "ucs2", 67, 1),
        ("line\nbreak", "gsm7", 10, 1),
        ("\uffff", "ucs2", 1, 1),  # the last code point of one UTF-16 unit
        ("\U00010000" * 35, "ucs2", 70, 1),  # the first of two
        ("", "gsm7", 0, 1),
    ],
)
def test_analyse(text: str, encoding: str, units: int, parts: int) -> None:
    info = analyse(text)
    assert (info.encoding, info.units, info.parts) == (encoding, units, parts)
    assert info.api_type == ("text" if encoding == "gsm7" else "unicode")


def test_unicode_always_forces_ucs2() -> None:
    assert analyse("plain", "always").encoding == "ucs2"
    fitted = fit("plain", max_parts=1, unicode="always")
    assert (fitted.text, fitted.info.encoding, fitted.info.api_type) == ("plain", "ucs2", "unicode")


def test_unicode_always_stays_ucs2_when_truncated() -> None:
    fitted = fit("x" * 400, max_parts=2, unicode="always")
    assert fitted.text == "x" * 133 + "…" and fitted.truncated
    assert (fitted.info.encoding, fitted.info.units, fitted.info.parts) == ("ucs2", 134, 2)


def test_truncation_drops_the_space_before_the_marker() -> None:
    text = "abcdefg " * 125  # the longest fit of 3 parts, 456 characters, ends with a space
    assert text[455] == " "
    assert fit(text, max_parts=3).text == text[:455] + "..."


def test_to_gsm7_transliterates_visibly() -> None:
    assert to_gsm7("Zoë “quoted” – naïve 中") == 'Zoe "quoted" - naive ?'
    assert to_gsm7("ﬁle ﬀ") == "file ff"  # a ligature becomes its letters


@pytest.mark.parametrize(
    ("message", "title", "expected"),
    [
        ("Disk full", None, "Disk full"),
        ("Disk full", "web1", "web1\nDisk full"),
        ("  Disk full ", "  ", "Disk full"),
        ("", "Only title", "Only title"),
    ],
)
def test_compose(message: str, title: str | None, expected: str) -> None:
    assert compose(message, title) == expected


@pytest.mark.parametrize(
    ("text", "max_parts", "kept"),
    [
        ("x" * 1000, 3, 456),  # 3 x 153 septets, less the 3 of "..."
        ("ë" * 500, 2, 133),  # 2 x 67 UCS-2 units, less the 1 of "…"
        ("€" * 400, 1, 78),  # 160 septets less "...": 157, and each € takes two
        ("😀" * 200, 2, 66),  # 33 surrogate pairs a part; "…" fits in the last part's 67th unit
    ],
)
def test_truncate_keeps_the_longest_fit_and_ends_with_a_marker(
    text: str, max_parts: int, kept: int
) -> None:
    fitted = fit(text, max_parts=max_parts)
    marker = "..." if fitted.info.encoding == "gsm7" else "…"
    assert fitted.truncated and fitted.info.parts == max_parts
    assert fitted.text == text[:kept] + marker
    # the longest fit: one more character of the original would not fit
    policy = "always" if fitted.info.encoding == "ucs2" else "auto"
    assert analyse(text[: kept + 1] + marker, policy).parts > max_parts


def test_fit_keeps_short_text_untouched() -> None:
    fitted = fit("Disk full", max_parts=1)
    assert (fitted.text, fitted.truncated, fitted.info.parts) == ("Disk full", False, 1)


def test_fit_fail_policy_raises_with_figures() -> None:
    with pytest.raises(KpnValidationError, match=r"message: 3 SMS parts .* over max_parts 2") as e:
        fit("x" * 400, max_parts=2, overflow="fail")
    assert (e.value.field, e.value.value) == ("message", "<400 characters>")


def test_fit_never_policy_transliterates_before_counting() -> None:
    fitted = fit("Zoë" * 60, max_parts=3, unicode="never")
    assert fitted.info.encoding == "gsm7" and fitted.text.startswith("ZoeZoe")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(KpnValidationError, match=r"^message: the text is empty$") as e:
        fit(text, max_parts=3)
    assert (e.value.field, e.value.value) == ("message", text)


def test_unicode_never_keeps_the_accented_letters_gsm7_has() -> None:
    """GSM-7's own letters with accents stay as they are; only the others lose theirs."""
    kept = "é è ù ì ò à ü ö ä ñ É Ä Ö Ñ Ü Ç Å å Ø ø Æ æ ß § ¿ ¡ £ ¥ ¤"
    fitted = fit(kept, max_parts=1, unicode="never")
    assert fitted.text == kept and fitted.info.encoding == "gsm7"
    assert fit("ç ê ë ÿ á", max_parts=1, unicode="never").text == "c e e y a"
