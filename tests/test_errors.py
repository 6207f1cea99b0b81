"""Errors that keep their cause and say why, and the one classification every host reads.

Real failures on 127.0.0.1 where the machine can make them (a closed port, a server with
an untrusted certificate, a server that never answers); a mock transport only for a name
that does not resolve, since resolving one would ask the network's DNS server.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kpn_sms_notify import cli
from kpn_sms_notify.apprise_plugin import _short_reason
from kpn_sms_notify.client import KpnSms
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.errors import (
    Kind,
    KpnApiError,
    KpnAuthError,
    KpnConnectionError,
    KpnProductError,
    KpnRateLimitError,
    KpnSmsError,
    KpnTimeoutError,
    KpnValidationError,
)
from kpn_sms_notify.models import RecipientResult
from kpn_sms_notify.protocol import SendOutcome
from kpn_sms_notify.sending import Attempts, Retry
from kpn_sms_notify.settings import Settings
from kpn_sms_notify.sync_client import KpnSmsSync

A = "31612345678"
MODES = ["async", "sync"]


# ------------------------------------------------------------------ failing gateways


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose server takes connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def untrusted_tls_port(self_signed: tuple[Path, Path]) -> Iterator[int]:
    """A TLS server on 127.0.0.1 presenting the self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    stop = threading.Event()
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)  # so the loop sees `stop`

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (OSError, ssl.SSLError):
                    pass  # the client refuses the certificate: that is the point

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def unresolvable(request: httpx.Request) -> httpx.Response:
    """What httpx raises when getaddrinfo cannot resolve the host."""
    try:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    except socket.gaierror as exc:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request) from exc


def authenticate_error(
    mode: str,
    base_url: str,
    *,
    timeout: float = 5.0,
    handler: Callable[[httpx.Request], httpx.Response] | None = None,
) -> KpnSmsError:
    """The error `authenticate()` raises, from the async or the sync client."""
    options: dict[str, Any] = {"base_url": base_url, "timeout": timeout, "sender": "KPNAlert"}
    if mode == "sync":
        http = httpx.Client(transport=httpx.MockTransport(handler)) if handler else None
        try:
            with (
                KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, http_client=http, **options) as sms,
                pytest.raises(KpnSmsError) as caught,
            ):
                sms.authenticate()
        finally:
            if http is not None:
                http.close()
        return caught.value

    async def run() -> KpnSmsError:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler)) if handler else None
        try:
            async with KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, http_client=http, **options) as sms:
                with pytest.raises(KpnSmsError) as caught:
                    await sms.authenticate()
        finally:
            if http is not None:
                await http.aclose()
        return caught.value

    return asyncio.run(run())


def send_one(mode: str, base_url: str, *, timeout: float = 5.0) -> RecipientResult:
    """The one result of sending "hello" to A, from the async or the sync client."""
    options: dict[str, Any] = {"base_url": base_url, "timeout": timeout, "sender": "KPNAlert"}
    if mode == "sync":
        with KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, **options) as sync_sms:
            return sync_sms.send("hello", [A]).results[0]

    async def run() -> RecipientResult:
        async with KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, **options) as sms:
            return (await sms.send("hello", [A])).results[0]

    return asyncio.run(run())


def causes(err: BaseException) -> Iterator[BaseException]:
    """What lies below `err`: its causes and the errors it was raised while handling."""
    below = err.__cause__ or err.__context__
    while below is not None:
        yield below
        below = below.__cause__ or below.__context__


def assert_says_why(err: KpnSmsError, text: str, cause: type[httpx.HTTPError]) -> None:
    assert str(err) == text
    assert isinstance(err.__cause__, cause)
    assert EMU_CLIENT_SECRET not in str(err) and "grant_type" not in str(err)  # no query


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused_names_host_and_port(mode: str, closed_port: int) -> None:
    err = authenticate_error(mode, f"http://127.0.0.1:{closed_port}")
    assert_says_why(
        err,
        "token request: could not connect to the gateway: connection refused "
        f"by 127.0.0.1:{closed_port}",
        httpx.ConnectError,
    )
    assert type(err) is KpnConnectionError and err.transient and not err.sent


@pytest.mark.parametrize("mode", MODES)
def test_unresolved_name_names_the_host(mode: str) -> None:
    err = authenticate_error(mode, "https://kpn-gateway.invalid", handler=unresolvable)
    assert_says_why(
        err,
        "token request: could not connect to the gateway: host name "
        "kpn-gateway.invalid not resolved (Name or service not known)",
        httpx.ConnectError,
    )
    assert err.transient and not err.ambiguous


@pytest.mark.parametrize("mode", MODES)
def test_untrusted_certificate_says_so(mode: str, untrusted_tls_port: int) -> None:
    err = authenticate_error(mode, f"https://127.0.0.1:{untrusted_tls_port}")
    assert_says_why(
        err,
        "token request: could not connect to the gateway: the TLS "
        f"certificate of 127.0.0.1:{untrusted_tls_port} is not trusted "
        "(self-signed certificate)",
        httpx.ConnectError,
    )
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in causes(err))


@pytest.mark.parametrize("mode", MODES)
def test_read_timeout_names_the_time_limit(mode: str, silent_port: int) -> None:
    err = authenticate_error(mode, f"http://127.0.0.1:{silent_port}", timeout=0.5)
    assert_says_why(
        err,
        "token request: timed out after 0.5 s waiting for the gateway's "
        f"answer (127.0.0.1:{silent_port})",
        httpx.ReadTimeout,
    )
    # A token request texts nobody: waiting and asking again is safe.
    assert isinstance(err, KpnTimeoutError) and err.transient and not err.sent


@pytest.mark.parametrize("mode", MODES)
def test_send_timeout_is_ambiguous_and_keeps_its_cause(
    mode: str, emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(script=[{"slow": 3}])
    result = send_one(mode, emulator_url, timeout=0.5)
    port = emulator_url.rsplit(":", 1)[1]
    assert result.reason == (
        f"timed out after 0.5 s waiting for the gateway's answer (127.0.0.1:{port})"
    )
    err = result.error
    assert isinstance(err, KpnTimeoutError) and isinstance(err.__cause__, httpx.ReadTimeout)
    assert err.sent and err.ambiguous and not (err.transient or err.permanent)
    assert result.attempts == 1 and not result.permanent


@pytest.mark.parametrize("mode", MODES)
def test_dropped_connection_after_sending_is_ambiguous(
    mode: str, emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(script=[{"drop": True}])
    result = send_one(mode, emulator_url)
    port = emulator_url.rsplit(":", 1)[1]
    assert (result.reason or "").startswith(
        f"connection lost before the gateway answered (127.0.0.1:{port}: "
    )
    err = result.error
    assert type(err) is KpnConnectionError and isinstance(err.__cause__, httpx.HTTPError)
    assert err.sent and err.ambiguous and not result.permanent


def test_connect_timeout_names_the_time_limit() -> None:
    """A connect time-out (the emulator cannot make one on loopback: a mock)."""

    def no_handshake(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    err = authenticate_error("sync", "https://sms.example.com", timeout=3, handler=no_handshake)
    assert_says_why(
        err,
        "token request: timed out after 3 s connecting to the gateway at sms.example.com:443",
        httpx.ConnectTimeout,
    )
    assert isinstance(err, KpnTimeoutError) and err.transient and not err.sent


# ------------------------------------------------------------------ the classification

# error, kind, transient, ambiguous, permanent
CLASSIFIED: list[tuple[KpnSmsError, Kind, bool, bool, bool]] = [
    (KpnValidationError("to: bad", field="to"), Kind.INPUT, False, False, True),
    (KpnAuthError("refused"), Kind.CREDENTIALS, False, False, False),
    (KpnAuthError("token refused on a 500", sent=True), Kind.CREDENTIALS, False, True, False),
    (KpnProductError("no product"), Kind.PRODUCT, False, False, False),
    (KpnRateLimitError("429", http_status=429), Kind.THROTTLED, True, False, False),
    (KpnConnectionError("refused"), Kind.UNREACHABLE, True, False, False),
    (KpnTimeoutError("read timed out", sent=True), Kind.UNREACHABLE, False, True, False),
    (KpnApiError("400", http_status=400), Kind.REFUSED, False, False, True),
    (KpnApiError("503", http_status=503, transient=True), Kind.REFUSED, True, False, False),
    (KpnApiError("500", http_status=500, sent=True), Kind.REFUSED, False, True, False),
    (
        KpnApiError("partly sent", status="5", transient=True, partly_sent=True),
        Kind.REFUSED,
        False,
        False,
        True,
    ),
]


@pytest.mark.parametrize(
    ("err", "kind", "transient", "ambiguous", "permanent"),
    CLASSIFIED,
    ids=lambda v: str(v) if isinstance(v, KpnSmsError) else None,
)
def test_classification_on_the_error(
    err: KpnSmsError, kind: Kind, transient: bool, ambiguous: bool, permanent: bool
) -> None:
    assert (err.kind, err.transient, err.ambiguous, err.permanent) == (
        kind,
        transient,
        ambiguous,
        permanent,
    )
    assert not (transient and (ambiguous or permanent)) and not (ambiguous and permanent)


# What each host does with an error, all read off the one classification:
# kind -> CLI exit code, Apprise's summary; transient -> Home Assistant's "try setup again
# later"; permanent -> serve's per-recipient answer ("failed", 200; else "retry", 503).
HOSTS: dict[Kind, tuple[int, str]] = {
    Kind.INPUT: (2, "not sent (to)"),
    Kind.CREDENTIALS: (3, "credentials refused"),
    Kind.PRODUCT: (3, "SMS product missing from the KPN app"),
    Kind.THROTTLED: (1, "throttled, not sent"),
    Kind.UNREACHABLE: (4, "gateway unreachable"),
    Kind.REFUSED: (1, "refused by the gateway"),
}


@pytest.mark.parametrize("row", CLASSIFIED, ids=lambda row: str(row[0]))
def test_hosts_agree(row: tuple[KpnSmsError, Kind, bool, bool, bool]) -> None:
    err, kind, _, _, permanent = row
    exit_code, summary = HOSTS[kind]
    assert cli.exit_code(err) == exit_code
    assert _short_reason(RecipientResult(f"+{A}", False, error=err)) == summary == err.summary
    result = Attempts(f"+{A}", _settings(), 0.0).failure(err)
    assert result.permanent is permanent  # serve: "failed" when permanent, else "retry"
    assert result.error is err and result.recipient == f"+{A}" and not result.ok


def test_protocol_errors_carry_the_outcome_flags() -> None:
    """The /send answer's meaning lives on its error: the outcome only reads it."""
    from kpn_sms_notify import protocol

    outcome = protocol.parse_send(502, {}, b"<html>Bad Gateway</html>", recipient=f"+{A}")
    assert isinstance(outcome.error, KpnConnectionError) and outcome.error.ambiguous
    assert outcome.ambiguous and not outcome.retry
    outcome = protocol.parse_send(503, {}, b"", recipient=f"+{A}")
    assert outcome.error is not None and outcome.error.transient and outcome.retry
    token = protocol.error_from_answer(502, {}, b"")  # not a send: nobody texted
    assert isinstance(token, KpnConnectionError) and not token.ambiguous


# ------------------------------------------------------------------ the retry policy


def _settings(**options: Any) -> Settings:
    return Settings.from_config(
        {"client_id": "id", "client_secret": "secret-value", "sender": "KPNAlert", **options}
    )


def test_policy_renews_a_rejected_token_once() -> None:
    attempts = Attempts(f"+{A}", _settings(), 0.0)
    rejected = SendOutcome(error=KpnAuthError("401"), token_rejected=True)
    assert attempts.next(rejected, 0.0) == Retry(renew_token=True)
    assert attempts.next(rejected, 0.0) is None  # refused again: final


def test_policy_retries_transient_failures_with_bounded_backoff() -> None:
    attempts = Attempts(f"+{A}", _settings(retries=2, retry_budget=60), 0.0)
    down = SendOutcome(error=KpnApiError("503", http_status=503, transient=True))
    first, second = attempts.next(down, 0.0), attempts.next(down, 0.0)
    assert first is not None and 0.25 <= first.delay <= 0.5 and first.pause == 0.0
    assert second is not None and 0.5 <= second.delay <= 1.0
    assert attempts.next(down, 0.0) is None  # retries used up


def test_policy_pauses_every_send_after_a_throttle() -> None:
    attempts = Attempts(f"+{A}", _settings(), 0.0)
    throttled = SendOutcome(error=KpnRateLimitError("429", retry_after=3.0), wait=3.0)
    assert attempts.next(throttled, 0.0) == Retry(delay=3.0, pause=3.0)


def test_policy_pauses_for_the_window_the_gateway_named_even_when_the_backoff_is_longer() -> None:
    """Vonage's "please wait [100]" (ms): the others pause 0.1 s, while this recipient
    waits its own backoff (0.25 to 0.5 s on the first retry)."""
    throttled = SendOutcome(error=KpnRateLimitError("status 1", retry_after=0.1), wait=0.1)
    retry = Attempts(f"+{A}", _settings(), 0.0).next(throttled, 0.0)
    assert retry is not None and 0.25 <= retry.delay <= 0.5 and retry.pause == 0.1


def test_policy_waits_at_least_a_second_after_a_throttle_that_names_no_wait() -> None:
    throttled = SendOutcome(error=KpnRateLimitError("429", retry_after=None))
    assert Attempts(f"+{A}", _settings(), 0.0).next(throttled, 0.0) == Retry(delay=1.0, pause=1.0)


def test_policy_backoff_doubles_up_to_eight_seconds() -> None:
    attempts = Attempts(f"+{A}", _settings(retries=6, retry_budget=600), 0.0)
    down = SendOutcome(error=KpnApiError("503", http_status=503, transient=True))
    delays = [attempts.next(down, 0.0) for _ in range(6)]
    bounds = [(0.25, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (4.0, 8.0)]
    for retry, (low, high) in zip(delays, bounds, strict=True):
        assert retry is not None and low <= retry.delay <= high, (retry, low, high)
    assert attempts.next(down, 0.0) is None


def test_policy_jitter_spreads_over_the_upper_half_of_the_backoff() -> None:
    """A herd of recipients retrying at once spreads over [backoff/2, backoff]."""
    state = random.getstate()
    random.seed(19)
    try:
        down = SendOutcome(error=KpnApiError("503", http_status=503, transient=True))
        delays = [Attempts(f"+{A}", _settings(), 0.0).next(down, 0.0) for _ in range(200)]
    finally:
        random.setstate(state)
    firsts = [r.delay for r in delays if r is not None]
    assert len(firsts) == 200 and min(firsts) >= 0.25 and max(firsts) <= 0.5
    assert min(firsts) < 0.26 and max(firsts) > 0.49


def test_policy_retries_while_the_wait_ends_within_the_budget() -> None:
    throttled = SendOutcome(error=KpnRateLimitError("429", retry_after=5.0), wait=5.0)
    on_the_edge = Attempts(f"+{A}", _settings(retry_budget=5), 0.0).next(throttled, 0.0)
    assert on_the_edge == Retry(delay=5.0, pause=5.0)
    assert Attempts(f"+{A}", _settings(retry_budget=5), 0.0).next(throttled, 0.1) is None


def test_policy_failure_keeps_the_reason_and_adds_the_attempts() -> None:
    attempts = Attempts(f"+{A}", _settings(retries=1), 0.0)
    err = KpnApiError("+316******78: HTTP 503: busy", http_status=503, transient=True)
    down = SendOutcome(error=err)
    attempts.count = 1
    assert attempts.next(down, 0.0) is not None
    attempts.count = 2
    assert attempts.next(down, 0.0) is None
    result = attempts.result(down, False)
    assert result.reason == "HTTP 503: busy (after 2 attempts)" and result.attempts == 2


def test_policy_retries_ambiguous_failures_only_when_asked() -> None:
    lost = SendOutcome(error=KpnTimeoutError("timed out", sent=True))
    assert Attempts(f"+{A}", _settings(), 0.0).next(lost, 0.0) is None
    retry = Attempts(f"+{A}", _settings(retry_ambiguous=True), 0.0).next(lost, 0.0)
    assert retry is not None and retry.delay > 0


def test_policy_stops_at_permanent_failures_and_the_time_budget() -> None:
    refused = SendOutcome(error=KpnApiError("400", http_status=400))
    assert Attempts(f"+{A}", _settings(), 0.0).next(refused, 0.0) is None
    down = SendOutcome(error=KpnConnectionError("refused"))
    assert Attempts(f"+{A}", _settings(retry_budget=5), 0.0).next(down, 10.0) is None
