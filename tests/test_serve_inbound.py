"""`kpn-sms serve` inbound SMS and delivery receipts: the emulator plays KPN's webhooks."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_serve_support import (
    ALICE,
    ALICE_E164,
    AUTH,
    PATH_SECRET,
    eventually,
    full_config,
    read_jsonl,
    running,
)

from kpn_sms_notify.client import KpnSms
from kpn_sms_notify.emulator import DEFAULT_VIRTUAL_NUMBER, Emulator
from kpn_sms_notify.inbound import compute_signature
from kpn_sms_notify.server.state import STATE

PHONE = "31687654321"
FIXTURES = Path(__file__).parent / "fixtures" / "vonage"


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the server logged (the test's own HTTP client logs the URLs it calls)."""
    client = ("httpx", "httpcore")
    return "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(client)
    )


def captured_request(name: str) -> tuple[dict[str, str], bytes]:
    """A request Vonage sent, as captured: its headers and its body, byte for byte."""
    head, _, body = (FIXTURES / name).read_bytes().partition(b"\n\n")
    lines = head.decode("ascii").splitlines()[1:]  # after the request line
    headers = dict(line.split(": ", 1) for line in lines)
    return headers, body


def inbound_config(emulator_url: str, tmp_path: Path, **serve: Any) -> dict[str, Any]:
    return full_config(
        emulator_url,
        serve={
            "path_secret": PATH_SECRET,
            "sinks": {"jsonl": str(tmp_path / "inbound.jsonl")},
            **serve,
        },
    )


async def _register(config: dict[str, Any], url: str) -> None:
    """Point the emulator's virtual number at our inbound URL, as a user would."""
    client = {k: v for k, v in config.items() if k != "serve"}
    async with KpnSms.from_config(client) as sms:
        await sms.register_webhook(DEFAULT_VIRTUAL_NUMBER, url)


def _inbound_records(tmp_path: Path) -> list[dict[str, Any]]:
    return [r for r in read_jsonl(tmp_path / "inbound.jsonl") if r["kind"] == "inbound"]


@pytest.mark.parametrize("fmt", ["json", "form", "get"])
async def test_inbound_text_reaches_the_jsonl_sink(
    emulator: Emulator, emulator_url: str, tmp_path: Path, fmt: str
) -> None:
    emulator.configure(inbound_format=fmt)
    config = inbound_config(emulator_url, tmp_path)
    async with running(config) as (server, _http):
        await _register(config, f"{server.url}/inbound/{PATH_SECRET}")
        emulator.inject_inbound(msisdn=PHONE, text="STOP alerts please")
        assert await eventually(lambda: len(_inbound_records(tmp_path)) == 1)
    (record,) = _inbound_records(tmp_path)
    # The sink holds numbers in the canonical form, E.164 with "+".
    assert record["msisdn"] == f"+{PHONE}" and record["to"] == f"+{DEFAULT_VIRTUAL_NUMBER}"
    assert record["text"] == "STOP alerts please" and record["keyword"] == "STOP"
    assert record["complete"] is True and record["received_at"]


async def test_long_text_reassembled_once_despite_duplicates_and_order(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    text = "part one. " * 20 + "part two! " * 20 + "and three" * 10
    config = inbound_config(
        emulator_url, tmp_path, sinks={"jsonl": str(tmp_path / "inbound.jsonl"), "stdout": True}
    )
    async with running(config) as (server, http):
        await _register(config, f"{server.url}/inbound/{PATH_SECRET}")
        record = emulator.inject_inbound(
            msisdn=PHONE, text=text, concat_parts=3, duplicate=True, reverse_parts=True
        )
        assert len(record["parts"]) == 6  # 3 parts, each delivered twice
        assert await eventually(
            lambda: all(p.get("state") == "delivered" for p in emulator.inbound[0]["parts"])
        )
        metrics = (await http.get("/metrics")).text
    (stored,) = _inbound_records(tmp_path)
    assert stored["text"] == text
    assert stored["total_parts"] == stored["received_parts"] == 3
    assert len(stored["message_ids"]) == 3
    assert "kpn_sms_inbound_received_total 1" in metrics
    assert "kpn_sms_inbound_duplicates_total 3" in metrics


async def test_path_secret_probe_and_bad_payloads(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    async with running(inbound_config(emulator_url, tmp_path)) as (_server, http):
        assert (await http.get("/inbound/wrong-secret-000000000")).status_code == 404
        assert (await http.post("/inbound", json={"msisdn": PHONE})).status_code == 404
        assert (await http.get("/delivery/nope", params={"messageId": "x"})).status_code == 404
        # KPN's number/update checks the URL with a bare GET: 200.
        assert (await http.get(f"/inbound/{PATH_SECRET}")).status_code == 200
        for path in (f"/inbound/{PATH_SECRET}", f"/delivery/{PATH_SECRET}"):
            missing = await http.post(path, json={"msisdn": PHONE, "to": "3197012345678"})
            assert missing.status_code == 400
            assert missing.json()["reason"] == "messageId: required field missing"
            broken = await http.post(
                path, content=b"{oops", headers={"Content-Type": "application/json"}
            )
            assert broken.status_code == 400 and "not valid JSON" in broken.json()["reason"]
            odd = await http.post(path, content=b"<x/>", headers={"Content-Type": "text/xml"})
            assert odd.status_code == 400 and "content type" in odd.json()["reason"]
        # Bearer auth is not needed here, and the alert token does not replace the secret.
        assert (await http.get("/inbound/x", headers=AUTH)).status_code == 404
    assert _inbound_records(tmp_path) == []


async def test_number_update_check_passes(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    config = inbound_config(emulator_url, tmp_path)
    async with running(config) as (server, _http):
        client = {k: v for k, v in config.items() if k != "serve"}
        async with KpnSms.from_config(client) as sms:
            await sms.update_number(
                "NL", DEFAULT_VIRTUAL_NUMBER, f"{server.url}/inbound/{PATH_SECRET}"
            )
        assert emulator.webhooks  # the emulator's GET check got its 200


@pytest.mark.parametrize("method", ["md5hash", "sha256"])
async def test_signed_webhooks(
    emulator: Emulator, emulator_url: str, tmp_path: Path, method: str
) -> None:
    emulator.configure(signature_secret="shared-sig-secret", signature_method=method)
    config = inbound_config(
        emulator_url,
        tmp_path,
        signature_secret="shared-sig-secret",
        signature_method=method,
        signature_max_skew=300,
    )
    async with running(config) as (server, http):
        await _register(config, f"{server.url}/inbound/{PATH_SECRET}")
        emulator.inject_inbound(msisdn=PHONE, text="signed hello")
        assert await eventually(lambda: len(_inbound_records(tmp_path)) == 1)
        # Forged, unsigned and tampered calls are refused.
        params = {
            "msisdn": PHONE,
            "to": DEFAULT_VIRTUAL_NUMBER,
            "messageId": "forged-1",
            "text": "x",
            "timestamp": "1700000000",
        }
        unsigned = await http.post(f"/inbound/{PATH_SECRET}", data=params)
        assert unsigned.status_code == 401
        signed_elsewhere = {**params, "sig": compute_signature(params, "wrong-secret", method)}
        assert (
            await http.post(f"/inbound/{PATH_SECRET}", data=signed_elsewhere)
        ).status_code == 401
        old = {**params, "sig": compute_signature(params, "shared-sig-secret", method)}
        assert (await http.post(f"/inbound/{PATH_SECRET}", data=old)).status_code == 401  # skew
    assert [r["text"] for r in _inbound_records(tmp_path)] == ["signed hello"]


class _FlakyHook:
    """A forward target on 127.0.0.1 that fails its first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls <= self.failures:
            return web.Response(status=500)
        self.received.append(await request.json())
        return web.Response(status=200)


@pytest.fixture
async def flaky_hook() -> AsyncIterator[tuple[_FlakyHook, str]]:
    hook = _FlakyHook(failures=1)
    app = web.Application()
    app.router.add_post("/api/webhook/kpn", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield hook, f"http://127.0.0.1:{port}/api/webhook/kpn"
    finally:
        await runner.cleanup()


async def test_sink_failure_answers_503_and_the_retry_delivers_once(
    emulator: Emulator, emulator_url: str, tmp_path: Path, flaky_hook: tuple[_FlakyHook, str]
) -> None:
    hook, url = flaky_hook
    emulator.configure(webhook_retry_interval=0.2)
    config = inbound_config(
        emulator_url, tmp_path, sinks={"jsonl": str(tmp_path / "inbound.jsonl"), "forward": url}
    )
    async with running(config) as (server, http):
        await _register(config, f"{server.url}/inbound/{PATH_SECRET}")
        emulator.inject_inbound(msisdn=PHONE, text="reply via HA")
        assert await eventually(lambda: len(hook.received) == 1)
        assert await eventually(lambda: emulator.inbound[0]["parts"][0].get("state") == "delivered")
        metrics = (await http.get("/metrics")).text
    attempts = emulator.inbound[0]["parts"][0]["attempts"]
    assert [a.get("status") for a in attempts] == [503, 200]
    assert hook.received[0]["text"] == "reply via HA"
    assert len(_inbound_records(tmp_path)) == 1  # the JSONL sink is not given it twice
    assert 'kpn_sms_sink_errors_total{kind="inbound"} 1' in metrics


async def test_unwritable_jsonl_sink_is_503(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    sink = tmp_path / "inbound.jsonl"
    async with running(inbound_config(emulator_url, tmp_path)) as (_server, http):
        sink.mkdir()  # a directory where the file should be: writes fail
        params = {"msisdn": PHONE, "to": DEFAULT_VIRTUAL_NUMBER, "messageId": "m-1", "text": "hi"}
        failed = await http.get(f"/inbound/{PATH_SECRET}", params=params)
        assert failed.status_code == 503
        sink.rmdir()
        stored = await http.get(f"/inbound/{PATH_SECRET}", params=params)
        assert stored.status_code == 200
        again = await http.get(f"/inbound/{PATH_SECRET}", params=params)
        assert again.status_code == 200
    assert [r["text"] for r in _inbound_records(tmp_path)] == ["hi"]


async def test_accepted_messages_survive_a_restart(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    config = inbound_config(emulator_url, tmp_path, state_dir=str(tmp_path / "state"))
    url = f"/inbound/{PATH_SECRET}"
    single = {"msisdn": PHONE, "to": DEFAULT_VIRTUAL_NUMBER, "messageId": "single-1", "text": "one"}
    part = {
        "msisdn": PHONE,
        "to": DEFAULT_VIRTUAL_NUMBER,
        "concat": "true",
        "concat-ref": "9",
        "concat-total": "2",
    }
    async with running(config) as (_server, http):
        assert (await http.post(url, data=single)).status_code == 200
        first_half = {**part, "messageId": "p-1", "concat-part": "1", "text": "first half, "}
        assert (await http.post(url, data=first_half)).status_code == 200
    # Restart: the stored message is not stored again; the waiting part is still waiting.
    async with running(config) as (_server, http):
        assert (await http.post(url, data=single)).status_code == 200
        second_half = {**part, "messageId": "p-2", "concat-part": "2", "text": "second half"}
        assert (await http.post(url, data=second_half)).status_code == 200
    assert [r["text"] for r in _inbound_records(tmp_path)] == ["one", "first half, second half"]


async def test_dedupe_recovered_from_the_jsonl_sink_alone(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    config = inbound_config(emulator_url, tmp_path)  # no state_dir
    params = {"msisdn": PHONE, "to": DEFAULT_VIRTUAL_NUMBER, "messageId": "m-77", "text": "hey"}
    for _ in range(2):
        async with running(config) as (_server, http):
            assert (await http.post(f"/inbound/{PATH_SECRET}", json=params)).status_code == 200
    assert len(_inbound_records(tmp_path)) == 1


async def test_delivery_receipts_from_a_real_send(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    emulator.configure(dlr_status={ALICE_E164: "failed"}, dlr_err_code={ALICE_E164: "9"})
    config = inbound_config(emulator_url, tmp_path)
    async with running(config) as (server, http):
        client = {k: v for k, v in config.items() if k != "serve"}
        async with KpnSms.from_config(client) as sms:
            report = await sms.send(
                "x" * 200,  # two parts: one receipt each
                [ALICE, "0687654321"],
                status_report=True,
                callback=f"{server.url}/delivery/{PATH_SECRET}",
            )
        assert report.ok
        assert await eventually(lambda: len(read_jsonl(tmp_path / "inbound.jsonl")) == 4)
        assert await eventually(lambda: all(d.get("state") == "delivered" for d in emulator.dlrs))
        # A redelivered receipt is acknowledged but not stored again.
        again = emulator.dlrs[0]["sent_payload"]
        assert (await http.post(f"/delivery/{PATH_SECRET}", data=again)).status_code == 200
        metrics = (await http.get("/metrics")).text
    receipts = read_jsonl(tmp_path / "inbound.jsonl")
    assert len(receipts) == 4 and {r["kind"] for r in receipts} == {"delivery"}
    alice = [r for r in receipts if r["msisdn"] == f"+{ALICE_E164}"]
    assert {(r["outcome"], r["final"], r["error_meaning"]) for r in alice} == {
        ("failed", True, "Illegal number (recipient opted out)")
    }
    assert {r["outcome"] for r in receipts if r["msisdn"] != f"+{ALICE_E164}"} == {"delivered"}
    assert 'kpn_sms_delivery_receipts_total{outcome="failed"} 2' in metrics
    assert 'kpn_sms_delivery_receipts_total{outcome="duplicate"} 1' in metrics


async def test_inbound_disabled_without_path_secret(emulator: Emulator, emulator_url: str) -> None:
    async with running(full_config(emulator_url)) as (_server, http):
        assert (await http.get("/inbound/anything-at-all-0000")).status_code == 404
        assert (await http.get("/healthz")).json()["inbound"] is False


async def test_many_concurrent_parts_stay_consistent(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """50 two-part texts, all parts posted concurrently twice: 50 records, each whole."""
    async with running(inbound_config(emulator_url, tmp_path)) as (_server, http):
        calls = []
        for n in range(50):
            for no in (1, 2):
                params = {
                    "msisdn": PHONE,
                    "to": DEFAULT_VIRTUAL_NUMBER,
                    "messageId": f"{n}-{no}",
                    "text": f"[{n}:{no}]",
                    "concat": "true",
                    "concat-ref": str(n),
                    "concat-total": "2",
                    "concat-part": str(no),
                }
                calls += [http.post(f"/inbound/{PATH_SECRET}", json=params) for _ in range(2)]
        answers = await asyncio.gather(*calls)
        assert {a.status_code for a in answers} == {200}
    records = _inbound_records(tmp_path)
    assert sorted(r["text"] for r in records) == sorted(f"[{n}:1][{n}:2]" for n in range(50))


async def test_incomplete_text_is_handed_out_after_the_wait(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """The second part never comes: after concat_ttl the first is stored, marked incomplete,
    without waiting for another text to arrive."""
    config = inbound_config(emulator_url, tmp_path, concat_ttl=1)
    part = {
        "msisdn": PHONE,
        "to": DEFAULT_VIRTUAL_NUMBER,
        "messageId": "half-1",
        "text": "only half",
        "concat": "true",
        "concat-ref": "5",
        "concat-total": "2",
        "concat-part": "1",
    }
    async with running(config) as (_server, http):
        assert (await http.post(f"/inbound/{PATH_SECRET}", json=part)).status_code == 200
        assert _inbound_records(tmp_path) == []
        assert await eventually(lambda: len(_inbound_records(tmp_path)) == 1, timeout=10)
    (record,) = _inbound_records(tmp_path)
    assert record["text"] == "only half" and record["complete"] is False
    assert record["received_parts"] == 1 and record["total_parts"] == 2


async def test_restart_without_jsonl_sink_uses_the_journal(
    emulator: Emulator, emulator_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """stdout sink only: the state_dir journal alone remembers what was handed out."""
    config = inbound_config(
        emulator_url, tmp_path, sinks={"stdout": True}, state_dir=str(tmp_path / "state")
    )
    params = {"msisdn": PHONE, "to": DEFAULT_VIRTUAL_NUMBER, "messageId": "j-1", "text": "hi"}
    receipt = {"messageId": "r-1", "status": "delivered", "err-code": "0", "msisdn": PHONE}
    for _ in range(2):
        async with running(config) as (_server, http):
            assert (await http.post(f"/inbound/{PATH_SECRET}", data=params)).status_code == 200
            assert (await http.post(f"/delivery/{PATH_SECRET}", data=receipt)).status_code == 200
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 2, lines  # one text, one receipt: not again after the restart


async def test_vonages_captured_json_without_content_type_lands_in_the_sink(
    emulator: Emulator, emulator_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Vonage's own capture (PHP SDK test/SMS/requests/json.txt): JSON, no Content-Type."""
    headers, body = captured_request("php-sdk-inbound-json.http")
    assert not any(name.lower() == "content-type" for name in headers)
    sent = {k: v for k, v in headers.items() if k.lower() != "host"}  # we are 127.0.0.1
    caplog.set_level(logging.DEBUG)
    async with running(inbound_config(emulator_url, tmp_path)) as (_server, http):
        answer = await http.post(f"/inbound/{PATH_SECRET}", content=body, headers=sent)
        assert "content-type" not in answer.request.headers
        assert answer.request.content == body
        assert answer.status_code == 200, answer.text
    (record,) = _inbound_records(tmp_path)
    assert record["msisdn"].lstrip("+") == "14845552121"
    assert record["to"].lstrip("+") == "16105553939"
    assert record["message_id"] == "02000000DA7C52E7"
    assert (record["text"], record["keyword"]) == ("Test this.", "TEST")
    assert record["message_timestamp"] == "2016-05-24 11:12:01"
    assert PATH_SECRET not in server_log(caplog)


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/octet-stream", "application/json"]
)
async def test_inbound_json_is_read_by_its_content(
    emulator: Emulator, emulator_url: str, tmp_path: Path, content_type: str | None
) -> None:
    payload = {
        "msisdn": PHONE,
        "to": DEFAULT_VIRTUAL_NUMBER,
        "messageId": "0B00000000000001",
        "text": "labelled or not",
        "type": "text",
    }
    headers = {"Content-Type": content_type} if content_type else {}
    async with running(inbound_config(emulator_url, tmp_path)) as (_server, http):
        answer = await http.post(
            f"/inbound/{PATH_SECRET}", content=json.dumps(payload).encode(), headers=headers
        )
        assert answer.status_code == 200, answer.text
    assert [r["text"] for r in _inbound_records(tmp_path)] == ["labelled or not"]


async def test_messages_api_inbound_and_status_land_in_the_sink(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """An account set to the Messages API: the same records as from the SMS API."""
    inbound = {
        "to": DEFAULT_VIRTUAL_NUMBER,
        "from": PHONE,
        "channel": "sms",
        "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
        "message_type": "text",
        "text": "YES please",
        "timestamp": "2026-11-26T12:00:00Z",
        "sms": {"num_messages": "1", "keyword": "YES"},
        "usage": {"price": "0.0333", "currency": "EUR"},
    }
    status = {
        "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ac",
        "to": PHONE,
        "from": "KPNAlert",
        "timestamp": "2026-11-26T12:00:05Z",
        "status": "delivered",
        "channel": "sms",
        "usage": {"price": "0.0750", "currency": "EUR"},
    }
    async with running(inbound_config(emulator_url, tmp_path)) as (_server, http):
        for _ in range(2):  # a redelivery is acknowledged, not stored twice
            answer = await http.post(f"/inbound/{PATH_SECRET}", json=inbound)
            assert answer.status_code == 200, answer.text
            answer = await http.post(f"/delivery/{PATH_SECRET}", json=status)
            assert answer.status_code == 200, answer.text
        whatsapp = await http.post(
            f"/inbound/{PATH_SECRET}", json={**inbound, "channel": "whatsapp"}
        )
        assert whatsapp.status_code == 400
        assert whatsapp.json()["reason"].startswith("channel: expected sms")
    records = read_jsonl(tmp_path / "inbound.jsonl")
    (text,) = [r for r in records if r["kind"] == "inbound"]
    assert (text["msisdn"].lstrip("+"), text["text"], text["keyword"]) == (
        PHONE,
        "YES please",
        "YES",
    )
    assert text["message_id"] == inbound["message_uuid"]
    assert text["message_timestamp"] == "2026-11-26 12:00:00" and text["complete"] is True
    (receipt,) = [r for r in records if r["kind"] == "delivery"]
    assert receipt["message_id"] == status["message_uuid"]
    assert (receipt["msisdn"].lstrip("+"), receipt["to"]) == (PHONE, "KPNAlert")
    assert (receipt["outcome"], receipt["final"], receipt["price"]) == ("delivered", True, "0.0750")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"msisdn=316&to=319", "application/json", "body: not valid JSON"),
        (b'{"msisdn": "31687654321", "text": "\xff"}', None, "body: not UTF-8 text"),
        (b"[1, 2]", "text/plain", "body: expected a JSON object, got array"),
    ],
)
async def test_unreadable_bodies_are_a_400_with_a_one_line_reason(
    emulator: Emulator,
    emulator_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str | None,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Content-Type": content_type} if content_type else {}
    async with running(inbound_config(emulator_url, tmp_path)) as (_server, http):
        for path in (f"/inbound/{PATH_SECRET}", f"/delivery/{PATH_SECRET}"):
            answer = await http.post(path, content=body, headers=headers)
            assert answer.status_code == 400
            assert answer.json()["reason"].startswith(reason)
            assert "\n" not in answer.json()["reason"]
    assert "Traceback" not in server_log(caplog)
    assert _inbound_records(tmp_path) == []


async def test_signed_calls_have_a_replay_window_by_default(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """Without signature_max_skew in the config: a call stamped more than 300 s away is
    refused, and an accepted id is remembered at least that long (so a replay is a 200
    duplicate, stored once)."""
    config = inbound_config(emulator_url, tmp_path, signature_secret="shared-sig-secret")

    def signed(message_id: str, stamp: str) -> dict[str, str]:
        params = {
            "msisdn": PHONE,
            "to": DEFAULT_VIRTUAL_NUMBER,
            "messageId": message_id,
            "text": "ACK",
            "timestamp": stamp,
            "nonce": message_id,
        }
        return {**params, "sig": compute_signature(params, "shared-sig-secret")}

    now = time.time()
    async with running(config) as (server, http):
        fresh = signed("replay-1", str(int(now)))
        assert (await http.post(f"/inbound/{PATH_SECRET}", data=fresh)).status_code == 200
        assert (await http.post(f"/inbound/{PATH_SECRET}", data=fresh)).status_code == 200
        for stamp in (str(int(now - 310)), str(int(now + 310)), "nan", "inf", "-inf"):
            stale = await http.post(f"/inbound/{PATH_SECRET}", data=signed("old-1", stamp))
            assert stale.status_code == 401, stamp
            assert "timestamp: outside the allowed 300 s" in stale.json()["reason"]
        server_state = server.runner.app[STATE]
        assert server_state.assembler.seen_for == 300
    assert [r["text"] for r in _inbound_records(tmp_path)] == ["ACK"]
