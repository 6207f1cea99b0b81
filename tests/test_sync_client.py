"""The sync twin behaves like the async client (same core), over real sockets."""

from __future__ import annotations

import threading

import httpx
import pytest

from kpn_sms_notify import KpnAuthError, KpnSmsSync, KpnValidationError
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.models import Token

A, B = "31612345678", "31687654321"


def client(url: str, **options: object) -> KpnSmsSync:
    return KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert",
                      rate_limit=200, **options)


def test_send_and_single_token(emulator: Emulator, emulator_url: str) -> None:
    with client(emulator_url) as sms:
        report = sms.send("Disk full", [A, B], title="web1")
        assert report.ok and sms.token_requests == 1
        assert sms.send("again", [A]).ok and sms.token_requests == 1
    assert {m["to"] for m in emulator.messages} == {A, B}


def test_one_at_a_time_texts_everyone(emulator: Emulator, emulator_url: str) -> None:
    """max_concurrency 1: every recipient in turn (it once texted only the first one and
    left the others out of the report)."""
    numbers = [A, B, "31655512345"]
    with client(emulator_url, max_concurrency=1) as sms:
        report = sms.send("one by one", numbers)
    assert [r.recipient for r in report.results] == ["+" + n for n in numbers] and report.ok
    assert sorted(m["to"] for m in emulator.messages) == sorted(numbers)


def test_threads_share_one_token(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(latency=0.02)
    results = []
    with client(emulator_url) as sms:
        threads = [threading.Thread(target=lambda: results.append(sms.send("x", [A])))
                   for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 20 and all(r.ok for r in results)
    assert emulator.counters["token_requests"] == 1


def test_retry_and_partial_failure(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(script=[{"http": 503}], forced_status={B: "15"})
    with client(emulator_url) as sms:
        report = sms.send("hello", [A, B])
    assert [r.ok for r in report.results] == [True, False]
    assert report.failed[0].status == "15" and report.failed[0].permanent


def test_bad_input_and_bad_credentials(emulator: Emulator, emulator_url: str) -> None:
    with client(emulator_url) as sms, pytest.raises(KpnValidationError):
        sms.send("hello", ["06"])
    with KpnSmsSync(EMU_CLIENT_ID, "nope-nope", base_url=emulator_url, sender="X1") as bad, \
            pytest.raises(KpnAuthError):
        bad.send("hello", [A])
    assert emulator.counters.get("send_requests", 0) == 0


class MemoryStore:
    def __init__(self) -> None:
        self.token: Token | None = None

    def load(self) -> Token | None:
        return self.token

    def save(self, token: Token) -> None:
        self.token = token


def test_token_store_carries_the_token_to_a_new_client(emulator: Emulator,
                                                       emulator_url: str) -> None:
    store = MemoryStore()
    with client(emulator_url, token_store=store) as first:
        assert first.send("one", [A]).ok
    with client(emulator_url, token_store=store) as second:
        assert second.send("two", [A]).ok
        assert second.token_requests == 0
    assert emulator.counters["token_requests"] == 1


def test_borrowed_client_stays_open(emulator_url: str) -> None:
    with httpx.Client() as http:
        with client(emulator_url, http_client=http) as sms:
            assert sms.send("x", [A]).ok
        assert not http.is_closed


def test_worker_threads_share_one_http_client(emulator: Emulator, emulator_url: str) -> None:
    store = MemoryStore()
    with client(emulator_url, token_store=store) as warm:
        warm.authenticate()  # the token is cached: the fan-out starts without a request
    made: list[httpx.Client] = []
    original = httpx.Client.__init__

    def counting_init(self: httpx.Client, *args: object, **kwargs: object) -> None:
        made.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    httpx.Client.__init__ = counting_init  # type: ignore[method-assign]
    try:
        with client(emulator_url, token_store=store) as sms:
            assert sms.send("x", [A, B, "31655512345", "31655512346"]).ok
    finally:
        httpx.Client.__init__ = original  # type: ignore[method-assign]
    assert len(made) == 1
