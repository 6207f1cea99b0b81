"""The async client against the emulator over 127.0.0.1: auth once, fan-out, retries."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest

from kpn_sms_notify import (
    KpnApiError,
    KpnAuthError,
    KpnConnectionError,
    KpnSms,
    KpnValidationError,
    models,
    protocol,
)
from kpn_sms_notify.emulator import (
    DEFAULT_VIRTUAL_NUMBER,
    EMU_CLIENT_ID,
    EMU_CLIENT_SECRET,
    Emulator,
)
from kpn_sms_notify.models import Token

A, B, C = "31612345678", "31687654321", "31655512345"


def client(url: str, **options: Any) -> KpnSms:
    options.setdefault("sender", "KPNAlert")
    options.setdefault("rate_limit", 200)
    return KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, **options)


async def test_send_to_several_recipients(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url, recipients=["0612345678", "+31687654321"]) as sms:
        report = await sms.send("Disk full on web1", title="[FIRING] DiskFull")
    assert report.ok and [r.recipient for r in report.results] == [f"+{A}", f"+{B}"]
    for result in report.results:
        assert result.status == "0" and not result.truncated and result.attempts == 1
        assert len(result.parts) == 1 and result.message_ids[0]
        assert result.price is not None and result.price > 0
        assert result.network == "20408" and result.remaining_balance is not None
    sent = {m["to"]: m for m in emulator.messages}
    assert set(sent) == {A, B}
    assert sent[A]["text"] == "[FIRING] DiskFull\nDisk full on web1"
    assert sent[A]["from"] == "KPNAlert"
    assert emulator.counters["token_requests"] == 1


async def test_hundred_concurrent_sends_make_one_token_request(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(latency=0.02)
    # storm_cap 0: a hundred texts to one number is the storm the guard holds back.
    async with client(emulator_url, rate_limit=1000, max_concurrency=50, storm_cap=0) as sms:
        reports = await asyncio.gather(*(sms.send(f"alert {i}", [A]) for i in range(100)))
        assert sms.token_requests == 1
    assert all(r.ok for r in reports)
    assert emulator.counters["token_requests"] == 1
    assert emulator.counters["send_requests"] == 100


async def test_long_text_is_billed_per_part_like_the_emulator(
    emulator: Emulator, emulator_url: str
) -> None:
    async with client(emulator_url) as sms:
        report = await sms.send("x" * 200 + "ë", [A], max_parts=5)
    assert report.ok and len(report.results[0].parts) == 3  # UCS-2: 201 units / 67
    assert emulator.messages[0]["parts"] == 3


async def test_over_max_parts_is_truncated_with_a_marker(
    emulator: Emulator, emulator_url: str
) -> None:
    async with client(emulator_url, max_parts=1) as sms:
        report = await sms.send("y" * 500, [A])
    assert report.truncated and report.results[0].truncated
    assert emulator.messages[0]["text"].endswith("...") and emulator.messages[0]["parts"] == 1


@pytest.mark.parametrize("bad", [["0612345678", "12345"], ["not a number"], []])
async def test_bad_number_sends_nothing(
    emulator: Emulator, emulator_url: str, bad: list[str]
) -> None:
    async with client(emulator_url) as sms:
        with pytest.raises(KpnValidationError, match="recipients"):
            await sms.send("hello", bad)
    assert emulator.counters.get("send_requests", 0) == 0
    assert emulator.counters.get("token_requests", 0) == 0


async def test_empty_message_sends_nothing(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url) as sms:
        with pytest.raises(KpnValidationError, match="message: the text is empty"):
            await sms.send("   ", [A])
    assert emulator.counters.get("send_requests", 0) == 0


async def test_bad_credentials(emulator: Emulator, emulator_url: str) -> None:
    sms = KpnSms(EMU_CLIENT_ID, "wrong-secret-value", base_url=emulator_url, sender="KPNAlert")
    async with sms:
        with pytest.raises(KpnAuthError, match="invalid_client") as info:
            await sms.send("hello", [A])
    assert "wrong-secret-value" not in str(info.value)
    assert emulator.counters.get("send_requests", 0) == 0


async def test_unreachable_gateway() -> None:
    async with client("http://127.0.0.1:9", timeout=2) as sms:
        with pytest.raises(KpnConnectionError, match="could not connect"):
            await sms.authenticate()


class Clock:
    """The wall clock the client reads for token lifetimes (models and protocol), set by hand.
    The emulator keeps its own real clock, so its tokens stay valid throughout."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(1_900_000_000.0)
    monkeypatch.setattr(models, "time", fixed)
    monkeypatch.setattr(protocol, "time", fixed)
    return fixed


@pytest.mark.parametrize(("margin", "renew_at"), [(300, 100.0), (60, 60.0)])
async def test_token_renewed_before_expiry(
    emulator: Emulator, emulator_url: str, clock: Clock, margin: float, renew_at: float
) -> None:
    """The margin is token_margin, capped at a quarter of the token's life: a 400 s token
    is renewed when 100 s are left (margin 300), or 60 s (margin 60); not a moment before."""
    emulator.configure(token_ttl=400)
    async with client(emulator_url, token_margin=margin) as sms:
        assert (await sms.send("one", [A])).ok and sms.token_requests == 1
        clock.now += 400 - renew_at - 0.1  # renew_at + 0.1 s left: still fresh
        assert (await sms.send("two", [A])).ok and sms.token_requests == 1
        clock.now += 0.2  # renew_at - 0.1 s left: renewed first
        assert (await sms.send("three", [A])).ok and sms.token_requests == 2
    assert emulator.counters.get("auth_failures", 0) == 0


async def test_stored_token_margin_is_a_quarter_of_what_is_left(
    emulator: Emulator, emulator_url: str, clock: Clock
) -> None:
    """A token from the store counts its life from when it is loaded (the first use): 200 s
    left then gives a margin of 50 s (token_margin 300 capped at a quarter)."""
    emulator.configure(token_ttl=400)
    store = MemoryStore()
    async with client(emulator_url, token_store=store) as first:
        await first.authenticate()
    clock.now += 200
    async with client(emulator_url, token_store=store) as second:
        assert (await second.send("zero", [A])).ok and second.token_requests == 0  # loaded
        clock.now += 149.9  # 50.1 s left
        assert (await second.send("one", [A])).ok and second.token_requests == 0
        clock.now += 0.2  # 49.9 s left
        assert (await second.send("two", [A])).ok and second.token_requests == 1
    assert emulator.counters["token_requests"] == 2


async def test_stored_token_with_under_a_second_left_keeps_the_quarter_margin(
    emulator: Emulator, emulator_url: str, clock: Clock
) -> None:
    """The quarter holds for any life left at load, a fraction of a second too: 0.4 s left
    gives a margin of 0.1 s, so the token serves until 0.1 s are left, not a moment longer."""
    emulator.configure(token_ttl=400)
    store = MemoryStore()
    async with client(emulator_url, token_store=store) as first:
        await first.authenticate()
    clock.now += 399.6  # 0.4 s left on the client's clock (the emulator's token is valid)
    async with client(emulator_url, token_store=store) as second:
        assert (await second.send("zero", [A])).ok and second.token_requests == 0  # loaded
        clock.now += 0.25  # 0.15 s left
        assert (await second.send("one", [A])).ok and second.token_requests == 0
        clock.now += 0.1  # 0.05 s left
        assert (await second.send("two", [A])).ok and second.token_requests == 1


async def test_rejected_token_is_renewed_once_and_the_send_retried(
    emulator: Emulator, emulator_url: str
) -> None:
    async with client(emulator_url) as sms:
        assert (await sms.send("one", [A])).ok
        emulator.expire_tokens()
        report = await sms.send("two", [A, B])
        assert report.ok
        assert sms.token_requests == 2  # one renewal shared by both recipients
    assert emulator.counters["token_requests"] == 2
    assert len(emulator.messages) == 3


async def test_http_429_is_retried_honouring_retry_after(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(script=[{"http": 429}])
    async with client(emulator_url) as sms:
        start = time.monotonic()
        report = await sms.send("hello", [A])
    assert report.ok and report.results[0].attempts == 2
    assert time.monotonic() - start >= 0.9  # the emulator's Retry-After is 1 s


async def test_status_1_throttle_waits_and_retries(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(rate_limit=5, rate_limit_mode="status1")
    async with client(emulator_url, rate_limit=100, retries=8) as sms:
        report = await sms.send(
            "hello",
            [A, B, C, "31655512346", "31655512347", "31655512348", "31655512349", "31655512340"],
        )
    assert report.ok, [r.reason for r in report.failed]
    assert emulator.counters.get("status_1", 0) >= 1
    assert len(emulator.messages) == 8  # no duplicates


@pytest.mark.parametrize(
    "entry",
    [
        {"status": "5"},
        {"status": "13"},
        {"status": "10"},
        {"http": 503},
        {"http": 503, "body": "html"},
    ],
)
async def test_transient_failures_are_retried(
    emulator: Emulator, emulator_url: str, entry: dict[str, Any]
) -> None:
    emulator.configure(script=[entry])
    async with client(emulator_url) as sms:
        report = await sms.send("hello", [A])
    assert report.ok and report.results[0].attempts == 2
    assert len(emulator.messages) == 1


@pytest.mark.parametrize("entry", [{"http": 500}, {"http": 502, "body": "html"}, {"drop": True}])
async def test_ambiguous_failures_are_not_retried_by_default(
    emulator: Emulator, emulator_url: str, entry: dict[str, Any]
) -> None:
    emulator.configure(script=[entry])
    async with client(emulator_url) as sms:
        report = await sms.send("hello", [A])
    result = report.results[0]
    assert not result.ok and result.attempts == 1 and not result.permanent
    assert result.reason


async def test_ambiguous_failures_retried_when_configured(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(script=[{"http": 502}])
    async with client(emulator_url, retry_ambiguous=True) as sms:
        report = await sms.send("hello", [A])
    assert report.ok and report.results[0].attempts == 2


async def test_read_timeout_is_ambiguous(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(script=[{"slow": 3}])
    async with client(emulator_url, timeout=0.5) as sms:
        report = await sms.send("hello", [A])
    result = report.results[0]
    assert not result.ok and "timed out" in (result.reason or "")
    assert result.attempts == 1


async def test_retries_are_bounded(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(script=[{"http": 503, "count": 10}])
    async with client(emulator_url, retries=2) as sms:
        report = await sms.send("hello", [A])
    result = report.results[0]
    assert not result.ok and result.attempts == 3 and "after 3 attempts" in (result.reason or "")


async def test_permanent_failure_for_one_recipient_others_accepted(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(forced_status={B: "29"})
    async with client(emulator_url) as sms:
        report = await sms.send("hello", [A, B, C])
    assert not report.ok
    assert [r.recipient for r in report.accepted] == [f"+{A}", f"+{C}"]
    (failed,) = report.failed
    assert failed.recipient == f"+{B}" and failed.error is not None
    assert failed.status == "29" and failed.permanent and failed.attempts == 1
    assert B not in (failed.reason or "") and "Non-Whitelisted" in (failed.reason or "")


async def test_one_recipients_refusal_does_not_stop_the_next_one(
    emulator: Emulator, emulator_url: str
) -> None:
    """Only a missing SMS product halts a batch; a refused number does not (one at a time,
    so the next recipient is tried after the refusal)."""
    emulator.configure(forced_status={B: "29"})
    async with client(emulator_url, max_concurrency=1) as sms:
        report = await sms.send("hello", [A, B, C])
    assert [r.ok for r in report.results] == [True, False, True]
    assert [m["to"] for m in emulator.messages] == [A, C]


async def test_rate_limit_spaces_requests(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url, rate_limit=20) as sms:
        start = time.monotonic()
        report = await sms.send("hello", [f"3165551234{i}" for i in range(10)])
        elapsed = time.monotonic() - start
    assert report.ok
    assert elapsed >= 9 / 20 * 0.9  # ten requests at 20/s need at least 0.45 s


async def test_borrowed_http_client_is_not_closed(emulator_url: str) -> None:
    async with httpx.AsyncClient() as http:
        async with client(emulator_url, http_client=http) as sms:
            assert (await sms.send("hello", [A])).ok
        assert not http.is_closed


async def test_duplicate_recipients_are_texted_once(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url) as sms:
        report = await sms.send("hello", ["0612345678", "+31612345678", "0031612345678"])
    assert len(report.results) == 1 and len(emulator.messages) == 1


async def test_register_webhook_and_number_update(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url) as sms:
        message = await sms.register_webhook("0612345678", "https://example.org/inbound")
        assert "registered" in message
        with pytest.raises(KpnValidationError, match="callback_url"):
            await sms.register_webhook("0612345678", "http://example.org/inbound")


async def test_sunset_header_warns_once(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.configure(sunset="2027-06-30")
    caplog.set_level(logging.WARNING, logger="kpn_sms_notify")
    async with client(emulator_url) as sms:
        await sms.send("one", [A])
        await sms.send("two", [A])
    warnings = [r for r in caplog.records if "sunset" in r.getMessage()]
    assert len(warnings) == 1 and "2027-06-30" in warnings[0].getMessage()


async def test_debug_logs_hide_secrets_and_numbers(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with client(emulator_url) as sms:
        token = await sms.authenticate()
        await sms.send("hello", [A])
    text = caplog.text + repr(sms) + repr(token) + str(token)
    assert "HTTP 200" in caplog.text  # the answers were logged
    assert EMU_CLIENT_SECRET not in text and token.access_token not in text
    assert A not in text


async def test_exhausted_quota_fails_fast_with_the_reason(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(quota_limit=2, quota_interval=1, quota_time_unit="hour")
    async with client(emulator_url, retry_budget=5) as sms:
        start = time.monotonic()
        report = await sms.send("hello", [A, B, C])
    # two sends use the quota up; the third would wait for the hourly reset: not retried
    assert time.monotonic() - start < 5
    assert len(report.accepted) == 2 and len(report.failed) == 1
    assert all("HTTP 429" in (r.reason or "") for r in report.failed)


async def test_title_without_message_is_refused(emulator: Emulator, emulator_url: str) -> None:
    async with client(emulator_url) as sms:
        with pytest.raises(KpnValidationError, match="message: the text is empty"):
            await sms.send("", [A], title="only a title")
    assert emulator.counters.get("send_requests", 0) == 0


async def test_debug_logs_hide_webhook_paths(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kpn_sms_notify")
    secret_path = "https://ha.example.org/api/webhook/Zq9secretWebhookId"
    async with client(emulator_url) as sms:
        await sms.register_webhook("0612345678", secret_path)
        await sms.send("hi", [A], callback="https://ha.example.org/api/webhook/Zq9secretDlr")
    assert "ha.example.org/***" in caplog.text
    assert "Zq9secret" not in caplog.text


async def test_a_foreign_number_keeps_its_country(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 11: the report names "+49 201 0000" with "+" (bare "492010000" reads back as the
    # Dutch 0492 010000); the request carries the digits without "+".
    caplog.set_level(logging.DEBUG, logger="kpn_sms_notify")
    async with client(emulator_url) as sms:
        report = await sms.send("Hallo", ["+49 201 0000"])
        again = await sms.send("Hallo", [report.results[0].recipient])
    assert [r.recipient for r in report.results + again.results] == ["+492010000"] * 2
    assert report.results[0].masked == "+492****00"
    assert [m["to"] for m in emulator.messages] == ["492010000", "492010000"]
    assert "492010000" not in caplog.text  # masked in the DEBUG log too


class MemoryStore:
    def __init__(self) -> None:
        self.token: Token | None = None

    def load(self) -> Token | None:
        return self.token

    def save(self, token: Token) -> None:
        self.token = token


# -- token endpoint, gateway faults, refusals (issue 19) ---------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_busy_token_endpoint_is_transient_not_an_auth_failure(
    emulator: Emulator, emulator_url: str, status: int
) -> None:
    """A JSON 5xx or 429 from the token endpoint says nothing about the credentials."""
    emulator.configure(script=[{"path": "token", "http": status}])
    async with client(emulator_url) as sms:
        with pytest.raises(KpnConnectionError) as caught:
            await sms.authenticate()
        assert type(caught.value) is KpnConnectionError and not caught.value.sent
        await sms.authenticate()  # the next request gets its token


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_renewal_hitting_a_busy_token_endpoint_is_retried(
    emulator: Emulator, emulator_url: str, status: int
) -> None:
    """Mid-batch, a rejected token's renewal meets a busy token endpoint: a transient
    failure, retried, so the text still goes out (serve would otherwise drop the alert)."""
    async with client(emulator_url, retries=2) as sms:
        await sms.authenticate()
        emulator.expire_tokens()
        emulator.configure(script=[{"path": "token", "http": status}])
        report = await sms.send("Disk full", [A])
    assert report.ok and report.results[0].attempts == 3, report.results[0].reason
    assert [m["to"] for m in emulator.messages] == [A]


async def test_http_504_on_send_is_ambiguous_not_failed(
    emulator: Emulator, emulator_url: str
) -> None:
    """A 504 may come after the text went out: not retried by default (it could text the
    person twice), and not a permanent failure; retried only with retry_ambiguous."""
    emulator.configure(script=[{"http": 504, "after_send": True}])
    async with client(emulator_url) as sms:
        (result,) = (await sms.send("Disk full", [A])).results
    assert not result.ok and not result.permanent and result.attempts == 1
    assert "HTTP 504" in (result.reason or "")
    emulator.configure(script=[{"http": 504}])
    async with client(emulator_url, retry_ambiguous=True) as sms:
        (result,) = (await sms.send("Disk full", [A])).results
    assert result.ok and result.attempts == 2


async def test_gateway_fault_is_not_taken_for_a_token_rejection(
    emulator: Emulator, emulator_url: str
) -> None:
    """An Apigee fault envelope on a 500 that is not about the token: no renewal, and no
    resend after an answer that may follow an accepted text."""
    emulator.configure(script=[{"http": 500, "body": "apigee", "after_send": True}])
    async with client(emulator_url) as sms:
        (result,) = (await sms.send("Disk full", [A])).results
        assert sms.token_requests == 1
    assert not result.ok and result.attempts == 1 and not result.permanent
    assert emulator.counters["send_requests"] == 1 and len(emulator.messages) == 1


REGISTER_PATH = "/communication/nexmo/sms/register"
UPDATE_PATH = "/communication/nexmo/phone-numbers/number/update"


@pytest.mark.parametrize(("status", "error"), [(400, KpnApiError), (401, KpnAuthError)])
async def test_refused_register_or_number_update_never_reads_as_success(
    emulator: Emulator, emulator_url: str, status: int, error: type[Exception]
) -> None:
    emulator.configure(forced_http={REGISTER_PATH: status, UPDATE_PATH: status})
    async with client(emulator_url) as sms:
        with pytest.raises(error, match=f"HTTP {status}"):
            await sms.register_webhook(A, "https://example.org/inbound")
        with pytest.raises(error, match=f"HTTP {status}"):
            await sms.update_number("NL", DEFAULT_VIRTUAL_NUMBER, "")


async def test_register_and_number_update_renew_a_rejected_token(
    emulator: Emulator, emulator_url: str
) -> None:
    async with client(emulator_url) as sms:
        await sms.authenticate()
        emulator.expire_tokens()
        assert await sms.register_webhook(A, "https://example.org/inbound")
        assert sms.token_requests == 2
        emulator.expire_tokens()
        await sms.update_number("NL", DEFAULT_VIRTUAL_NUMBER, "")
        assert sms.token_requests == 3
    assert emulator.counters["auth_failures"] == 2


async def test_unicode_never_sends_gsm7_accented_letters_unchanged(
    emulator: Emulator, emulator_url: str
) -> None:
    async with client(emulator_url, unicode="never") as sms:
        assert (await sms.send("Café über Ärger, año Ñandú, § 5 à 6 – ça", [A])).ok
    (sent,) = emulator.messages
    assert sent["text"] == "Café über Ärger, año Ñandu, § 5 à 6 - ca" and sent["type"] == "text"


# -- what send() puts on the wire: the configured options, and each send's own ------------

DLR_URL = "https://example.org/dlr"


async def test_configured_options_reach_the_wire(emulator: Emulator, emulator_url: str) -> None:
    """Nothing given to send(): the configured recipients (read in the configured region),
    sender, ttl, client_ref and callback, which turns delivery receipts on."""
    configured = {"recipients": ["030 12345678"], "region": "DE", "sender": "Config"}
    async with client(
        emulator_url, **configured, ttl=60000, callback=DLR_URL, client_ref="cfg"
    ) as sms:
        report = await sms.send("hello")
        assert report.ok and report.text == "hello" and not report.truncated
        assert (await sms.send("hi", f"+{A}")).ok  # one recipient as a string, not the list
        assert (await sms.send("hallo", ["030 87654321"])).ok  # read in the configured region
    first, second, third = emulator.messages
    assert (first["to"], second["to"], third["to"]) == ("493012345678", A, "493087654321")
    assert first["from"] == "Config" and first["ttl"] == 60000 and first["client_ref"] == "cfg"
    assert first["callback"] == DLR_URL and first["status_report_req"] is True


async def test_each_sends_options_win_over_the_configured_ones(
    emulator: Emulator, emulator_url: str
) -> None:
    configured: dict[str, Any] = {
        "sender": "Config",
        "max_parts": 1,
        "overflow": "truncate",
        "unicode": "always",
        "status_report": True,
        "client_ref": "cfg",
        "callback": DLR_URL,
    }
    text = "Zoë " + "x" * 196  # 200 GSM-7 septets (2 parts) once "ë" is transliterated
    async with client(emulator_url, **configured) as sms:
        report = await sms.send(
            text,
            [A],
            sender="Mine",
            max_parts=2,
            unicode="never",
            status_report=False,
            client_ref="mine",
            callback="https://example.org/other",
        )
        assert report.ok and report.text == "Zoe " + "x" * 196 and not report.truncated
        with pytest.raises(KpnValidationError, match="over max_parts 1") as caught:
            await sms.send("x" * 400, [A], overflow="fail")
        assert caught.value.field == "message"
    (sent,) = emulator.messages
    assert (sent["from"], sent["type"], sent["parts"]) == ("Mine", "text", 2)
    assert sent["client_ref"] == "mine" and sent["callback"] == "https://example.org/other"
    assert sent["status_report_req"] is False  # asked off, despite the callback


@pytest.mark.parametrize(
    ("configured", "given", "asked"),
    [(False, None, False), (False, True, True), (True, None, True)],
)
async def test_delivery_receipts_are_asked_for_only_when_wanted(
    emulator: Emulator, emulator_url: str, configured: bool, given: bool | None, asked: bool
) -> None:
    async with client(emulator_url, status_report=configured) as sms:
        assert (await sms.send("hello", [A], status_report=given)).ok
    (sent,) = emulator.messages
    assert sent["status_report_req"] is asked and sent["callback"] is None


@pytest.mark.parametrize(
    ("options", "message", "recipients", "error", "field", "value"),
    [
        ({}, 42, [A], "message: expected text, got int", "message", None),
        ({}, " \n ", [A], "message: the text is empty", "message", " \n "),
        ({}, "hello", None, "recipients: no recipients given or configured", "recipients", None),
        (
            {"sender": None},
            "hello",
            [A],
            "sender: no sender ID given or configured",
            "sender",
            None,
        ),
    ],
)
async def test_bad_send_input_names_the_field_and_sends_nothing(
    emulator: Emulator,
    emulator_url: str,
    options: dict[str, Any],
    message: Any,
    recipients: list[str] | None,
    error: str,
    field: str,
    value: Any,
) -> None:
    async with client(emulator_url, **options) as sms:
        with pytest.raises(KpnValidationError) as caught:
            await sms.send(message, recipients)
    assert (str(caught.value), caught.value.field, caught.value.value) == (error, field, value)
    assert emulator.counters.get("token_requests", 0) == 0


async def test_a_partly_sent_text_keeps_its_accepted_part_and_is_not_resent(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(partial_status={A: "5"})
    async with client(emulator_url, max_parts=3) as sms:
        (result,) = (await sms.send("x" * 400, [A])).results
    assert not result.ok and result.partly_sent and result.permanent and result.attempts == 1
    assert len(result.parts) == 1 and result.message_ids == tuple(
        emulator.messages[0]["message_ids"]
    )
    assert result.status == "5" and "partly sent: 1 of 3 parts accepted" in (result.reason or "")
    assert emulator.counters["send_requests"] == 1
