"""Emulator: how a text is split and billed. Expected values are worked out by hand from
GSM 03.38 / UCS-2 rules (160/153 septets, 70/67 UTF-16 units; an ESC pair or a surrogate
pair never straddles two parts), not computed by the code under test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kpn_sms_notify.emulator import Emulator
from kpn_sms_notify.emulator.segments import split

SEND = "/communication/nexmo/sms/send"
HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
GSM_SPECIALS = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r"

# (text, type, encoding, units, parts)
TABLE: list[tuple[str, str, str, int, int]] = [
    ("a", "text", "gsm7", 1, 1),
    ("a" * 160, "text", "gsm7", 160, 1),
    ("a" * 161, "text", "gsm7", 161, 2),
    ("a" * 306, "text", "gsm7", 306, 2),
    ("a" * 307, "text", "gsm7", 307, 3),
    ("a" * 459, "text", "gsm7", 459, 3),
    ("a" * 460, "text", "gsm7", 460, 4),
    (GSM_SPECIALS * 3, "text", "gsm7", 3 * 44, 1),  # every basic-table character counts 1
    ("€" * 80, "text", "gsm7", 160, 1),  # extension characters count 2
    ("€" * 81, "text", "gsm7", 162, 2),  # 76 € (152 septets) per part
    ("{}" * 40 + "a", "text", "gsm7", 161, 2),
    ("|^~\\[]" * 13 + "ab", "text", "gsm7", 158, 1),
    ("\f" * 80, "text", "gsm7", 160, 1),  # form feed is in the extension table
    ("a" * 152 + "€" + "a" * 152, "text", "gsm7", 306, 3),  # the ESC pair moves to part 2
    ("é" * 70, "unicode", "ucs2", 70, 1),  # type=unicode is UCS-2 even for GSM characters
    ("a" * 71, "unicode", "ucs2", 71, 2),
    ("Привет" * 22 + "ab", "unicode", "ucs2", 134, 2),
    ("ж" * 135, "unicode", "ucs2", 135, 3),
    ("😀" * 35, "unicode", "ucs2", 70, 1),  # a non-BMP character is 2 UTF-16 units
    ("😀" * 36, "unicode", "ucs2", 72, 2),
    ("😀" * 67, "unicode", "ucs2", 134, 3),  # 33 emoji (66 units) per part
]


@pytest.mark.parametrize(("text", "kind", "encoding", "units", "parts"), TABLE)
def test_split_table(text: str, kind: str, encoding: str, units: int, parts: int) -> None:
    result = split(text, unicode=kind == "unicode")
    assert (result.encoding, result.units, len(result.parts)) == (encoding, units, parts)
    assert "".join(result.parts) == text


@pytest.mark.parametrize(("text", "kind", "encoding", "units", "parts"), TABLE)
def test_billing_over_http(
    emulator: Emulator,
    emulator_url: str,
    emulator_auth: dict[str, str],
    text: str,
    kind: str,
    encoding: str,
    units: int,
    parts: int,
) -> None:
    body: dict[str, Any] = HTTP.post(
        emulator_url + SEND,
        headers=emulator_auth,
        data={"from": "KPNAlert", "to": "31612345678", "text": text, "type": kind},
    ).json()
    assert body["message-count"] == str(parts)
    assert len(body["messages"]) == parts
    assert all(m["status"] == "0" for m in body["messages"])
    assert len({m["message-id"] for m in body["messages"]}) == parts
    (record,) = emulator.messages
    assert (record["encoding"], record["units"], record["parts"]) == (encoding, units, parts)
    assert emulator.counters["parts"] == parts


def test_part_limits_respected() -> None:
    text = ("a" * 150 + "€€") * 5
    result = split(text, unicode=False)
    for part in result.parts:
        assert sum(2 if ch == "€" else 1 for ch in part) <= 153
    uni = split("😀x" * 60, unicode=True)
    for part in uni.parts:
        assert len(part.encode("utf-16-le")) // 2 <= 67
