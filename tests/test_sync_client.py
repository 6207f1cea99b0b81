"""The sync twin behaves like the async client (same core), over real sockets."""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest

from kpn_sms_notify import KpnApiError, KpnAuthError, KpnSmsSync, KpnValidationError
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.models import Token

A, B = "31612345678", "31687654321"


def client(url: str, **options: object) -> KpnSmsSync:
    return KpnSmsSync(
        EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert", rate_limit=200, **options
    )


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
        threads = [
            threading.Thread(target=lambda: results.append(sms.send("x", [A]))) for _ in range(20)
        ]
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
    with (
        KpnSmsSync(EMU_CLIENT_ID, "nope-nope", base_url=emulator_url, sender="X1") as bad,
        pytest.raises(KpnAuthError),
    ):
        bad.send("hello", [A])
    assert emulator.counters.get("send_requests", 0) == 0


class MemoryStore:
    def __init__(self) -> None:
        self.token: Token | None = None

    def load(self) -> Token | None:
        return self.token

    def save(self, token: Token) -> None:
        self.token = token


def test_token_store_carries_the_token_to_a_new_client(
    emulator: Emulator, emulator_url: str
) -> None:
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


# -- a rejected token, refusals, answers the parser must survive (issue 19) ---------------

DEFAULT_NUMBER = "3197012345678"


def test_rejected_token_is_dropped_and_renewed_once(emulator: Emulator, emulator_url: str) -> None:
    """KPN rejects the token mid-use: dropped, one new token for both recipients, resent."""
    with client(emulator_url) as sms:
        assert sms.send("one", [A]).ok
        emulator.expire_tokens()
        report = sms.send("two", [A, B])
        assert report.ok, [r.reason for r in report.failed]
        assert sms.token_requests == 2
        assert sms.send("three", [A]).ok and sms.token_requests == 2
    assert emulator.counters["token_requests"] == 2
    assert len(emulator.messages) == 4


def test_register_and_number_update_renew_a_rejected_token(
    emulator: Emulator, emulator_url: str
) -> None:
    with client(emulator_url) as sms:
        sms.authenticate()
        emulator.expire_tokens()
        assert sms.register_webhook(A, "https://example.org/inbound")
        assert sms.token_requests == 2
        emulator.expire_tokens()
        sms.update_number("NL", DEFAULT_NUMBER, "")
        assert sms.token_requests == 3
    assert emulator.counters["auth_failures"] == 2


class StaleStore:
    """A store that keeps handing out the first token it saw (it never takes a newer one)."""

    def __init__(self) -> None:
        self.token: Token | None = None

    def load(self) -> Token | None:
        return self.token

    def save(self, token: Token) -> None:
        self.token = self.token or token


def test_a_rejected_token_is_not_reloaded_from_the_store(
    emulator: Emulator, emulator_url: str
) -> None:
    store = StaleStore()
    with client(emulator_url, token_store=store) as first:
        first.authenticate()
    with client(emulator_url, token_store=store) as second:
        assert second.send("one", [A]).ok and second.token_requests == 0  # from the store
        emulator.expire_tokens()
        assert second.send("two", [A]).ok and second.token_requests == 1
        assert second.send("three", [A]).ok and second.token_requests == 1
    assert emulator.counters["auth_failures"] == 1


class BrokenStore:
    """A store whose every call fails (a full disk, a read-only cache directory)."""

    def load(self) -> Token | None:
        raise OSError("disk on fire")

    def save(self, token: Token) -> None:
        raise OSError("disk on fire")

    def forget(self, token: Token) -> None:
        raise OSError("disk on fire")


def test_a_broken_token_store_never_stops_a_send(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each failure of the store is one DEBUG line naming the operation and the error's
    type (not its text, not the token); the sends go through, the rejected token too."""
    caplog.set_level(logging.DEBUG, logger="kpn_sms_notify.auth")
    with client(emulator_url, token_store=BrokenStore()) as sms:
        assert sms.send("one", [A]).ok
        emulator.expire_tokens()
        assert sms.send("two", [A]).ok and sms.token_requests == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "kpn_sms_notify.auth"]
    assert lines == [
        "token store: load failed (OSError)",
        "token store: save failed (OSError)",
        "token store: forget failed (OSError)",
        "token store: save failed (OSError)",
    ]


class ForgettingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.forgotten: list[Token] = []

    def forget(self, token: Token) -> None:
        self.forgotten.append(token)


def test_a_rejected_token_is_forgotten_in_the_store(emulator: Emulator, emulator_url: str) -> None:
    store = ForgettingStore()
    with client(emulator_url, token_store=store) as sms:
        assert sms.send("one", [A]).ok
        rejected = store.token
        emulator.expire_tokens()
        assert sms.send("two", [A]).ok
    assert rejected is not None and store.forgotten == [rejected]
    assert store.token is not None and store.token.access_token != rejected.access_token


@pytest.mark.parametrize(("status", "error"), [(400, KpnApiError), (401, KpnAuthError)])
def test_refused_register_or_number_update_never_reads_as_success(
    emulator: Emulator, emulator_url: str, status: int, error: type[Exception]
) -> None:
    emulator.configure(
        forced_http={
            "/communication/nexmo/sms/register": status,
            "/communication/nexmo/phone-numbers/number/update": status,
        }
    )
    with client(emulator_url) as sms:
        with pytest.raises(error, match=f"HTTP {status}"):
            sms.register_webhook(A, "https://example.org/inbound")
        with pytest.raises(error, match=f"HTTP {status}"):
            sms.update_number("NL", DEFAULT_NUMBER, "")


def _gateway(send_body: bytes) -> httpx.MockTransport:
    """A gateway whose /send answers `send_body` with HTTP 200: bodies the emulator never
    sends (an empty list, entries that are not objects)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/accesstoken"):
            return httpx.Response(200, json={"access_token": "t0k", "expires_in": "3599"})
        return httpx.Response(200, content=send_body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize("messages", [[], [1, "x", None, []], ["x"] * 3])
def test_send_answer_without_message_objects_is_a_clear_ambiguous_failure(
    messages: list[object],
) -> None:
    body = json.dumps({"message-count": "1", "messages": messages}).encode()
    with (
        httpx.Client(transport=_gateway(body)) as http,
        client("https://gateway.test", http_client=http) as sms,
    ):
        (result,) = sms.send("hello", [A]).results
    assert not result.ok and not result.permanent and result.attempts == 1
    assert result.reason == "the gateway's answer listed no messages"


def test_non_object_entries_beside_an_accepted_part_are_skipped() -> None:
    part = {"status": "0", "message-id": "id-1", "to": A, "message-price": "0.075"}
    body = json.dumps({"message-count": "1", "messages": ["junk", part, 7]}).encode()
    with (
        httpx.Client(transport=_gateway(body)) as http,
        client("https://gateway.test", http_client=http) as sms,
    ):
        (result,) = sms.send("hello", [A]).results
    assert result.ok and result.message_ids == ("id-1",)
