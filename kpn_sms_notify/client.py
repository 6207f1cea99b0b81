"""KpnSms: the async client, on httpx.AsyncClient.

It may borrow an HTTP client (Home Assistant passes its shared one), which it never closes;
one it created itself is closed by `close()` / `async with`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

from . import protocol
from .auth import AsyncTokenManager, TokenStore
from .errors import KpnSmsError, KpnValidationError
from .models import RecipientResult, SendReport, Token
from .numbers import mask_number, normalize_number
from .protocol import ApiRequest, SendOutcome
from .ratelimit import AsyncRateLimiter
from .sending import Attempts, SendPlan, prepare, token_failure
from .session import Session
from .settings import Settings
from .transport import error_from_exception, outcome_from_exception, ssl_context

_LOGGER = logging.getLogger(__name__)


class KpnSms:
    """Send texts through KPN's SMS API; authenticates once and shares the token."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        token_store: TokenStore | None = None,
        **options: Any,
    ) -> None:
        self.settings = Settings.from_config(
            {"client_id": client_id, "client_secret": client_secret, **options})
        self.session = Session(self.settings)
        self._http = http_client
        self._owns_http = http_client is None
        self._auth = AsyncTokenManager(self._fetch_token, margin=self.settings.token_margin,
                                       store=token_store)
        self._limiter = AsyncRateLimiter(self.settings.rate_limit)
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, http_client: httpx.AsyncClient | None = None,
                    token_store: TokenStore | None = None) -> KpnSms:
        options = {k: v for k, v in config.items() if k not in ("client_id", "client_secret")}
        return cls(config["client_id"], config["client_secret"], http_client=http_client,
                   token_store=token_store, **options)

    def __repr__(self) -> str:
        return f"KpnSms(client_id={self.settings.client_id!r}, base_url={self.settings.base_url!r})"

    @property
    def token_requests(self) -> int:
        """Token requests this client has made."""
        return self._auth.requests

    # ------------------------------------------------------------ public calls

    async def authenticate(self) -> Token:
        """The current token, fetched if needed. Raises KpnAuthError on bad credentials."""
        return await self._auth.get()

    async def send(self, message: str, recipients: Iterable[str] | str | None = None,
                   on_result: Callable[[RecipientResult], None] | None = None,
                   **options: Any) -> SendReport:
        """Text `message` to each recipient (default: the configured ones).

        Options: title, sender, unicode, max_parts, overflow, client_ref, status_report,
        callback. `on_result` is called as each recipient finishes (progress displays).
        Bad input raises KpnValidationError and nothing is sent; a refused login
        raises KpnAuthError and nothing is sent. Per-recipient failures are in the report.
        """
        plan = prepare(self.settings, message, recipients, **options)
        await self._auth.get()
        slots: list[RecipientResult | None] = [None] * len(plan.numbers)
        queue = iter(enumerate(plan.numbers))

        async def worker() -> None:
            # A fixed pool of workers, not a task per recipient: memory stays flat for 10k.
            for index, number in queue:
                slots[index] = await self._send_one(plan, number, on_result)

        workers = min(self.settings.max_concurrency, len(plan.numbers))
        await asyncio.gather(*(worker() for _ in range(workers)))
        results = [r for r in slots if r is not None]
        report = SendReport(tuple(results), text=plan.text, truncated=plan.truncated)
        self.session.record(report)
        return report

    async def register_webhook(self, to: str, callback_url: str) -> str:
        """`/register` (demo accounts): send inbound texts for `to` to `callback_url`."""
        number = normalize_number(to, self.settings.region, field="to")
        url = _checked_url("callback_url", callback_url)
        data = await self._call(lambda t: protocol.register_request(
            self.settings.base_url, t, to=number, callback_url=url))
        return str(data.get("message") or "registered")

    async def update_number(self, country: str, msisdn: str, mo_http_url: str) -> None:
        """Phone numbers `number/update`: point a virtual number's inbound at `mo_http_url`."""
        number = normalize_number(msisdn, self.settings.region, field="msisdn")
        url = _checked_url("moHttpUrl", mo_http_url) if mo_http_url else ""
        await self._call(lambda t: protocol.number_update_request(
            self.settings.base_url, t, country=country, msisdn=number, mo_http_url=url))

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> KpnSms:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # ------------------------------------------------------------ the wire

    async def _send_one(self, plan: SendPlan, number: str,
                        on_result: Callable[[RecipientResult], None] | None = None
                        ) -> RecipientResult:
        result = await self._attempt(plan, number)
        if on_result is not None:
            on_result(result)
        return result

    async def _attempt(self, plan: SendPlan, number: str) -> RecipientResult:
        attempts = Attempts(number, self.settings, time.monotonic())
        while True:
            attempts.count += 1
            token: Token | None = None
            try:
                token = await self._auth.get()
            except KpnSmsError as err:  # a renewal failed mid-batch: nothing was sent
                outcome = token_failure(err)
            else:
                request = protocol.send_request(self.settings.base_url, token, to=number,
                                                **plan.fields)
                async with self._slots:
                    await self._limiter.acquire()
                    outcome = await self._post_send(request, number)
            if outcome.ok:
                return attempts.result(outcome, plan.truncated)
            if token is not None and attempts.should_renew_token(outcome):
                self._auth.drop(token)  # the next round fetches a new one, shared by all
                continue
            delay = attempts.retry_delay(outcome, time.monotonic())
            if delay is None:
                return attempts.result(outcome)
            if outcome.wait:
                self._limiter.pause(outcome.wait)
            self.session.retries += 1
            _LOGGER.debug("%s: retrying in %.2fs (%s)", mask_number(number), delay, outcome.error)
            await asyncio.sleep(delay)

    async def _post_send(self, request: ApiRequest, number: str) -> SendOutcome:
        try:
            status, headers, body = await self._exchange(request)
        except httpx.HTTPError as exc:
            outcome = outcome_from_exception(exc, mask_number(number))
            _LOGGER.debug("send %s: %s", mask_number(number), outcome.error)
            return outcome
        outcome = protocol.parse_send(status, headers, body, recipient=number)
        self.session.saw(outcome.headers)
        return outcome

    async def _fetch_token(self) -> Token:
        request = protocol.token_request(self.settings.base_url, self.settings.client_id,
                                         self.settings.client_secret)
        try:
            status, headers, body = await self._exchange(request)
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, "token request") from None
        token = protocol.parse_token(status, headers, body)
        self.session.saw(protocol.parse_headers(headers))
        return token

    async def _call(self, build: Any) -> dict[str, Any]:
        """A non-send API call, with one token renewal on rejection."""
        token = await self._auth.get()
        for attempt in (1, 2):
            try:
                status, headers, body = await self._exchange(build(token))
            except httpx.HTTPError as exc:
                raise error_from_exception(exc, "request") from None
            if attempt == 1 and protocol.is_token_rejection(status, body):
                token = await self._auth.renew(token)
                continue
            self.session.saw(protocol.parse_headers(headers))
            return protocol.parse_simple(status, headers, body)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(self, request: ApiRequest) -> tuple[int, httpx.Headers, bytes]:
        if self._http is None:
            # Reading the CA bundle is blocking I/O: keep it off the event loop.
            verify = await asyncio.to_thread(ssl_context)
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=self.settings.timeout, verify=verify)
        self.session.log_request(request)
        response = await self._http.request(
            request.method, request.url, params=request.params or None,
            data=request.data or None, headers=request.headers,
            timeout=self.settings.timeout)
        body = await response.aread()
        self.session.log_response(request, response.status_code, response.headers, body)
        return response.status_code, response.headers, body


def _checked_url(field: str, url: str) -> str:
    from .schema import url_validator

    try:
        return url_validator("callback")(url)
    except Exception as err:
        raise KpnValidationError(f"{field}: {err} (got {url!r})", field=field, value=url) from None
