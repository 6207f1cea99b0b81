"""KpnSmsSync: the synchronous twin of KpnSms, on httpx.Client, for sync hosts (Apprise).

Same protocol core, same settings, same retry rules; recipients are fanned out on a small
thread pool, paced by one shared rate limiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Unpack

import httpx

from . import protocol
from .auth import SyncTokenManager, TokenStore
from .budget import BudgetStore
from .client_base import Answer, ClientBase, RequestBuilder, split_config
from .errors import KpnAuthError, KpnConnectionError, KpnSmsError
from .models import RecipientResult, SendReport, Token
from .numbers import mask_number
from .options import ClientOptions, SendOptions
from .phone_numbers import Match, NumberPage
from .protocol import ApiRequest, SendOutcome
from .ratelimit import SyncRateLimiter
from .sendguard import Ticket
from .sending import Attempts, Halt, SendPlan, prepare
from .transport import ssl_context


class KpnSmsSync(ClientBase):
    """Blocking client with the same methods as KpnSms."""

    _auth: SyncTokenManager
    _limiter: SyncRateLimiter

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        http_client: httpx.Client | None = None,
        token_store: TokenStore | None = None,
        budget_store: BudgetStore | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(client_id, client_secret, options, budget_store)
        self._http = http_client
        self._http_lock = threading.Lock()
        self._owns_http = http_client is None
        self._auth = SyncTokenManager(
            self._fetch_token, margin=self.settings.token_margin, store=token_store
        )
        self._limiter = SyncRateLimiter(self.settings.rate_limit)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        http_client: httpx.Client | None = None,
        token_store: TokenStore | None = None,
        budget_store: BudgetStore | None = None,
    ) -> KpnSmsSync:
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
        return self._auth.requests

    def authenticate(self) -> Token:
        return self._auth.get()

    def check_access(self) -> None:
        """See KpnSms.check_access."""
        self.authenticate()
        try:
            self._call(self._access_check_builder())
        except (KpnAuthError, KpnConnectionError):
            raise
        except KpnSmsError:
            pass  # refused for what it lacks (sender, number, text): the API itself is open

    def send(
        self,
        message: str,
        recipients: Iterable[str] | str | None = None,
        on_result: Callable[[RecipientResult], None] | None = None,
        **options: Unpack[SendOptions],
    ) -> SendReport:
        """See KpnSms.send: same arguments, same report, same guarantees."""
        plan = prepare(self.settings, message, recipients, **options)
        self._auth.get()
        self.send_due()  # a storm window that has ended: its digest goes first
        halt = Halt(self.settings)

        def one(number: str) -> RecipientResult:
            result = halt.skipped(number) or self._guard_check(plan, number)
            if isinstance(result, Ticket):
                ticket, result = result, self._attempt(plan, number)
                self.guard.settle(ticket, result)
            halt.note(result)
            if on_result is not None:
                on_result(result)
            return result

        workers = min(self.settings.max_concurrency, len(plan.numbers))
        if workers == 1:  # one at a time, in this thread (max_concurrency 1, or one number)
            results = [one(number) for number in plan.numbers]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kpn-sms") as pool:
                results = list(pool.map(one, plan.numbers))
        halt.check(results)
        report = SendReport(tuple(results), text=plan.text, truncated=plan.truncated)
        self.session.record(report)
        self.send_due()  # notices this batch raised (budget reached, balance low)
        return report

    def send_due(self) -> tuple[RecipientResult, ...]:
        """See KpnSms.send_due."""
        results: list[RecipientResult] = []
        for kind, plan in self._due_plans():
            for number in plan.numbers:
                result = self._attempt(plan, number)
                self._after_due(kind, result)
                results.append(result)
        return tuple(results)

    def register_webhook(self, to: str, callback_url: str) -> str:
        data = self._call(self._register_builder(to, callback_url))
        return str(data.get("message") or "registered")

    def update_number(self, country: str, msisdn: str, mo_http_url: str) -> None:
        self._call(self._number_update_builder(country, msisdn, mo_http_url))

    def list_numbers(
        self, *, pattern: str | None = None, match: Match = "start", size: int = 10, index: int = 1
    ) -> NumberPage:
        """See KpnSms.list_numbers."""
        build = self._list_builder(pattern=pattern, match=match, size=size, index=index)
        return self._read_page(self._answer(build, "account/numbers"), "account/numbers")

    def search_numbers(
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
        """See KpnSms.search_numbers."""
        build = self._search_builder(
            country=country,
            features=features,
            number_type=number_type,
            pattern=pattern,
            match=match,
            size=size,
            index=index,
        )
        return self._read_page(self._answer(build, "number/search"), "number/search")

    def buy_number(self, number: str, *, country: str | None = None) -> str:
        """See KpnSms.buy_number."""
        build, canonical = self._change_builder("buy", number, country)
        self._read_change(self._answer(build, "number/buy"), "buy", canonical)
        return canonical

    def cancel_number(self, number: str, *, country: str | None = None) -> str:
        """See KpnSms.cancel_number."""
        build, canonical = self._change_builder("cancel", number, country)
        self._read_change(self._answer(build, "number/cancel"), "cancel", canonical)
        return canonical

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> KpnSmsSync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _attempt(self, plan: SendPlan, number: str) -> RecipientResult:
        attempts = Attempts(number, self.settings, time.monotonic())
        while True:
            token: Token | None = None
            try:
                token = self._auth.get()
                self._limiter.acquire()
                answer = self._exchange(
                    self._send_request(token, plan, number), mask_number(number)
                )
                outcome = self._read_send(answer, number)
            except KpnSmsError as err:  # no token (a renewal failed mid-batch), or no answer
                outcome = SendOutcome(error=err)
            after = self._settle(attempts, outcome, token, plan)
            if isinstance(after, RecipientResult):
                return after
            if after:
                time.sleep(after)

    def _fetch_token(self) -> Token:
        return self._read_token(self._exchange(self._token_request(), "token request"))

    def _call(self, build: RequestBuilder) -> dict[str, Any]:
        """A non-send API call, with one token renewal on rejection."""
        return self._read_simple(self._answer(build))

    def _answer(self, build: RequestBuilder, what: str = "request") -> Answer:
        """See KpnSms._answer."""
        token = self._auth.get()
        answer = self._exchange(build(token), what)
        if protocol.is_token_rejection(answer[0], answer[2]):
            token = self._auth.renew(token)
            answer = self._exchange(build(token), what)
        return answer

    def _client(self) -> httpx.Client:
        # Worker threads share one client (and its connection pool); made once, under a lock.
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.settings.timeout, verify=ssl_context())
            return self._http

    def _exchange(self, request: ApiRequest, what: str) -> Answer:
        http = self._http or self._client()
        self.session.log_request(request)
        with self._wire_errors(request, what):
            response = http.request(
                request.method,
                request.url,
                params=request.params or None,
                data=request.data or None,
                headers=request.headers,
                timeout=self.settings.timeout,
            )
            body = response.read()
        self.session.log_response(request, response.status_code, response.headers, body)
        return response.status_code, response.headers, body
