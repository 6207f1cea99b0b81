"""kpnsms:// sending, in-process, against the emulator over 127.0.0.1.

Success, a failure per status class (each read from the answer body, HTTP 200 included),
the token shared across Apprise objects, apprise ?retry= never texting anyone twice, and
what lands in the logs (per-target warnings, one ERROR line, no secrets, masked numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from apprise import Apprise, NotifyBase

from kpn_sms_notify.apprise_plugin import NotifyKpnSms, register
from kpn_sms_notify.apprise_support import PROCESS_GUARDS, PROCESS_TOKENS
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

A, B = "31612345678", "31687654321"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    register()
    PROCESS_TOKENS.clear()
    PROCESS_GUARDS.clear()
    yield
    PROCESS_TOKENS.clear()
    PROCESS_GUARDS.clear()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # secrets must stay out at every level
    return caplog


def kpn_url(base: str, *targets: str, secret: str = EMU_CLIENT_SECRET, extra: str = "") -> str:
    path = "/".join(targets or ("0612345678", "+31687654321"))
    return f"kpnsms://{EMU_CLIENT_ID}:{secret}@KPNAlert/{path}?base_url={base}{extra}"


def notify(url: str, body: str = "Disk full", title: str = "") -> bool:
    notifier = Apprise()
    assert notifier.add(url), url
    return bool(notifier.notify(body=body, title=title))


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def assert_no_secrets(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (EMU_CLIENT_SECRET, *secrets):
        assert secret not in text
    for number in (A, B):
        assert number not in text


def test_notify_texts_both_numbers(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    assert notify(kpn_url(emulator_url), "Disk full", "web1") is True
    assert [m["text"] for m in emulator.inbox(A)] == ["web1\nDisk full"]
    assert [m["text"] for m in emulator.inbox(B)] == ["web1\nDisk full"]
    assert emulator.messages[0]["from"] == "KPNAlert"
    assert emulator.counters["token_requests"] == 1
    assert errors(logs) == []
    token = PROCESS_TOKENS.get(PROCESS_TOKENS.key(emulator_url, EMU_CLIENT_ID, EMU_CLIENT_SECRET))
    assert token is not None
    assert_no_secrets(logs, token.access_token)


def test_a_foreign_number_is_texted_in_its_own_country(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    # Issue 11: the URL that url() gives for "+49 201 0000" must text Germany, not the Dutch
    # 0492 010000, when Apprise API stores it and instantiates it again.
    first = Apprise.instantiate(kpn_url(emulator_url, "+49%20201%200000"))
    assert notify(first.url(), "Disk full") is True
    assert [m["to"] for m in emulator.messages] == ["492010000"]  # the wire has no "+"
    assert emulator.inbox("31492010000") == []
    assert "Sent KPN SMS to +492****00" in logs.text


async def test_async_notify(emulator: Emulator, emulator_url: str) -> None:
    notifier = Apprise()
    assert notifier.add(kpn_url(emulator_url))
    assert bool(await notifier.async_notify(body="Disk full")) is True
    assert len(emulator.inbox(A)) == 1 and len(emulator.inbox(B)) == 1

    emulator.configure(forced_status={B: "29"})  # not on the demo account's whitelist
    assert bool(await notifier.async_notify(body="again")) is False
    assert len(emulator.inbox(A)) == 2 and len(emulator.inbox(B)) == 1


def test_token_shared_by_every_apprise_object_in_the_process(
    emulator: Emulator, emulator_url: str
) -> None:
    for _ in range(3):
        assert notify(kpn_url(emulator_url, "0612345678")) is True
    assert len(emulator.inbox(A)) == 3
    assert emulator.counters["token_requests"] == 1


def test_persistent_store_keeps_the_token_for_a_new_process(
    emulator: Emulator, emulator_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from apprise import AppriseAsset

    url = kpn_url(emulator_url, "0612345678")
    first = Apprise(asset=AppriseAsset(storage_path=str(tmp_path)))
    assert first.add(url) and first.notify(body="one")
    PROCESS_TOKENS.clear()  # what a new process starts with
    second = Apprise(asset=AppriseAsset(storage_path=str(tmp_path)))
    assert second.add(url) and second.notify(body="two")
    assert emulator.counters["token_requests"] == 1
    assert list(tmp_path.rglob("*.psdata"))

    # Control: without a storage path a fresh process has to ask again.
    PROCESS_TOKENS.clear()
    assert notify(url, "three")
    assert emulator.counters["token_requests"] == 2


# -- one failure per status class ------------------------------------------------------


def test_permanent_status_inside_http_200_is_a_failure(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    emulator.configure(forced_status={B: "3"})  # HTTP 200, messages[0].status "3"
    assert notify(kpn_url(emulator_url)) is False
    assert len(emulator.inbox(A)) == 1 and emulator.inbox(B) == []
    failed = [w for w in warnings(logs) if w.startswith("Failed to send KPN SMS")]
    assert failed == [f"Failed to send KPN SMS to +316******21: {failed[0].split(': ', 1)[1]}"]
    assert "status 3" in failed[0]
    assert errors(logs) == [
        "KPN SMS notification failed for 1 of 2 recipient(s): +316******21 status 3"
    ]
    assert_no_secrets(logs)


@pytest.mark.parametrize("throttle", [{"status": "1"}, {"http": 429}])
def test_throttling_is_retried_and_succeeds(
    emulator: Emulator,
    emulator_url: str,
    throttle: dict[str, object],
    logs: pytest.LogCaptureFixture,
) -> None:
    emulator.configure(script=[throttle])
    assert notify(kpn_url(emulator_url, "0612345678")) is True
    assert len(emulator.inbox(A)) == 1
    assert emulator.counters["send_requests"] == 2
    assert errors(logs) == []


def test_server_error_503_is_retried_then_reported(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    emulator.configure(script=[{"http": 503, "count": 5}])
    assert notify(kpn_url(emulator_url, "0612345678", extra="&retries=1")) is False
    assert emulator.counters["send_requests"] == 2  # first try + one retry
    assert emulator.inbox(A) == []
    assert len(errors(logs)) == 1 and "1 of 1" in errors(logs)[0]


def test_server_error_500_is_not_retried(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    # A 500 after the request went out is ambiguous: a retry might text the person twice.
    emulator.configure(script=[{"http": 500}])
    assert notify(kpn_url(emulator_url, "0612345678")) is False
    assert emulator.counters["send_requests"] == 1
    assert len(errors(logs)) == 1


def test_bad_credentials(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    assert notify(kpn_url(emulator_url, secret="wrong-secret-value")) is False
    assert emulator.counters["send_requests"] == 0
    failed = [w for w in warnings(logs) if w.startswith("Failed to send KPN SMS")]
    assert len(failed) == 2  # one per target
    assert errors(logs) == [
        "KPN SMS notification failed for 2 of 2 recipient(s): "
        "+316******78 credentials refused; +316******21 credentials refused"
    ]
    assert_no_secrets(logs, "wrong-secret-value")


def test_unreachable_gateway(logs: pytest.LogCaptureFixture) -> None:
    assert notify(kpn_url("http://127.0.0.1:9", "0612345678", extra="&timeout=2")) is False
    assert errors(logs) == [
        "KPN SMS notification failed for 1 of 1 recipient(s): +316******78 gateway unreachable"
    ]


def test_unreachable_gateway_warning_says_why(logs: pytest.LogCaptureFixture) -> None:
    assert notify(kpn_url("http://127.0.0.1:9", "0612345678", extra="&timeout=2")) is False
    assert warnings(logs) == [
        "Failed to send KPN SMS to +316******78: token request: could not connect to the "
        "gateway: connection refused by 127.0.0.1:9"
    ]


def test_invalid_target_is_reported_and_the_rest_texted(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    assert notify(kpn_url(emulator_url, "0612345678", "12345")) is False
    assert len(emulator.inbox(A)) == 1
    assert emulator.counters["send_requests"] == 1
    assert any("not a valid phone number" in w for w in warnings(logs))
    assert errors(logs) == [
        "KPN SMS notification failed for 1 of 2 recipient(s): ***** invalid number"
    ]


def test_text_over_max_parts_fails_when_asked_to(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    url = kpn_url(emulator_url, "0612345678", extra="&max_parts=1&sms_overflow=fail")
    assert notify(url, "x" * 200) is False
    assert emulator.counters["send_requests"] == 0
    assert len(errors(logs)) == 1


def test_long_text_is_truncated_visibly_by_default(emulator: Emulator, emulator_url: str) -> None:
    assert notify(kpn_url(emulator_url, "0612345678", extra="&max_parts=1"), "x" * 200) is True
    (message,) = emulator.inbox(A)
    assert message["text"].endswith("...") and len(message["text"]) == 160


# -- apprise ?retry= ---------------------------------------------------------------------

needs_retry = pytest.mark.skipif(
    not hasattr(NotifyBase, "is_delivered"), reason="apprise < 2.0 has no ?retry="
)


@needs_retry
def test_retry_never_texts_an_accepted_target_again(emulator: Emulator, emulator_url: str) -> None:
    # Status 5 (gateway internal error) is worth another try; retries=0 leaves that to
    # apprise's ?retry=, which must then only resend to the failed number.
    emulator.configure(forced_status={B: "5"})
    assert notify(kpn_url(emulator_url, extra="&retries=0&retry=2&wait=0")) is False
    assert len(emulator.inbox(A)) == 1
    assert emulator.counters["send_requests"] == 1 + 3  # A once, B on each of 3 attempts


@needs_retry
def test_retry_skips_a_permanent_failure(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    emulator.configure(forced_status={B: "3"})  # invalid parameters: no retry will help
    assert notify(kpn_url(emulator_url, extra="&retry=2&wait=0")) is False
    assert len(emulator.inbox(A)) == 1
    assert emulator.counters["send_requests"] == 2
    assert any("(not retried)" in w for w in warnings(logs))


@needs_retry
def test_retry_recovers_a_transient_failure(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(script=[{"http": 503}])
    assert notify(kpn_url(emulator_url, "0612345678", extra="&retries=0&retry=1&wait=0")) is True
    assert len(emulator.inbox(A)) == 1


def test_direct_instance_send(emulator: Emulator, emulator_url: str) -> None:
    plugin = NotifyKpnSms(
        client_id=EMU_CLIENT_ID,
        client_secret=EMU_CLIENT_SECRET,
        sender="KPNAlert",
        targets=["0612345678"],
        base_url=emulator_url,
    )
    assert plugin.notify(body="hello") is True
    assert [m["text"] for m in emulator.inbox(A)] == ["hello"]


def test_parallel_urls_of_one_account_share_one_token_request(
    emulator: Emulator, emulator_url: str
) -> None:
    # Apprise runs each URL in its own worker thread; they must not each fetch a token.
    emulator.configure(latency=0.2)  # widen the window in which they would race
    notifier = Apprise()
    for number in ("0612345678", "0687654321", "0611111111", "0622222222"):
        assert notifier.add(kpn_url(emulator_url, number))
    assert notifier.notify(body="Disk full")
    assert emulator.counters["accepted"] == 4
    assert emulator.counters["token_requests"] == 1


def test_store_no_keeps_the_token_off_disk(emulator: Emulator, emulator_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from apprise import AppriseAsset

    notifier = Apprise(asset=AppriseAsset(storage_path=str(tmp_path)))
    assert notifier.add(kpn_url(emulator_url, "0612345678", extra="&store=no"))
    assert notifier.notify(body="one") and notifier.notify(body="two")
    assert emulator.counters["token_requests"] == 1  # still shared in the process
    assert list(tmp_path.rglob("*.psdata")) == []


def test_the_storm_cap_spans_apprise_notifications(
    emulator: Emulator, emulator_url: str, logs: pytest.LogCaptureFixture
) -> None:
    """Apprise makes a client per notification; the process shares one send guard."""
    url = kpn_url(emulator_url, "0612345678", extra="&storm_cap=3")
    assert all(notify(url, body=f"Flap {i}") for i in range(8))  # held back is no failure
    assert [m["text"] for m in emulator.messages] == ["Flap 0", "Flap 1", "Flap 2"]
    held = [w for w in warnings(logs) if "held back" in w]
    assert len(held) == 5 and all("+316******78" in w for w in held)
    assert errors(logs) == []
    assert_no_secrets(logs)
