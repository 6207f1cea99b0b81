"""KpnSmsSync: the synchronous twin of KpnSms, on httpx.Client, for sync hosts (Apprise).

Same protocol core, same settings, same retry rules; recipients are fanned out on a small
thread pool, paced by one shared rate limiter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

import httpx

from . import protocol
from .auth import SyncTokenManager, TokenStore
from .client import _checked_url
from .errors import KpnSmsError
from .models import RecipientResult, SendReport, Token
from .numbers import mask_number, normalize_number
from .protocol import ApiRequest, SendOutcome
from .ratelimit import SyncRateLimiter
from .sending import Attempts, SendPlan, prepare, token_failure
from .session import Session
from .settings import Settings
from .transport import error_from_exception, outcome_from_exception, ssl_context

_LOGGER = logging.getLogger(__name__)


class KpnSmsSync:
    """Blocking client with the same methods as KpnSms."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        http_client: httpx.Client | None = None,
        token_store: TokenStore | None = None,
        **options: Any,
    ) -> None:
        self.settings = Settings.from_config(
            {"client_id": client_id, "client_secret": client_secret, **options})
        self.session = Session(self.settings)
        self._http = http_client
        self._http_lock = threading.Lock()
        self._owns_http = http_client is None
        self._auth = SyncTokenManager(self._fetch_token, margin=self.settings.token_margin,
                                      store=token_store)
        self._limiter = SyncRateLimiter(self.settings.rate_limit)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, http_client: httpx.Client | None = None,
                    token_store: TokenStore | None = None) -> KpnSmsSync:
        options = {k: v for k, v in config.items() if k not in ("client_id", "client_secret")}
        return cls(config["client_id"], config["client_secret"], http_client=http_client,
                   token_store=token_store, **options)

    def __repr__(self) -> str:
        return (f"KpnSmsSync(client_id={self.settings.client_id!r}, "
                f"base_url={self.settings.base_url!r})")

    @property
    def token_requests(self) -> int:
        return self._auth.requests

    def authenticate(self) -> Token:
        return self._auth.get()

    def send(self, message: str, recipients: Iterable[str] | str | None = None,
             on_result: Callable[[RecipientResult], None] | None = None,
             **options: Any) -> SendReport:
        """See KpnSms.send: same arguments, same report, same guarantees."""
        plan = prepare(self.settings, message, recipients, **options)
        self._auth.get()
        workers = min(self.settings.max_concurrency, len(plan.numbers))
        if workers == 1:
            results = [self._send_one(plan, plan.numbers[0], on_result)]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kpn-sms") as pool:
                results = list(pool.map(lambda n: self._send_one(plan, n, on_result),
                                        plan.numbers))
        report = SendReport(tuple(results), text=plan.text, truncated=plan.truncated)
        self.session.record(report)
        return report

    def register_webhook(self, to: str, callback_url: str) -> str:
        number = normalize_number(to, self.settings.region, field="to")
        url = _checked_url("callback_url", callback_url)
        data = self._call(lambda t: protocol.register_request(
            self.settings.base_url, t, to=number, callback_url=url))
        return str(data.get("message") or "registered")

    def update_number(self, country: str, msisdn: str, mo_http_url: str) -> None:
        number = normalize_number(msisdn, self.settings.region, field="msisdn")
        url = _checked_url("moHttpUrl", mo_http_url) if mo_http_url else ""
        self._call(lambda t: protocol.number_update_request(
            self.settings.base_url, t, country=country, msisdn=number, mo_http_url=url))

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> KpnSmsSync:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _send_one(self, plan: SendPlan, number: str,
                  on_result: Callable[[RecipientResult], None] | None = None) -> RecipientResult:
        result = self._attempt(plan, number)
        if on_result is not None:
            on_result(result)
        return result

    def _attempt(self, plan: SendPlan, number: str) -> RecipientResult:
        attempts = Attempts(number, self.settings, time.monotonic())
        while True:
            attempts.count += 1
            token: Token | None = None
            try:
                token = self._auth.get()
            except KpnSmsError as err:  # a renewal failed mid-batch: nothing was sent
                outcome = token_failure(err)
            else:
                request = protocol.send_request(self.settings.base_url, token, to=number,
                                                **plan.fields)
                self._limiter.acquire()
                outcome = self._post_send(request, number)
            if outcome.ok:
                return attempts.result(outcome, plan.truncated)
            if token is not None and attempts.should_renew_token(outcome):
                self._auth.drop(token)
                continue
            delay = attempts.retry_delay(outcome, time.monotonic())
            if delay is None:
                return attempts.result(outcome)
            if outcome.wait:
                self._limiter.pause(outcome.wait)
            self.session.retries += 1
            _LOGGER.debug("%s: retrying in %.2fs (%s)", mask_number(number), delay, outcome.error)
            time.sleep(delay)

    def _post_send(self, request: ApiRequest, number: str) -> SendOutcome:
        try:
            status, headers, body = self._exchange(request)
        except httpx.HTTPError as exc:
            return outcome_from_exception(exc, mask_number(number))
        outcome = protocol.parse_send(status, headers, body, recipient=number)
        self.session.saw(outcome.headers)
        return outcome

    def _fetch_token(self) -> Token:
        request = protocol.token_request(self.settings.base_url, self.settings.client_id,
                                         self.settings.client_secret)
        try:
            status, headers, body = self._exchange(request)
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, "token request") from None
        token = protocol.parse_token(status, headers, body)
        self.session.saw(protocol.parse_headers(headers))
        return token

    def _call(self, build: Callable[[Token], ApiRequest]) -> dict[str, Any]:
        token = self._auth.get()
        for attempt in (1, 2):
            try:
                status, headers, body = self._exchange(build(token))
            except httpx.HTTPError as exc:
                raise error_from_exception(exc, "request") from None
            if attempt == 1 and protocol.is_token_rejection(status, body):
                token = self._auth.renew(token)
                continue
            self.session.saw(protocol.parse_headers(headers))
            return protocol.parse_simple(status, headers, body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _client(self) -> httpx.Client:
        # Worker threads share one client (and its connection pool); made once, under a lock.
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.settings.timeout, verify=ssl_context())
            return self._http

    def _exchange(self, request: ApiRequest) -> tuple[int, httpx.Headers, bytes]:
        http = self._http or self._client()
        self.session.log_request(request)
        response = http.request(
            request.method, request.url, params=request.params or None,
            data=request.data or None, headers=request.headers, timeout=self.settings.timeout)
        body = response.read()
        self.session.log_response(request, response.status_code, response.headers, body)
        return response.status_code, response.headers, body
