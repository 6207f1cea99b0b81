"""KpnSms: the async client, on httpx.AsyncClient.

It may borrow an HTTP client (Home Assistant passes its shared one), which it never closes;
one it created itself is closed by `close()` / `async with`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Unpack

import httpx

from . import protocol
from .auth import AsyncTokenManager, TokenStore
from .budget import BudgetStore
from .client_base import Answer, ClientBase, RequestBuilder, split_config
from .errors import KpnAuthError, KpnConnectionError, KpnSmsError
from .models import RecipientResult, SendReport, Token
from .numbers import mask_number
from .options import ClientOptions, SendOptions
from .phone_numbers import Match, NumberPage
from .protocol import ApiRequest, SendOutcome
from .ratelimit import AsyncRateLimiter
from .sendguard import Ticket
from .sending import Attempts, Halt, SendPlan, prepare
from .transport import ssl_context


class KpnSms(ClientBase):
    """Send texts through KPN's SMS API; authenticates once and shares the token."""

    _auth: AsyncTokenManager
    _limiter: AsyncRateLimiter

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        token_store: TokenStore | None = None,
        budget_store: BudgetStore | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(client_id, client_secret, options, budget_store)
        self._http = http_client
        self._owns_http = http_client is None
        self._auth = AsyncTokenManager(
            self._fetch_token, margin=self.settings.token_margin, store=token_store
        )
        self._limiter = AsyncRateLimiter(self.settings.rate_limit)
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        http_client: httpx.AsyncClient | None = None,
        token_store: TokenStore | None = None,
        budget_store: BudgetStore | None = None,
    ) -> KpnSms:
        client_id, client_secret, options = split_config(config)
        return cls(
            client_id,
            client_secret,
            http_client=http_client,
            token_store=token_store,
            budget_store=budget_store,
            **options,
        )

    @property
    def token_requests(self) -> int:
        """Token requests this client has made."""
        return self._auth.requests

    # ------------------------------------------------------------ public calls

    async def authenticate(self) -> Token:
        """The current token, fetched if needed. Raises KpnAuthError on bad credentials."""
        return await self._auth.get()

    async def check_access(self) -> None:
        """Authenticate, then check that this app may use the SMS API, with a request that
        cannot text anyone. Raises KpnProductError (a KpnAuthError) when the app lacks the
        SMS product, KpnAuthError / KpnConnectionError as authenticate() does."""
        await self.authenticate()
        try:
            await self._call(self._access_check_builder())
        except (KpnAuthError, KpnConnectionError):
            raise
        except KpnSmsError:
            pass  # refused for what it lacks (sender, number, text): the API itself is open

    async def send(
        self,
        message: str,
        recipients: Iterable[str] | str | None = None,
        on_result: Callable[[RecipientResult], None] | None = None,
        **options: Unpack[SendOptions],
    ) -> SendReport:
        """Text `message` to each recipient (default: the configured ones).

        Options (`SendOptions`): a title, and any per-message option to use instead of the
        configured one; a name that is none fails at once (UnknownOptionError, naming the
        closest one). `on_result` is called as each recipient finishes (progress displays).
        Bad input raises KpnValidationError and nothing is sent; a refused login
        raises KpnAuthError and nothing is sent, as does an app without the SMS product
        (KpnProductError: the batch stops at the first such answer). Per-recipient failures
        are in the report.
        """
        plan = prepare(self.settings, message, recipients, **options)
        await self._auth.get()
        await self.send_due()  # a storm window that has ended: its digest goes first
        slots: list[RecipientResult | None] = [None] * len(plan.numbers)
        queue = iter(enumerate(plan.numbers))
        halt = Halt(self.settings)

        async def worker() -> None:
            # A fixed pool of workers, not a task per recipient: memory stays flat for 10k.
            for index, number in queue:
                result = halt.skipped(number) or self._guard_check(plan, number)
                if isinstance(result, Ticket):
                    ticket, result = result, await self._attempt(plan, number)
                    self.guard.settle(ticket, result)
                slots[index] = result
                halt.note(result)
                if on_result is not None:
                    on_result(result)

        workers = min(self.settings.max_concurrency, len(plan.numbers))
        await asyncio.gather(*(worker() for _ in range(workers)))
        results = tuple(r for r in slots if r is not None)
        halt.check(results)
        report = SendReport(results, text=plan.text, truncated=plan.truncated)
        self.session.record(report)
        await self.send_due()  # notices this batch raised (budget reached, balance low)
        return report

    async def send_due(self) -> tuple[RecipientResult, ...]:
        """Send what the send guard has due: the digest of each storm window that has
        ended, and notices to the admins. `send()` calls it before and after each batch;
        long-running hosts also call it on a timer (`guard.next_due()` says when). Never
        raises: each outcome is logged and returned."""
        results: list[RecipientResult] = []
        for kind, plan in self._due_plans():
            for number in plan.numbers:
                result = await self._attempt(plan, number)
                self._after_due(kind, result)
                results.append(result)
        return tuple(results)

    async def register_webhook(self, to: str, callback_url: str) -> str:
        """`/register` (demo accounts): send inbound texts for `to` to `callback_url`."""
        data = await self._call(self._register_builder(to, callback_url))
        return str(data.get("message") or "registered")

    async def update_number(self, country: str, msisdn: str, mo_http_url: str) -> None:
        """Phone numbers `number/update`: point a virtual number's inbound at `mo_http_url`."""
        await self._call(self._number_update_builder(country, msisdn, mo_http_url))

    # ------------------------------------------------------------ virtual numbers

    async def list_numbers(
        self, *, pattern: str | None = None, match: Match = "start", size: int = 10, index: int = 1
    ) -> NumberPage:
        """Phone numbers `account/numbers`: the virtual numbers this account rents, one page
        (`index` from 1) of `size`, optionally only those whose digits match `pattern` at the
        start, anywhere or at the end. Raises KpnProductError when the app is not in
        production for the Phone Numbers API."""
        build = self._list_builder(pattern=pattern, match=match, size=size, index=index)
        return self._read_page(await self._answer(build, "account/numbers"), "account/numbers")

    async def search_numbers(
        self,
        *,
        country: str | None = None,
        features: Iterable[str] | str = ("SMS",),
        number_type: str | None = None,
        pattern: str | None = None,
        match: Match = "start",
        size: int = 10,
        index: int = 1,
    ) -> NumberPage:
        """Phone numbers `number/search`: numbers for sale in `country` (default: the
        configured region) with `features` (SMS, VOICE), of `number_type` when given
        (landline, landline-toll-free, mobile-lvn). Paged and matched as list_numbers."""
        build = self._search_builder(
            country=country,
            features=features,
            number_type=number_type,
            pattern=pattern,
            match=match,
            size=size,
            index=index,
        )
        return self._read_page(await self._answer(build, "number/search"), "number/search")

    async def buy_number(self, number: str, *, country: str | None = None) -> str:
        """Phone numbers `number/buy`: rent `number` (billed to the account). `country`
        defaults to the number's own. Returns the number, canonical."""
        build, canonical = self._change_builder("buy", number, country)
        self._read_change(await self._answer(build, "number/buy"), "buy", canonical)
        return canonical

    async def cancel_number(self, number: str, *, country: str | None = None) -> str:
        """Phone numbers `number/cancel`: end the rental of `number`; its inbound texts stop.
        Returns the number, canonical."""
        build, canonical = self._change_builder("cancel", number, country)
        self._read_change(await self._answer(build, "number/cancel"), "cancel", canonical)
        return canonical

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> KpnSms:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ the wire

    async def _attempt(self, plan: SendPlan, number: str) -> RecipientResult:
        attempts = Attempts(number, self.settings, time.monotonic())
        while True:
            token: Token | None = None
            try:
                token = await self._auth.get()
                async with self._slots:
                    await self._limiter.acquire()
                    answer = await self._exchange(
                        self._send_request(token, plan, number), mask_number(number)
                    )
                outcome = self._read_send(answer, number)
            except KpnSmsError as err:  # no token (a renewal failed mid-batch), or no answer
                outcome = SendOutcome(error=err)
            after = self._settle(attempts, outcome, token, plan)
            if isinstance(after, RecipientResult):
                return after
            if after:
                await asyncio.sleep(after)

    async def _fetch_token(self) -> Token:
        return self._read_token(await self._exchange(self._token_request(), "token request"))

    async def _call(self, build: RequestBuilder) -> dict[str, Any]:
        """A non-send API call, with one token renewal on rejection."""
        return self._read_simple(await self._answer(build))

    async def _answer(self, build: RequestBuilder, what: str = "request") -> Answer:
        """The answer to a non-send request, made again once with a new token when the
        gateway rejects the token."""
        token = await self._auth.get()
        answer = await self._exchange(build(token), what)
        if protocol.is_token_rejection(answer[0], answer[2]):
            token = await self._auth.renew(token)
            answer = await self._exchange(build(token), what)
        return answer

    async def _exchange(self, request: ApiRequest, what: str) -> Answer:
        if self._http is None:
            # Reading the CA bundle is blocking I/O: keep it off the event loop.
            verify = await asyncio.to_thread(ssl_context)
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=self.settings.timeout, verify=verify)
        self.session.log_request(request)
        with self._wire_errors(request, what):
            response = await self._http.request(
                request.method,
                request.url,
                params=request.params or None,
                data=request.data or None,
                headers=request.headers,
                timeout=self.settings.timeout,
            )
            body = await response.aread()
        self.session.log_response(request, response.status_code, response.headers, body)
        return response.status_code, response.headers, body
