"""The emulator matches reality: knobs for what Vonage and Apigee really send (UUID message
ids, partly accepted long texts, the three throttle texts, `api-key` in DLRs, `timestamp`
on unsigned inbound, Apigee's `invalid_request`), each set over the control API, and the
client (async and sync), the CLI, `kpn-sms serve` and Apprise handling each. Everything
talks over 127.0.0.1.

The wire texts are Vonage's own, from its PHP SDK's test fixtures (`ratelimit.json`,
`ratelimit-notime.json`, `mt-limit.json`, `dlr-post.txt`) and Apigee's OAuth error reference.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from apprise import Apprise, NotifyBase
from conftest import WebhookReceiver  # type: ignore[import-not-found]
from test_cli import kpn_env, run
from test_serve_support import AUTH, PATH_SECRET, eventually, full_config, read_jsonl, running

from kpn_sms_notify import KpnApiError, KpnAuthError, KpnRateLimitError, KpnSms, protocol
from kpn_sms_notify.apprise_plugin import register
from kpn_sms_notify.apprise_support import PROCESS_TOKENS
from kpn_sms_notify.emulator import (
    DEFAULT_VIRTUAL_NUMBER,
    EMU_API_KEY,
    EMU_CLIENT_ID,
    EMU_CLIENT_SECRET,
    Emulator,
)
from kpn_sms_notify.inbound import parse_delivery_receipt, parse_inbound
from kpn_sms_notify.sync_client import KpnSmsSync

A, B, C = "31612345678", "31687654321", "31655512345"
LONG = "x" * 200  # two GSM-7 parts
HEX_ID = re.compile(r"[0-9A-F]{16}")
UUID_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TOKEN_URL = "/oauth/client_credential/accesstoken?grant_type=client_credentials"
JSON = {"Content-Type": "application/json"}
HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))

# Vonage's three status-1 texts, verbatim from its SDK's fixtures.
WAIT_702 = "Throughput Rate Exceeded - please wait [ 702 ] and retry"
NO_WAIT = "Throughput Rate Exceeded - please wait and retry"
MT_LIMIT = (
    "Exceeded maximum MT throughput[ MAX [ 30 ] INTERVAL [ 1000 ] COUNT [ 30 ] LAST INT-START "
    "[ 1617784922564 ] TIME_SINCE_LAST_INTERVAL_START [ 529 ]  ] "
)
EMULATED = {
    "wait": re.escape("Throughput Rate Exceeded - please wait [ ") + r"\d+ \] and retry",
    "no_wait": re.escape(NO_WAIT),
    "mt_limit": re.escape("Exceeded maximum MT throughput[ MAX [ 30 ] INTERVAL [ 1000 ] ")
    + r"COUNT \[ 30 \] LAST INT-START \[ \d{13} \] TIME_SINCE_LAST_INTERVAL_START \[ \d+ \]  \] ",
}


# The reality knobs and their defaults: the emulator's answers before they existed.
DEFAULTS = {
    "message_id_format": "hex",
    "partial_status": {},
    "throttle_text": "wait",
    "dlr_api_key": False,
    "inbound_timestamp": False,
    "token_error_code": "invalid_client",
}


def client(url: str, **options: Any) -> KpnSms:
    options.setdefault("sender", "KPNAlert")
    options.setdefault("rate_limit", 200)
    return KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, **options)


def configure(url: str, **knobs: Any) -> httpx.Response:
    """Set knobs the way a test in another process does: the control API."""
    return HTTP.post(f"{url}/_emulator/configure", json=knobs)


def _send_form(url: str, token: str, **fields: str) -> dict[str, Any]:
    answer = HTTP.post(
        f"{url}/communication/nexmo/sms/send",
        data={"from": "KPNAlert", "to": A, "text": "hello", **fields},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


# -- the knobs ---------------------------------------------------------------------------------


def test_new_knobs_default_to_todays_behaviour_and_are_set_over_http(
    emulator: Emulator, emulator_url: str
) -> None:
    shown = HTTP.get(f"{emulator_url}/_emulator/state").json()["knobs"]
    assert {k: shown[k] for k in DEFAULTS} == DEFAULTS
    wanted = {
        "message_id_format": "uuid",
        "partial_status": {A: "1"},
        "throttle_text": "mt_limit",
        "dlr_api_key": True,
        "inbound_timestamp": True,
        "token_error_code": "invalid_request",
    }
    answer = configure(emulator_url, **wanted)
    assert answer.status_code == 200
    assert {k: answer.json()["knobs"][k] for k in wanted} == wanted


@pytest.mark.parametrize(
    ("knobs", "error"),
    [
        ({"message_id_format": "guid"}, "'message_id_format': 'guid' is not one of hex, uuid"),
        ({"throttle_text": "429"}, "'throttle_text': '429' is not one of wait, no_wait, mt_limit"),
        ({"token_error_code": "x"}, "'token_error_code': 'x' is not one of invalid_client"),
        ({"partial_status": {A: "0"}}, f"'partial_status': '{A}': '0' is not a failure status"),
        ({"partial_status": {A: "busy"}}, "'partial_status'"),
        ({"dlr_api_key": "yes"}, "'dlr_api_key': bad value 'yes'"),
        ({"inbound_timestamp": 1}, "'inbound_timestamp': bad value 1"),
    ],
)
def test_bad_knob_values_are_refused_naming_the_knob(
    emulator_url: str, knobs: dict[str, Any], error: str
) -> None:
    answer = configure(emulator_url, **knobs)
    assert answer.status_code == 400 and error in answer.json()["error"]


# -- message ids: 16 hex digits or UUIDs -------------------------------------------------------


@pytest.mark.parametrize(("fmt", "pattern"), [("hex", HEX_ID), ("uuid", UUID_ID)])
async def test_message_ids_of_either_form_reach_the_report_receipts_and_dedupe(
    emulator: Emulator, emulator_url: str, tmp_path: Path, fmt: str, pattern: re.Pattern[str]
) -> None:
    """The client reports the ids the emulator issued; serve matches each DLR to them and
    drops a redelivered one; an inbound text with such ids is stored once."""
    assert configure(emulator_url, message_id_format=fmt).status_code == 200
    sink = tmp_path / "inbound.jsonl"
    config = full_config(
        emulator_url, serve={"path_secret": PATH_SECRET, "sinks": {"jsonl": str(sink)}}
    )
    async with running(config) as (server, http):
        async with client(emulator_url) as sms:
            report = await sms.send(
                LONG, [A], status_report=True, callback=f"{server.url}/delivery/{PATH_SECRET}"
            )
            await sms.register_webhook(
                DEFAULT_VIRTUAL_NUMBER, f"{server.url}/inbound/{PATH_SECRET}"
            )
        (result,) = report.results
        assert result.ok and len(result.message_ids) == 2
        assert all(pattern.fullmatch(mid) for mid in result.message_ids)
        assert list(result.message_ids) == emulator.messages[0]["message_ids"]
        emulator.inject_inbound(msisdn=B, text="ACK " + "y" * 200, duplicate=True)
        assert await eventually(lambda: len(read_jsonl(sink)) == 3)
        assert await eventually(lambda: all(d.get("state") == "delivered" for d in emulator.dlrs))
        again = emulator.dlrs[0]["sent_payload"]
        assert (await http.post(f"/delivery/{PATH_SECRET}", data=again)).status_code == 200
        assert await eventually(
            lambda: all(p.get("state") == "delivered" for p in emulator.inbound[0]["parts"])
        )
    records = read_jsonl(sink)
    receipts = [r for r in records if r["kind"] == "delivery"]
    (inbound,) = [r for r in records if r["kind"] == "inbound"]
    assert sorted(r["message_id"] for r in receipts) == sorted(result.message_ids)
    assert len(inbound["message_ids"]) == 2
    assert all(pattern.fullmatch(mid) for mid in inbound["message_ids"])


# -- partly accepted long texts ----------------------------------------------------------------


@pytest.mark.parametrize("status", ["1", "5", "9"])
async def test_partly_accepted_text_is_reported_partly_sent_and_never_sent_again(
    emulator: Emulator, emulator_url: str, status: str
) -> None:
    """Part 1 accepted, part 2 throttled (1), failed (5) or refused (9): the recipient is not
    reported sent, the accepted part's id is kept, and no retry repeats part 1, even with
    retry_ambiguous on and retries to spare."""
    assert configure(emulator_url, partial_status={A: status}).status_code == 200
    async with client(emulator_url, retries=3, retry_ambiguous=True) as sms:
        report = await sms.send(LONG, [A, B])
    partly, whole = report.results
    assert not report.ok and whole.ok and len(whole.parts) == 2
    assert not partly.ok and partly.partly_sent and partly.permanent
    assert partly.status == status and partly.attempts == 1
    assert isinstance(partly.error, KpnApiError)
    assert not isinstance(partly.error, KpnRateLimitError)  # waiting would not make it safe
    (sent,) = [m for m in emulator.messages if m["to"] == A]
    assert list(partly.message_ids) == sent["message_ids"] and sent["refused_parts"] == 1
    assert partly.reason is not None
    assert partly.reason.startswith(
        f"partly sent: 1 of 2 parts accepted, the rest refused with status {status} "
    )
    assert "not sent again" in partly.reason
    line = partly.describe()
    assert A not in line and sent["message_ids"][0] in line and "partly sent" in line
    c = emulator.counters
    assert (c["send_requests"], c["partial"], c["parts"]) == (2, 1, 3)


def test_sync_client_reports_a_partly_sent_text_the_same_way(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(partial_status={A: "5"})
    with KpnSmsSync(
        EMU_CLIENT_ID,
        EMU_CLIENT_SECRET,
        base_url=emulator_url,
        sender="KPNAlert",
        retries=3,
        retry_ambiguous=True,
    ) as sms:
        (result,) = sms.send(LONG, [A]).results
    assert result.partly_sent and result.permanent and result.attempts == 1
    assert list(result.message_ids) == emulator.messages[0]["message_ids"]
    assert emulator.counters["send_requests"] == 1


def test_partial_answer_on_the_wire(
    emulator: Emulator, emulator_url: str, emulator_token: str
) -> None:
    """One entry per part: the accepted one with its id, then the refused ones."""
    configure(emulator_url, partial_status={A: "1"}, throttle_text="no_wait")
    body = _send_form(emulator_url, emulator_token, text="y" * 400)  # three parts
    assert body["message-count"] == "3"
    first, *rest = body["messages"]
    assert first["status"] == "0" and HEX_ID.fullmatch(first["message-id"])
    assert rest == [{"to": A, "status": "1", "error-text": NO_WAIT}] * 2
    one_part = _send_form(emulator_url, emulator_token, text="short")  # nothing to split
    assert [m["status"] for m in one_part["messages"]] == ["0"]


def test_cli_reports_a_partly_sent_text(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(partial_status={A: "1"})
    proc = run("send", "--json", "--to", "0612345678", LONG, env=kpn_env(emulator_url))
    assert proc.returncode == 1, proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["ok"] is False and result["partly_sent"] is True
    assert result["message_ids"] == emulator.messages[0]["message_ids"]
    assert result["parts"] == 1 and result["permanent"] is True
    human = run("send", "--to", "0612345678", LONG, env=kpn_env(emulator_url))
    assert human.returncode == 1 and "FAILED " in human.stdout and "partly sent" in human.stdout
    assert emulator.counters["send_requests"] == 2  # one per run, never a retry


async def test_serve_answers_a_partly_sent_text_as_final(
    emulator: Emulator, emulator_url: str
) -> None:
    """serve answers 200 (the sender must not retry: that would repeat part 1) and a retry
    of the same notification texts nobody again."""
    emulator.configure(partial_status={A: "1"})
    async with running(full_config(emulator_url)) as (_server, http):
        first = await http.post("/notify", json={"message": LONG}, headers=AUTH)
        again = await http.post("/notify", json={"message": LONG}, headers=AUTH)
    assert first.status_code == again.status_code == 200
    (failed,) = first.json()["results"]
    assert failed["outcome"] == "failed" and failed["reason"].startswith("partly sent: 1 of 2")
    assert again.json()["results"][0]["outcome"] == "already_sent"
    assert emulator.counters["send_requests"] == 1 and emulator.counters["partial"] == 1


def test_apprise_reports_a_partly_sent_text_and_never_resends_it(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    register()
    PROCESS_TOKENS.clear()
    emulator.configure(partial_status={B: "1"})
    retry = "&retry=2&wait=0" if hasattr(NotifyBase, "is_delivered") else ""
    url = (
        f"kpnsms://{EMU_CLIENT_ID}:{EMU_CLIENT_SECRET}@KPNAlert/0612345678/+31687654321"
        f"?base_url={emulator_url}{retry}"
    )
    notifier = Apprise()
    assert notifier.add(url)
    with caplog.at_level(logging.WARNING):
        assert not notifier.notify(body=LONG)
    PROCESS_TOKENS.clear()
    assert [m["to"] for m in emulator.messages].count(B) == 1
    assert emulator.counters["send_requests"] == 2  # A once, B once: no resend of part 1
    errors = {r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR}
    assert errors == {
        "KPN SMS notification failed for 1 of 2 recipient(s): +316******21 partly sent (status 1)"
    }


# -- the three throttle texts ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "wait"), [(WAIT_702, 0.702), (NO_WAIT, None), (MT_LIMIT, None)])
def test_vonage_throttle_texts_parse_as_throttles(text: str, wait: float | None) -> None:
    """Vonage's fixtures: only "[ 702 ]" is a wait (ms); the MT limit's numbers are not."""
    entry: dict[str, str] = {"status": "1", "error-text": text}
    if text != MT_LIMIT:  # Vonage's mt-limit answer has no "to"
        entry.update(to="14843472194", network="310260")
    body = json.dumps({"message-count": "1", "messages": [entry]}).encode()
    outcome = protocol.parse_send(200, JSON, body, recipient="14843472194")
    assert isinstance(outcome.error, KpnRateLimitError) and outcome.status == "1"
    assert outcome.retry is True and outcome.wait == wait and not outcome.partly_sent
    assert outcome.error.retry_after == wait


@pytest.mark.parametrize("style", ["wait", "no_wait", "mt_limit"])
def test_throttle_text_knob_shapes_every_status_1(
    emulator: Emulator, emulator_url: str, emulator_token: str, style: str
) -> None:
    configure(emulator_url, throttle_text=style, forced_status={A: "1"})
    (forced,) = _send_form(emulator_url, emulator_token)["messages"]
    configure(emulator_url, forced_status={}, script=[{"status": "1"}])
    (scripted,) = _send_form(emulator_url, emulator_token)["messages"]
    configure(emulator_url, script=[], rate_limit=0.1, rate_limit_mode="status1")
    _send_form(emulator_url, emulator_token)
    (limited,) = _send_form(emulator_url, emulator_token)["messages"]
    for entry in (forced, scripted, limited):
        assert entry["status"] == "1"
        assert re.fullmatch(EMULATED[style], entry["error-text"]), entry["error-text"]


@pytest.mark.parametrize("style", ["wait", "no_wait", "mt_limit"])
async def test_each_throttle_text_is_retried_and_sends_once(
    emulator: Emulator, emulator_url: str, style: str
) -> None:
    configure(emulator_url, throttle_text=style, script=[{"status": "1", "count": 2}])
    async with client(emulator_url, retries=3) as sms:
        start = time.monotonic()
        report = await sms.send("hello", [A])
        took = time.monotonic() - start
    (result,) = report.results
    assert result.ok and result.attempts == 3
    assert emulator.counters["status_1"] == 2 and len(emulator.messages) == 1
    if style == "wait":
        assert took >= 1.9  # the emulator's "[ 1000 ]" twice: the client waited as told


@pytest.mark.parametrize("style", ["no_wait", "mt_limit"])
async def test_rate_limited_batch_without_a_wait_in_the_text_all_arrive_once(
    emulator: Emulator, emulator_url: str, style: str
) -> None:
    """No wait to read: the client backs off, and every recipient is texted exactly once."""
    numbers = [A, B, C, "31655512346", "31655512347", "31655512348", "31655512349"]
    configure(emulator_url, throttle_text=style, rate_limit=5, rate_limit_mode="status1")
    async with client(emulator_url, rate_limit=100, retries=8) as sms:
        report = await sms.send("hello", numbers)
    assert report.ok, [r.reason for r in report.failed]
    assert emulator.counters["status_1"] >= 1
    assert sorted(m["to"] for m in emulator.messages) == sorted(numbers)


# -- DLRs with api-key, inbound with timestamp -------------------------------------------------


async def test_dlr_api_key_is_read_and_never_stored(
    emulator: Emulator, emulator_url: str, receiver: WebhookReceiver
) -> None:
    configure(emulator_url, dlr_api_key=True)
    async with client(emulator_url) as sms:
        report = await sms.send("hello", [A], status_report=True, callback=f"{receiver.url}/dlr")
    (dlr,) = receiver.wait_for(1, "/dlr")
    params = dlr["params"]
    assert (
        params["api-key"] == EMU_API_KEY and params["messageId"] == report.results[0].message_ids[0]
    )
    # Vonage's captured DLR field set (PHP SDK dlr-post.txt), no more, no less:
    assert set(params) == {
        "msisdn",
        "to",
        "network-code",
        "messageId",
        "price",
        "status",
        "scts",
        "err-code",
        "api-key",
        "message-timestamp",
    }
    receipt = parse_delivery_receipt(params)
    assert receipt.api_key == EMU_API_KEY and "api_key" not in receipt.to_dict()


async def test_dlr_without_api_key_by_default(
    emulator: Emulator, emulator_url: str, receiver: WebhookReceiver
) -> None:
    async with client(emulator_url) as sms:
        await sms.send("hello", [A], status_report=True, callback=f"{receiver.url}/dlr")
    (dlr,) = receiver.wait_for(1, "/dlr")
    assert "api-key" not in dlr["params"]


@pytest.mark.parametrize("fmt", ["json", "form", "get"])
def test_unsigned_inbound_carries_timestamp_when_asked(
    emulator: Emulator,
    emulator_url: str,
    emulator_auth: dict[str, str],
    receiver: WebhookReceiver,
    fmt: str,
) -> None:
    def register(path: str) -> None:
        answer = HTTP.post(
            emulator_url + "/communication/nexmo/sms/register",
            headers=emulator_auth,
            data={"to": DEFAULT_VIRTUAL_NUMBER, "callback_url": receiver.url + path},
        )
        assert answer.status_code == 200

    emulator.configure(inbound_format=fmt)
    register("/plain")
    emulator.inject_inbound(msisdn=B, text="plain")
    (plain,) = receiver.wait_for(1, "/plain")
    assert "timestamp" not in plain["params"]
    emulator.configure(inbound_timestamp=True)
    register("/stamped")
    before = int(time.time())
    emulator.inject_inbound(msisdn=B, text="stamped")
    (stamped,) = receiver.wait_for(1, "/stamped")
    params = stamped["params"]
    assert "sig" not in params and "nonce" not in params
    assert before <= int(params["timestamp"]) <= int(time.time())
    assert parse_inbound(params).timestamp == int(params["timestamp"])


async def test_serve_takes_stamped_inbound_and_keyed_dlrs(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """Unsigned inbound with a timestamp and DLRs with api-key both land in the sink; with a
    signature secret configured, a timestamp alone does not pass for a signature."""
    emulator.configure(inbound_timestamp=True, dlr_api_key=True)
    sink = tmp_path / "inbound.jsonl"
    config = full_config(
        emulator_url, serve={"path_secret": PATH_SECRET, "sinks": {"jsonl": str(sink)}}
    )
    async with running(config) as (server, _http):
        async with client(emulator_url) as sms:
            await sms.register_webhook(
                DEFAULT_VIRTUAL_NUMBER, f"{server.url}/inbound/{PATH_SECRET}"
            )
            await sms.send(
                "hello", [A], status_report=True, callback=f"{server.url}/delivery/{PATH_SECRET}"
            )
        emulator.inject_inbound(msisdn=B, text="stamped hello")
        assert await eventually(lambda: len(read_jsonl(sink)) == 2)
    kinds = {r["kind"]: r for r in read_jsonl(sink)}
    assert kinds["inbound"]["text"] == "stamped hello"
    assert kinds["delivery"]["outcome"] == "delivered" and "api_key" not in kinds["delivery"]
    assert EMU_API_KEY not in sink.read_text()

    signed = full_config(
        emulator_url,
        serve={
            "path_secret": PATH_SECRET,
            "sinks": {"jsonl": str(tmp_path / "signed.jsonl")},
            "signature_secret": "shared-sig-secret",
        },
    )
    async with running(signed) as (server, _http):
        async with client(emulator_url) as sms:
            await sms.register_webhook(
                DEFAULT_VIRTUAL_NUMBER, f"{server.url}/inbound/{PATH_SECRET}"
            )
        emulator.configure(webhook_max_attempts=1)
        record = emulator.inject_inbound(msisdn=B, text="unsigned")
        assert await eventually(lambda: emulator.inbound[-1]["parts"][0]["state"] == "failed")
    assert record["parts"][0]["payload"]["msisdn"] == B
    assert emulator.inbound[-1]["parts"][0]["attempts"][0]["status"] == 401
    assert read_jsonl(tmp_path / "signed.jsonl") == []


# -- Apigee's token error -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("invalid_client", "token request refused: HTTP 401 invalid_client: ClientId is Invalid"),
        (
            "invalid_request",
            "token request refused: HTTP 401 invalid_request: "
            f"Invalid client id : {EMU_CLIENT_ID}. ClientId is Invalid",
        ),
    ],
)
async def test_refused_credentials_in_either_form_are_an_auth_error(
    emulator: Emulator, emulator_url: str, code: str, message: str
) -> None:
    configure(emulator_url, token_error_code=code)
    sms = KpnSms(EMU_CLIENT_ID, "wrong-secret-value", base_url=emulator_url, sender="KPNAlert")
    async with sms:
        with pytest.raises(KpnAuthError) as info:
            await sms.send("hello", [A])
    assert str(info.value) == message
    assert "wrong-secret-value" not in str(info.value)
    assert emulator.counters["token_requests"] == 1 and emulator.counters["send_requests"] == 0


def test_apigee_token_errors_on_the_wire(emulator: Emulator, emulator_url: str) -> None:
    configure(emulator_url, token_error_code="invalid_request")
    bad = HTTP.post(emulator_url + TOKEN_URL, data={"client_id": "nope", "client_secret": "x"})
    assert bad.status_code == 401
    assert bad.json() == {
        "ErrorCode": "invalid_request",
        "Error": "Invalid client id : nope. ClientId is Invalid",
    }
    missing = HTTP.post(emulator_url + TOKEN_URL, data={"client_secret": "x"})
    assert missing.status_code == 400
    assert missing.json() == {
        "ErrorCode": "invalid_request",
        "Error": "The request is missing a required parameter : client_id",
    }
    configure(emulator_url, token_endpoint_status=401)  # a forced refusal stays a 401
    forced = HTTP.post(emulator_url + TOKEN_URL, data={"client_secret": "x"})
    assert forced.status_code == 401 and forced.json()["ErrorCode"] == "invalid_request"


def test_cli_exits_3_for_apigee_invalid_request(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(token_error_code="invalid_request")
    env = kpn_env(emulator_url, KPN_SMS_CLIENT_SECRET="Wr0ngSecretValue")
    proc = run("send", "--to", "0612345678", "hello", env=env)
    assert proc.returncode == 3
    assert proc.stderr.strip() == (
        "kpn-sms: error: token request refused: HTTP 401 invalid_request: "
        f"Invalid client id : {EMU_CLIENT_ID}. ClientId is Invalid"
    )
    assert "Wr0ngSecretValue" not in proc.stderr + proc.stdout
