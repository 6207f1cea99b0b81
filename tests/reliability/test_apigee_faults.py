"""Apigee's answers that are not about the text (issue 11), through every host against the
emulator on 127.0.0.1:

- a rate-limit fault (`policies.ratelimit.QuotaViolation` / `SpikeArrestViolation`) is a
  throttle on any status, 500 included: nothing was sent, so it is retried after the quota
  window (or at least a second), pausing every send of the client;
- a 401 for a missing API product is a configuration error that says what to do: no token
  renewal per recipient, and the notification fails as a whole like a refused login.

The fault matrix (test_faults.py) runs the same faults through every host once more.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kpn_sms_notify import KpnAuthError, KpnProductError, KpnSms, KpnSmsSync
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

from .support import (
    Row,
    Run,
    accepted_counts,
    apprise_send,
    check_run,
    cli_send,
    run_cli,
    running_serve,
    serve_raw,
    serve_send,
    write_cli_config,
)

TWELVE = [f"316555{n:05d}" for n in range(12)]
# serve answers /notify for allowed numbers only, at most 10 a request: these batches are 12.
TWELVE_ALLOWED: dict[str, Any] = {"notify": {"allow": TWELVE, "max_recipients": len(TWELVE)}}
ADVICE = "add the SMS product to this app in KPN's API Store"
# "A 4/s Apigee-style 500 quota", two ways: a token bucket answered with the bare fault (no
# hint: the client's own wait decides), and Apigee's Quota per second, whose quota-* headers
# name the window's reset.
FOUR_A_SECOND = {
    "bare-fault": {"rate_limit": 4, "rate_limit_mode": "quota500"},
    "quota-headers": {
        "quota_limit": 4,
        "quota_interval": 1,
        "quota_time_unit": "second",
        "quota_mode": "quota500",
    },
}
NO_SMS_PRODUCT = {"api_products": ["phone-numbers-nexmo"]}
BOTH_PRODUCTS = {"api_products": ["sms-nexmo", "phone-numbers-nexmo"]}


def client(url: str, **options: Any) -> KpnSms:
    return KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert", **options)


def sync_client(url: str, **options: Any) -> KpnSmsSync:
    return KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert", **options)


def each_once(emulator: Emulator, numbers: list[str]) -> None:
    sent = accepted_counts(emulator)
    assert {n: sent[n] for n in numbers} == dict.fromkeys(numbers, 1), sent


# ------------------------------------------------------------------ throttles, the library


@pytest.mark.parametrize("status", [500, 429])
@pytest.mark.parametrize("body", ["quota", "spike"])
async def test_ratelimit_fault_is_retried_after_a_second(
    emulator: Emulator, emulator_url: str, status: int, body: str
) -> None:
    emulator.configure(script=[{"http": status, "body": body}])
    async with client(emulator_url) as sms:
        start = time.monotonic()
        report = await sms.send("throttled once", [TWELVE[0]])
    assert report.ok and report.results[0].attempts == 2
    assert time.monotonic() - start >= 0.9  # no hint in the fault: at least a second
    assert sms.session.retries == 1
    each_once(emulator, [TWELVE[0]])


@pytest.mark.parametrize("status", [500, 429])
def test_ratelimit_fault_is_retried_sync(
    emulator: Emulator, emulator_url: str, status: int
) -> None:
    emulator.configure(script=[{"http": status, "body": "spike"}])
    with sync_client(emulator_url) as sms:
        report = sms.send("throttled once", [TWELVE[0]])
    assert report.ok and report.results[0].attempts == 2
    each_once(emulator, [TWELVE[0]])


@pytest.mark.parametrize("knobs", FOUR_A_SECOND.values(), ids=FOUR_A_SECOND.keys())
async def test_twelve_through_a_four_per_second_500_quota(
    emulator: Emulator, emulator_url: str, knobs: dict[str, Any]
) -> None:
    """The issue's case with the client's defaults: all 12 accepted, nobody twice."""
    emulator.configure(**knobs)
    async with client(emulator_url) as sms:
        report = await sms.send("quota", TWELVE)
    assert report.ok, [r.reason for r in report.failed]
    assert emulator.counters["throttle_faults"] >= 1  # the quota did bite
    each_once(emulator, TWELVE)


@pytest.mark.parametrize("knobs", FOUR_A_SECOND.values(), ids=FOUR_A_SECOND.keys())
def test_twelve_through_a_four_per_second_500_quota_sync(
    emulator: Emulator, emulator_url: str, knobs: dict[str, Any]
) -> None:
    emulator.configure(**knobs)
    with sync_client(emulator_url) as sms:
        report = sms.send("quota", TWELVE)
    assert report.ok, [r.reason for r in report.failed]
    assert emulator.counters["throttle_faults"] >= 1
    each_once(emulator, TWELVE)


async def test_exhausted_quota_fault_waits_for_the_window_in_its_headers(
    emulator: Emulator, emulator_url: str
) -> None:
    """An hourly quota used up: the quota-* headers say the window resets beyond the retry
    budget, so the client stops at once instead of retrying into the same refusal."""
    emulator.configure(quota_limit=2, quota_time_unit="hour", quota_mode="quota500")
    async with client(emulator_url, retry_budget=5, max_concurrency=1) as sms:
        report = await sms.send("quota", TWELVE[:3])
    [failed] = report.failed
    assert failed.attempts == 1 and not failed.permanent
    assert "HTTP 500 policies.ratelimit.QuotaViolation" in (failed.reason or "")
    assert len(emulator.messages) == 2


# ------------------------------------------------------------------ missing product, library


async def test_missing_sms_product_fails_the_notification_without_renewing(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(**NO_SMS_PRODUCT)
    async with client(emulator_url, max_concurrency=1) as sms:
        with pytest.raises(KpnProductError, match=ADVICE) as caught:
            await sms.send("hello", TWELVE[:5])
        assert isinstance(caught.value, KpnAuthError)  # hosts treat it as refused access
        assert "\n" not in str(caught.value) and "316" not in str(caught.value)
        assert sms.token_requests == 1
    # One refusal halts the batch: the other four would get the same answer.
    assert emulator.counters["product_refusals"] == 1
    assert emulator.counters["token_requests"] == 1 and emulator.messages == []


async def test_missing_sms_product_concurrent_recipients_renew_nothing(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(**NO_SMS_PRODUCT)
    async with client(emulator_url) as sms:
        with pytest.raises(KpnProductError):
            await sms.send("hello", TWELVE)
    assert emulator.counters["token_requests"] == 1
    assert 1 <= emulator.counters["product_refusals"] <= 10  # at most those in flight


def test_missing_sms_product_sync(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(**NO_SMS_PRODUCT)
    with sync_client(emulator_url) as sms:
        with pytest.raises(KpnProductError, match=ADVICE):
            sms.send("hello", TWELVE[:4])
        assert sms.token_requests == 1
    assert emulator.counters["token_requests"] == 1 and emulator.messages == []


async def test_missing_sms_product_on_register(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(**NO_SMS_PRODUCT)
    async with client(emulator_url) as sms:
        with pytest.raises(KpnProductError, match=ADVICE):
            await sms.register_webhook(TWELVE[0], "https://example.com/inbound")
        assert sms.token_requests == 1


async def test_check_access_finds_a_missing_product_and_texts_nobody(
    emulator: Emulator, emulator_url: str
) -> None:
    async with client(emulator_url) as sms:
        await sms.check_access()  # the product is there: no error
        emulator.configure(**NO_SMS_PRODUCT)
        with pytest.raises(KpnProductError, match=ADVICE):
            await sms.check_access()
        emulator.configure(**BOTH_PRODUCTS)
        emulator.expire_tokens()
        await sms.check_access()  # a rejected token is renewed once, as for any call
        assert sms.token_requests == 2
    assert emulator.counters["product_refusals"] == 1
    assert emulator.messages == [] and emulator.counters["rejected"] == 2  # status 2


def test_check_access_sync(emulator: Emulator, emulator_url: str) -> None:
    with sync_client(emulator_url) as sms:
        sms.check_access()
        emulator.configure(**NO_SMS_PRODUCT)
        with pytest.raises(KpnProductError, match=ADVICE):
            sms.check_access()
    assert emulator.messages == [] and emulator.counters["token_requests"] == 1


class DropProductAfter(threading.Thread):
    """Take the SMS product away once the emulator has accepted `after` texts."""

    def __init__(self, emulator: Emulator, after: int) -> None:
        super().__init__(daemon=True)
        self.emulator, self.after = emulator, after
        self.fired = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.emulator.counters["accepted"] >= self.after:
                self.emulator.configure(**NO_SMS_PRODUCT)
                self.fired.set()
                return
            time.sleep(0.002)


async def test_product_taken_away_mid_batch_reports_the_rest(
    emulator: Emulator, emulator_url: str
) -> None:
    """Some texts went out: the report stands (nothing raised), the rest carry the product
    error, are not texted, and are not marked permanent (they go through once fixed)."""
    emulator.configure(latency=0.05)
    DropProductAfter(emulator, after=2).start()
    async with client(emulator_url, max_concurrency=1) as sms:
        report = await sms.send("mid batch", TWELVE[:6])
    assert len(report.accepted) >= 2 and report.failed
    assert all(isinstance(r.error, KpnProductError) and not r.permanent for r in report.failed)
    assert emulator.counters["product_refusals"] == 1  # the rest were not tried
    assert [r.attempts for r in report.failed][1:] == [0] * (len(report.failed) - 1)
    assert emulator.counters["token_requests"] == 1
    rows = [
        Row(r.recipient, r.ok, r.reason, r.message_ids if r.ok else None) for r in report.results
    ]
    check_run(Run("library", rows), emulator, TWELVE[:6])


# ------------------------------------------------------------------ the CLI


@pytest.mark.parametrize("knobs", FOUR_A_SECOND.values(), ids=FOUR_A_SECOND.keys())
def test_cli_twelve_through_a_four_per_second_500_quota(
    emulator: Emulator, emulator_url: str, tmp_path: Path, knobs: dict[str, Any]
) -> None:
    """Done when: `kpn-sms send` to 12 numbers through a 4/s Apigee-style 500 quota delivers
    all 12, none twice (the CLI's defaults; the real command in a subprocess)."""
    config = write_cli_config(tmp_path / "kpn.yaml", emulator_url)
    emulator.configure(**knobs)
    run = cli_send(config, TWELVE, "quota")
    assert run.code == 0, run.output
    assert len(run.rows) == 12 and all(r.ok for r in run.rows), run.output
    assert emulator.counters["throttle_faults"] >= 1
    check_run(run, emulator, TWELVE)
    each_once(emulator, TWELVE)


def test_cli_missing_sms_product_exits_3(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    config = write_cli_config(tmp_path / "kpn.yaml", emulator_url)
    emulator.configure(**NO_SMS_PRODUCT)
    run = cli_send(config, TWELVE[:3], "hello")
    assert run.code == 3, run.output
    assert run.error is not None and ADVICE in run.error and "\n" not in run.error
    assert "Traceback" not in run.output
    assert emulator.counters["token_requests"] == 1 and emulator.messages == []


def test_cli_token_says_when_the_app_lacks_the_sms_product(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """`kpn-sms token` checks the API too: KPN issues tokens to an app without the product."""
    config = write_cli_config(tmp_path / "kpn.yaml", emulator_url)
    ok = run_cli("--config", str(config), "token")
    assert ok.returncode == 0 and "SMS API open" in ok.stdout, ok.stderr
    emulator.configure(**NO_SMS_PRODUCT)
    refused = run_cli("--config", str(config), "token")
    assert refused.returncode == 3 and ADVICE in refused.stderr, refused.stderr
    assert "credentials OK" not in refused.stdout and "Traceback" not in refused.stderr
    assert emulator.messages == []  # the check texts nobody


# ------------------------------------------------------------------ kpn-sms serve


async def test_serve_throttled_batch_is_all_sent(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    async with running_serve(serve_raw(emulator_url, tmp_path, serve=TWELVE_ALLOWED)) as url:
        emulator.configure(**FOUR_A_SECOND["bare-fault"])
        run = await serve_send(url, TWELVE, "quota")
    assert run.code == 200 and all(r.outcome == "sent" for r in run.rows), run.output
    check_run(run, emulator, TWELVE)
    each_once(emulator, TWELVE)


async def test_serve_throttled_past_the_budget_asks_for_a_retry(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """An hourly quota used up (Apigee's 500 fault): those not texted are a transient
    failure (503, "retry"), not a permanent one, and the sender's retry texts only them."""
    raw = serve_raw(
        emulator_url,
        tmp_path,
        client={"retry_budget": 5, "max_concurrency": 1},
        serve=TWELVE_ALLOWED,
    )
    async with running_serve(raw) as url:
        emulator.configure(quota_limit=1, quota_time_unit="hour", quota_mode="quota500")
        run = await serve_send(url, TWELVE[:3], "page")
        assert run.code == 503, run.output
        owed = [r for r in run.rows if not r.ok]
        assert len(owed) == 2 and all(r.outcome == "retry" for r in owed), run.output
        assert all("policies.ratelimit.QuotaViolation" in (r.reason or "") for r in owed)
        emulator.configure(quota_limit=100000, quota_time_unit="day")
        retry = await serve_send(url, TWELVE[:3], "page")
    assert retry.code == 200, retry.output
    each_once(emulator, TWELVE[:3])


async def test_serve_missing_sms_product_asks_for_a_retry(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """Nothing sent: 503 so Alertmanager retries; once the product is added, that retry
    texts everyone once."""
    async with running_serve(serve_raw(emulator_url, tmp_path, serve=TWELVE_ALLOWED)) as url:
        emulator.configure(**NO_SMS_PRODUCT)
        run = await serve_send(url, TWELVE[:3], "page")
        assert run.code == 503, run.output
        assert all(r.outcome == "retry" and ADVICE in (r.reason or "") for r in run.rows)
        assert emulator.messages == []
        emulator.configure(**BOTH_PRODUCTS)
        retry = await serve_send(url, TWELVE[:3], "page")
    assert retry.code == 200, retry.output
    each_once(emulator, TWELVE[:3])
    assert emulator.counters["token_requests"] == 1


# ------------------------------------------------------------------ Apprise (sync client)


def test_apprise_throttled_batch_is_all_sent(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(**FOUR_A_SECOND["bare-fault"])
    run = apprise_send(emulator_url, TWELVE[:8], "quota")
    assert run.code == 0 and all(r.ok for r in run.rows), run.output
    assert emulator.counters["throttle_faults"] >= 1
    each_once(emulator, TWELVE[:8])


def test_apprise_throttled_past_the_budget_says_so(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(quota_limit=1, quota_time_unit="hour", quota_mode="quota500")
    run = apprise_send(emulator_url, TWELVE[:2], "quota", retry_budget=5, max_concurrency=1)
    assert run.code == 1 and len(run.failed()) == 1, run.output
    assert "throttled, not sent" in run.output  # the summary: not "refused", not ambiguous
    assert len(emulator.messages) == 1


def test_apprise_missing_sms_product(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(**NO_SMS_PRODUCT)
    run = apprise_send(emulator_url, TWELVE[:3], "hello")
    assert run.code == 1 and all(ADVICE in (r.reason or "") for r in run.rows), run.output
    assert "SMS product missing" in run.output  # the summary names the fix, not "credentials"
    assert emulator.counters["token_requests"] == 1 and emulator.messages == []
