"""Text from outside is cleaned where it enters (`kpn_sms_notify.textclean`): lone UTF-16
surrogates, control characters, bidi overrides, and label keys in log lines; through
`kpn-sms serve` on 127.0.0.1 with the emulator as KPN."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from test_serve_support import (
    AUTH,
    PATH_SECRET,
    am_alert,
    am_payload,
    full_config,
    read_jsonl,
    running,
)

from kpn_sms_notify.emulator import Emulator
from kpn_sms_notify.server.state import STATE

PHONE = "31612345678"
INBOUND = f"/inbound/{PATH_SECRET}"
JSON = {"Content-Type": "application/json"}


def _config(emulator_url: str, tmp_path: Path, **serve: Any) -> dict[str, Any]:
    return full_config(
        emulator_url,
        serve={
            "path_secret": PATH_SECRET,
            "state_dir": str(tmp_path / "state"),
            "sinks": {"jsonl": str(tmp_path / "inbound.jsonl")},
            **serve,
        },
    )


def _records(tmp_path: Path, kind: str = "inbound") -> list[dict[str, Any]]:
    return [r for r in read_jsonl(tmp_path / "inbound.jsonl") if r["kind"] == kind]


def _raw(fields: dict[str, str]) -> bytes:
    """A JSON body written by hand, so ``\\ud800`` reaches the server as an escape."""
    return json.dumps(fields).replace("LONE", "\\ud800").encode()


async def test_a_lone_surrogate_in_an_inbound_text_is_stored_once_as_a_replacement(
    emulator_url: str, tmp_path: Path
) -> None:
    body = _raw(
        {
            "msisdn": PHONE,
            "to": "3197012345678",
            "messageId": "lone-1",
            "text": "aLONEb",
            "keyword": "KLONE",
            "type": "unicode",
        }
    )
    async with running(_config(emulator_url, tmp_path)) as (_server, http):
        first = await http.post(INBOUND, content=body, headers=JSON)
        again = await http.post(INBOUND, content=body, headers=JSON)  # the redelivery
    assert (first.status_code, again.status_code) == (200, 200)
    (record,) = _records(tmp_path)
    assert record["text"] == "a\ufffdb" and record["keyword"] == "K\ufffd"


async def test_an_emoji_split_across_two_parts_is_joined_not_lost(
    emulator_url: str, tmp_path: Path
) -> None:
    parts = [("Look at this: \\ud83d", 1), ("\\ude00 nice", 2)]
    async with running(_config(emulator_url, tmp_path)) as (_server, http):
        for text, no in parts:
            body = (
                f'{{"msisdn":"{PHONE}","to":"3197012345678","messageId":"split-{no}",'
                f'"text":"{text}","type":"unicode","concat":"true","concat-ref":"e1",'
                f'"concat-total":"2","concat-part":"{no}"}}'
            )
            for _ in range(2):  # each part delivered twice
                answer = await http.post(INBOUND, content=body.encode(), headers=JSON)
                assert answer.status_code == 200
    (record,) = _records(tmp_path)
    assert record["text"] == "Look at this: \U0001f600 nice" and record["complete"] is True


async def test_a_lone_surrogate_in_a_receipt_or_a_signed_call_is_no_503(
    emulator_url: str, tmp_path: Path
) -> None:
    receipt = _raw(
        {
            "messageId": "r-1",
            "status": "delivered",
            "err-code": "0",
            "msisdn": PHONE,
            "client-ref": "refLONE",
        }
    )
    async with running(_config(emulator_url, tmp_path)) as (_server, http):
        assert (
            await http.post(f"/delivery/{PATH_SECRET}", content=receipt, headers=JSON)
        ).status_code == 200
    (record,) = _records(tmp_path, "delivery")
    assert record["client_ref"] == "ref\ufffd"
    signed = _config(emulator_url, tmp_path, signature_secret="sig-secret-123")
    body = _raw(
        {
            "msisdn": PHONE,
            "to": "3197012345678",
            "messageId": "s-1",
            "text": "LONE",
            "timestamp": "1",
            "sig": "0" * 32,
        }
    )
    async with running(signed) as (_server, http):
        assert (await http.post(INBOUND, content=body, headers=JSON)).status_code == 401


async def test_an_unexpected_failure_before_storing_lets_the_redelivery_through(
    emulator_url: str, tmp_path: Path
) -> None:
    """The 503 undoes the de-duplication record: the redelivery is stored, not a duplicate."""
    body = {"msisdn": PHONE, "to": "3197012345678", "messageId": "fail-1", "text": "hi"}
    async with running(_config(emulator_url, tmp_path)) as (server, http):
        sinks = server.runner.app[STATE].sinks
        real = sinks.deliver
        calls = 0

        async def fails_once(key: str, record: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("a bug, not a sink error")  # mock: no real sink does this
            await real(key, record)

        sinks.deliver = fails_once  # type: ignore[method-assign]
        assert (await http.post(INBOUND, json=body)).status_code == 503
        assert (await http.post(INBOUND, json=body)).status_code == 200
    assert [r["text"] for r in _records(tmp_path)] == ["hi"]


async def test_alert_text_reaches_the_handset_without_controls_bidi_or_surrogates(
    emulator: Emulator, emulator_url: str
) -> None:
    alerts = [
        am_alert("Ctl", summary="a\x00b\x07c\x1b[31mred", fingerprint="f1"),
        am_alert("Rtl", summary="pay to \u202eNL99RABO\u202c ok \u2066x\u2069", fingerprint="f2"),
        am_alert("Lone", summary="LONE", fingerprint="f3"),
    ]
    async with running(full_config(emulator_url)) as (_server, http):
        for alert in alerts:
            body = json.dumps(am_payload(alert)).replace('"LONE"', '"x\\ud800"').encode()
            answer = await http.post("/alertmanager", content=body, headers={**AUTH, **JSON})
            assert answer.status_code == 200, answer.text
        notify = await http.post(
            "/notify", headers=AUTH, json={"message": "\u202eevil\u202c\x00", "title": "t\x1b"}
        )
        assert notify.status_code == 200
    texts = [m["text"] for m in emulator.messages]
    assert len(texts) == 4
    assert "abc[31mred" in texts[0]
    assert "pay to NL99RABO ok x" in texts[1]
    assert "x\ufffd" in texts[2]
    assert texts[3] == "t\nevil"
    for text in texts:
        assert not any(ord(c) < 0x20 and c != "\n" for c in text)
        assert not set(text) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


async def test_a_label_key_with_a_newline_or_escape_is_logged_escaped(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    alert = am_alert()
    alert["labels"]["x\nCRITICAL forged line\x1b[2J\u202e"] = {"not": "a string"}
    with caplog.at_level(logging.INFO, logger="kpn_sms_notify.server"):
        async with running(full_config(emulator_url)) as (_server, http):
            answer = await http.post("/alertmanager", json=am_payload(alert), headers=AUTH)
    assert answer.status_code == 400
    assert "x\\nCRITICAL forged line\\x1b[2J\\u202e" in answer.json()["reason"]
    lines = [r.getMessage() for r in caplog.records if "400" in r.getMessage()]
    assert lines and all("\n" not in line and "\x1b" not in line for line in lines)
    assert "\u202e" not in caplog.text and emulator.messages == []
