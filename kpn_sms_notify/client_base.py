"""What KpnSms and its sync twin KpnSmsSync share: settings, bookkeeping, the requests they
build and how they read the answers. No I/O here; each client only adds the waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

import httpx

from . import phone_numbers, protocol
from .budget import BudgetStore
from .errors import KpnSmsError, KpnValidationError
from .models import RecipientResult, Token
from .numbers import mask_number, normalize_number
from .options import CLIENT_KEYS, ClientOptions, check_names
from .phone_numbers import NumberPage
from .protocol import ApiRequest, SendOutcome
from .sendguard import SendGuard, Ticket
from .sending import Attempts, SendPlan, prepare
from .session import Session
from .settings import Settings
from .transport import library_errors

_LOGGER = logging.getLogger("kpn_sms_notify.guard")

RequestBuilder = Callable[[Token], ApiRequest]
Answer = tuple[int, httpx.Headers, bytes]  # status, headers, body of one HTTP answer


def split_config(config: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(client_id, client_secret, the other options) of a config mapping."""
    options = {k: v for k, v in config.items() if k not in ("client_id", "client_secret")}
    return config["client_id"], config["client_secret"], options


class _Tokens(Protocol):
    def drop(self, rejected: Token) -> None: ...


class _Limiter(Protocol):
    def pause(self, seconds: float) -> None: ...


class ClientBase:
    # Set by each client: its token manager and rate limiter (async or sync).
    _auth: _Tokens
    _limiter: _Limiter

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        options: ClientOptions,
        budget_store: BudgetStore | None = None,
    ) -> None:
        check_names(options, CLIENT_KEYS)  # before anything: a typo must not pass silently
        self.settings = Settings.from_config(
            {"client_id": client_id, "client_secret": client_secret, **options}
        )
        self.session = Session(self.settings)
        # The storm cap, the daily budget and the balance warning (sendguard.py).
        self.guard = SendGuard(self.settings, store=budget_store)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(client_id={self.settings.client_id!r}, "
            f"base_url={self.settings.base_url!r})"
        )

    # ------------------------------------------------------------ requests

    def _token_request(self) -> ApiRequest:
        return protocol.token_request(
            self.settings.base_url, self.settings.client_id, self.settings.client_secret
        )

    def _send_request(self, token: Token, plan: SendPlan, number: str) -> ApiRequest:
        return protocol.send_request(self.settings.base_url, token, to=number, **plan.fields)

    def _access_check_builder(self) -> RequestBuilder:
        return lambda token: protocol.access_check_request(self.settings.base_url, token)

    def _register_builder(self, to: str, callback_url: str) -> RequestBuilder:
        number = normalize_number(to, self.settings.region, field="to")
        url = checked_url("callback_url", callback_url)
        return lambda token: protocol.register_request(
            self.settings.base_url, token, to=number, callback_url=url
        )

    def _number_update_builder(self, country: str, msisdn: str, mo_http_url: str) -> RequestBuilder:
        number = normalize_number(msisdn, self.settings.region, field="msisdn")
        url = checked_url("moHttpUrl", mo_http_url) if mo_http_url else ""  # "" clears it
        return lambda token: protocol.number_update_request(
            self.settings.base_url, token, country=country, msisdn=number, mo_http_url=url
        )

    def _list_builder(
        self, *, pattern: str | None, match: str, size: int, index: int
    ) -> RequestBuilder:
        params = phone_numbers.page_params(pattern=pattern, match=match, size=size, index=index)
        return lambda token: phone_numbers.list_request(self.settings.base_url, token, params)

    def _search_builder(
        self,
        *,
        country: str | None,
        features: Iterable[str] | str,
        number_type: str | None,
        pattern: str | None,
        match: str,
        size: int,
        index: int,
    ) -> RequestBuilder:
        params = phone_numbers.search_params(
            country=self.settings.region if country is None else country,
            features=features,
            number_type=number_type,
            pattern=pattern,
            match=match,
            size=size,
            index=index,
        )
        return lambda token: phone_numbers.search_request(self.settings.base_url, token, params)

    def _change_builder(
        self, action: Literal["buy", "cancel"], number: str, country: str | None
    ) -> tuple[RequestBuilder, str]:
        """The buy or cancel request, and the number it is about (canonical)."""
        canonical = normalize_number(number, self.settings.region, field="number")
        code = phone_numbers.number_country(canonical, country)
        return (
            lambda token: phone_numbers.change_request(
                self.settings.base_url, token, action, country=code, number=canonical
            ),
            canonical,
        )

    # ------------------------------------------------------------ the send guard

    def _guard_check(self, plan: SendPlan, number: str) -> Ticket | RecipientResult:
        return self.guard.check(
            number, text=plan.text, parts=plan.parts, urgent=plan.urgent, fields=plan.fields
        )

    def _due_plans(self) -> list[tuple[str, SendPlan]]:
        """What the guard has due, ready for the wire: ("digest", plan) for each ended storm
        window with texts held back, ("notice", plan) for each notice to the admins. These
        are not checked by the guard again (their cost is booked)."""
        due: list[tuple[str, SendPlan]] = []
        for digest in self.guard.due_digests():
            plan = self._plan_of("digest", digest.text, [digest.recipient], digest.fields)
            if plan is not None:
                due.append(("digest", plan))
        for notice in self.guard.take_notices():
            plan = self._plan_of("notice", notice.text, list(self.guard.admins), notice.fields)
            if plan is not None:
                due.append(("notice", plan))
        return due

    def _plan_of(
        self, kind: str, text: str, numbers: list[str], fields: dict[str, object]
    ) -> SendPlan | None:
        sender = fields.get("sender")
        try:
            return prepare(
                self.settings, text, numbers, sender=sender if isinstance(sender, str) else None
            )
        except KpnSmsError as err:  # no sender configured: say so, do not fail the caller
            _LOGGER.warning("%s not sent: %s", kind, err)
            return None

    def _after_due(self, kind: str, result: RecipientResult) -> None:
        self.guard.book(result)
        if result.ok:
            if kind == "digest":
                self.guard.digest_sent()
            _LOGGER.info("%s: %s", kind, result.describe())
        else:
            _LOGGER.warning("%s: %s", kind, result.describe())

    # ------------------------------------------------------------ attempts and answers

    def _settle(
        self, attempts: Attempts, outcome: SendOutcome, token: Token | None, plan: SendPlan
    ) -> RecipientResult | float:
        """After one attempt at a recipient: its result when final, else the seconds to wait
        before the next attempt (0: at once, with a new token). The retry policy decides;
        this applies it to the client's shared token and pacing."""
        attempts.count += 1
        retry = attempts.next(outcome, time.monotonic())
        if retry is None:
            return attempts.result(outcome, plan.truncated)
        if retry.renew_token:
            if token is not None:
                self._auth.drop(token)  # the next attempt fetches a new one, shared by all
            return 0.0
        if retry.pause:
            self._limiter.pause(retry.pause)
        self.session.retries += 1
        # On the client's own logger (kpn_sms_notify.client or .sync_client), as before.
        logging.getLogger(type(self).__module__).debug(
            "%s: retrying in %.2fs (%s)",
            mask_number(attempts.recipient),
            retry.delay,
            outcome.error,
        )
        return retry.delay

    def _wire_errors(self, request: ApiRequest, what: str) -> AbstractContextManager[None]:
        """Around one exchange: an httpx failure becomes a library error, raised from it."""
        return library_errors(request, what=what, timeout=self.settings.timeout)

    def _read_send(self, answer: Answer, number: str) -> SendOutcome:
        status, headers, body = answer
        outcome = protocol.parse_send(status, headers, body, recipient=number)
        self.session.saw(outcome.headers)
        return outcome

    def _read_token(self, answer: Answer) -> Token:
        status, headers, body = answer
        token = protocol.parse_token(status, headers, body)
        self.session.saw(protocol.parse_headers(headers))
        return token

    def _read_simple(self, answer: Answer) -> dict[str, Any]:
        status, headers, body = answer
        self.session.saw(protocol.parse_headers(headers))
        return protocol.parse_simple(status, headers, body)

    def _read_page(self, answer: Answer, what: str) -> NumberPage:
        status, headers, body = answer
        self.session.saw(protocol.parse_headers(headers))
        return phone_numbers.parse_page(status, headers, body, what=what)

    def _read_change(self, answer: Answer, action: str, number: str) -> None:
        status, headers, body = answer
        self.session.saw(protocol.parse_headers(headers))
        phone_numbers.parse_change(status, headers, body, action=action, number=number)


def checked_url(field: str, url: str) -> str:
    """A webhook URL: https, or http on loopback (the emulator)."""
    from .schema import url_validator

    try:
        return url_validator("callback")(url)
    except Exception as err:
        raise KpnValidationError(f"{field}: {err} (got {url!r})", field=field, value=url) from None
