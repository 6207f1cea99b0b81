"""Fuzzing encoding and segmenting: the client's `encoding` against the emulator's own,
independently written `segments` (what the emulator bills), and both against the rules
themselves: 160/153 GSM-7 septets, 70/67 UTF-16 units, extension characters count two,
and an escape pair or surrogate pair never straddles two parts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples  # type: ignore[import-not-found]

from kpn_sms_notify import KpnSmsSync
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator, segments
from kpn_sms_notify.encoding import GSM7_BASIC, GSM7_EXTENSION, analyse, fit
from kpn_sms_notify.errors import KpnValidationError

BASIC = "".join(sorted(GSM7_BASIC))
EXTENSION = "".join(sorted(GSM7_EXTENSION))
# Non-GSM characters: accents and scripts (BMP), and astral characters (surrogate pairs).
OTHER = "çÀâêîôûëïÿœŒ€ПриветжΣ中文한국어‘’“”–—…«»•\t\u00a0`"
ASTRAL = "😀🚨🔥𝔘𠀀"
CAPACITY = {"gsm7": (160, 153), "ucs2": (70, 67)}


def texts(max_size: int = 700) -> st.SearchStrategy[str]:
    """Mostly GSM texts near the part boundaries, with extension and non-GSM mixed in."""
    gsm = st.text(alphabet=st.sampled_from(BASIC + EXTENSION * 3), max_size=max_size)
    mixed = st.text(
        alphabet=st.sampled_from(BASIC + EXTENSION + OTHER + ASTRAL), max_size=max_size // 2
    )
    ucs = st.text(alphabet=st.sampled_from(OTHER + ASTRAL + "abc"), max_size=max_size // 3)
    anything = st.text(max_size=200)
    return st.one_of(gsm, mixed, ucs, anything)


# `unicode: never` as docs/configuration.md states it, written out with the emulator's alphabet:
# GSM-7 characters stay, typographic look-alikes become their plain forms, other letters lose
# their accents, and what is still not GSM-7 becomes "?".
LOOK_ALIKES = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "`": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "–": "-",
    "—": "-",
    "•": "-",
    "…": "...",
    "\u00a0": " ",
    "\t": " ",
}


def gsm7_oracle(text: str) -> str:
    out = []
    for ch in text:
        if segments.is_gsm7(ch):
            out.append(ch)
        elif ch in LOOK_ALIKES:
            out.append(LOOK_ALIKES[ch])
        else:
            bare = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if unicodedata.category(c) != "Mn"
            )
            out.append(bare if bare and segments.is_gsm7(bare) else "?")
    return "".join(out)


def units(text: str, encoding: str) -> int:
    if encoding == "gsm7":
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def check_split_follows_the_rules(text: str, split: segments.Split) -> None:
    """A split is right when: it is the text, each part fits, and each part is as full as
    it can be (the greedy split is the shortest one for consecutive parts)."""
    enc = split.encoding
    single, per_part = CAPACITY[enc]
    assert "".join(split.parts) == text
    assert split.units == units(text, enc)
    if split.units <= single:
        assert len(split.parts) == 1
        return
    for i, part in enumerate(split.parts):
        assert 0 < units(part, enc) <= per_part, (i, part)
        if i + 1 < len(split.parts):  # the next character did not fit here
            assert units(part + split.parts[i + 1][0], enc) > per_part


@given(texts())
def test_emulator_segments_follow_the_spec(text: str) -> None:
    gsm = segments.is_gsm7(text)
    check_split_follows_the_rules(text, segments.split(text, unicode=not gsm))
    check_split_follows_the_rules(text, segments.split(text, unicode=True))


@given(texts(), st.sampled_from(["auto", "always"]))
def test_client_counts_what_the_emulator_bills(text: str, policy: str) -> None:
    info = analyse(text, policy)  # type: ignore[arg-type]
    billed = segments.split(text, unicode=info.encoding == "ucs2")
    assert info.encoding == billed.encoding
    assert info.units == billed.units
    assert info.parts == len(billed.parts), (info, len(billed.parts))


def test_the_two_gsm_tables_agree() -> None:
    assert GSM7_BASIC == segments.GSM7_BASIC
    assert GSM7_EXTENSION == segments.GSM7_EXTENSION


@given(texts(2000), st.integers(1, 10), st.sampled_from(["auto", "always", "never"]))
def test_fitted_text_is_billed_within_max_parts(text: str, max_parts: int, policy: str) -> None:
    try:
        fitted = fit(text, max_parts=max_parts, overflow="truncate", unicode=policy)  # type: ignore[arg-type]
    except KpnValidationError as err:
        assert not text.strip() and "message" in str(err)
        return
    billed = segments.split(fitted.text, unicode=fitted.info.api_type == "unicode")
    assert len(billed.parts) == fitted.info.parts <= max_parts
    if policy == "never":
        assert fitted.info.encoding == "gsm7" and segments.is_gsm7(fitted.text)
    if fitted.truncated:
        assert fitted.text.endswith(("...", "…"))
    else:
        assert fitted.text == (gsm7_oracle(text) if policy == "never" else text)


@given(texts(2000), st.integers(1, 10))
def test_overflow_fail_refuses_exactly_what_truncate_would_cut(text: str, max_parts: int) -> None:
    try:
        fitted = fit(text, max_parts=max_parts, overflow="fail")
    except KpnValidationError as err:
        assert "\n" not in str(err)
        assert not text.strip() or analyse(text).parts > max_parts
        return
    assert not fitted.truncated and fitted.info.parts <= max_parts


# ------------------------------------------------------------- over the wire, fewer cases


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    emu = Emulator()
    emu.start_in_thread()
    yield emu
    emu.stop()


@settings(max_examples=examples(40))
@given(texts(900).filter(lambda t: t.strip() != ""))
def test_parts_reported_by_the_client_are_the_parts_billed(
    shared_emulator: Emulator, text: str
) -> None:
    """End to end: what the client says it sent is what the emulator billed, part for part."""
    shared_emulator.configure(non_gsm_text="reject")  # a wrong `type` would be refused
    with KpnSmsSync(
        EMU_CLIENT_ID,
        EMU_CLIENT_SECRET,
        base_url=shared_emulator.url,
        sender="KPNAlert",
        max_parts=10,
        rate_limit=1000,
    ) as sms:
        report = sms.send(text, ["31612345678"])
    (result,) = report.results
    assert result.ok, result.reason
    record = shared_emulator.messages[-1]
    assert record["message_ids"] == list(result.message_ids)
    assert (
        record["parts"]
        == len(result.parts)
        == analyse(report.text, "always" if record["encoding"] == "ucs2" else "auto").parts
    )


def test_emulator_split_of_nothing_is_one_empty_part() -> None:
    assert segments.split("", unicode=False).parts == ("",)
    assert analyse("").parts == 1
