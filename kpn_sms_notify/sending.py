"""What both clients do around the wire, without I/O: prepare a notification, the retry
policy (after each attempt: stop, retry after how long, pause every send, or renew the token
first), and stop a batch that the gateway refuses as a whole.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Unpack

from .encoding import compose, fit
from .errors import KpnProductError, KpnSmsError, KpnValidationError
from .models import MessagePart, RecipientResult
from .numbers import mask_number, normalize_number
from .options import SendOptions
from .protocol import SendOutcome
from .settings import Settings
from .textclean import clean_sms_text

_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0
# A throttle that names no wait waits at least this long: rate limits are counted per second
# or longer (Vonage's 30/s, Apigee's quota and spike arrest), so sooner is throttled again.
_THROTTLE_FLOOR = 1.0


@dataclass(frozen=True, slots=True)
class SendPlan:
    """A notification ready for the wire: the text fitted, every number normalised."""

    text: str
    numbers: tuple[str, ...]
    fields: dict[str, Any]  # send_request keyword arguments, apart from `to`
    truncated: bool
    parts: int = 1
    urgent: bool = False  # goes past the daily budget (send_guard)


def prepare(
    settings: Settings,
    message: str,
    recipients: Iterable[str] | str | None = None,
    **options: Unpack[SendOptions],
) -> SendPlan:
    """Check everything before any request: a bad number or text sends nothing at all."""
    # The schema (voluptuous, phonenumbers) loads on the first send, not when Home Assistant
    # imports the client in its event loop.
    from .schema import validate_send_options

    given = validate_send_options(options)
    if not isinstance(message, str):
        raise KpnValidationError(
            f"message: expected text, got {type(message).__name__}", field="message"
        )
    # What a handset may show: lone surrogates as U+FFFD, no control or bidi characters.
    message = clean_sms_text(message)
    title = given.get("title")
    title = clean_sms_text(title) if title is not None else None
    if not message.strip():  # a title alone is not a notification
        raise KpnValidationError("message: the text is empty", field="message", value=message)
    if isinstance(recipients, str):
        recipients = [recipients]
    raw = list(settings.recipients if recipients is None else recipients)
    if not raw:
        raise KpnValidationError(
            "recipients: no recipients given or configured", field="recipients"
        )
    numbers = [
        normalize_number(n, settings.region, field=f"recipients[{i}]") for i, n in enumerate(raw)
    ]
    numbers = list(dict.fromkeys(numbers))  # one text per person, even if listed twice
    # An option not given is the configured one (validate_send_options drops a None).
    sender = given.get("sender") or settings.sender
    if sender is None:
        raise KpnValidationError("sender: no sender ID given or configured", field="sender")
    fitted = fit(
        compose(message, title),
        max_parts=given.get("max_parts") or settings.max_parts,
        overflow=given.get("overflow") or settings.overflow,
        unicode=given.get("unicode") or settings.unicode,
    )
    dlr_url = given.get("callback") or settings.callback
    wants_report = given.get("status_report")
    if wants_report is None:
        wants_report = settings.status_report or dlr_url is not None
    ref = given.get("client_ref")
    fields: dict[str, Any] = {
        "sender": sender,
        "text": fitted.text,
        "message_type": fitted.info.api_type,
        "ttl": settings.ttl,
        "status_report": True if wants_report else None,
        "callback": dlr_url,
        "client_ref": ref if ref is not None else settings.client_ref,
    }
    return SendPlan(
        fitted.text,
        tuple(numbers),
        fields,
        fitted.truncated,
        parts=fitted.info.parts,
        urgent=bool(given.get("urgent")),
    )


@dataclass(frozen=True, slots=True)
class Retry:
    """How to try a recipient again: at once with a new token (`renew_token`), or after
    `delay` seconds, with every send of the client paused for `pause` seconds meanwhile."""

    delay: float = 0.0
    pause: float = 0.0
    renew_token: bool = False


class Attempts:
    """The retry policy, for one recipient: after each attempt, stop or try again, and how.
    No I/O: both clients drive it the same way and only do the waiting.

    A rejected token is renewed once, and the request tried again at once. Other failures
    are retried as their error classifies them (errors.py): transient ones, and ambiguous
    ones (the request may have gone out: read time-outs, 500/502) only with
    `retry_ambiguous`, since a retry may text the person twice. Retries are bounded in count
    (`retries`) and in time (`retry_budget` seconds). A throttle (429, Vonage status 1, or
    Apigee's rate-limit fault on any status) sent nothing: it is retried after the quota
    window, and pauses every send of the client meanwhile.
    """

    def __init__(self, recipient: str, settings: Settings, started: float) -> None:
        self.recipient = recipient
        self.settings = settings
        self.started = started
        self.count = 0
        self.retries = 0
        self.token_renewed = False

    def next(self, outcome: SendOutcome, now: float) -> Retry | None:
        """How to try again after `outcome`, or None when it is final."""
        if outcome.ok:
            return None
        if outcome.token_rejected and not self.token_renewed:
            self.token_renewed = True
            return Retry(renew_token=True)
        delay = self._delay(outcome, now)
        if delay is None:
            return None
        # After a throttle every send waits: the window the gateway named, else this backoff.
        pause = 0.0
        if outcome.throttled:
            pause = outcome.wait if outcome.wait is not None else delay
        return Retry(delay=delay, pause=pause)

    def _delay(self, outcome: SendOutcome, now: float) -> float | None:
        retryable = outcome.retry or (outcome.ambiguous and self.settings.retry_ambiguous)
        if not retryable or self.retries >= self.settings.retries:
            return None
        backoff = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**self.retries)
        delay = random.uniform(backoff / 2, backoff)  # jitter spreads a herd of retries
        if outcome.wait is not None:
            delay = max(delay, outcome.wait)
        elif outcome.throttled:
            delay = max(delay, _THROTTLE_FLOOR)
        if now + delay - self.started > self.settings.retry_budget:
            return None
        self.retries += 1
        return delay

    def result(self, outcome: SendOutcome, truncated: bool) -> RecipientResult:
        if outcome.error is None:
            return RecipientResult(
                self.recipient,
                True,
                parts=outcome.parts,
                status="0",
                attempts=self.count,
                truncated=truncated,
            )
        return self.failure(outcome.error, status=outcome.status, parts=outcome.parts)

    def failure(
        self, error: KpnSmsError, *, status: str | None = None, parts: tuple[MessagePart, ...] = ()
    ) -> RecipientResult:
        reason = str(error)
        prefix = f"{mask_number(self.recipient)}: "
        if reason.startswith(prefix):
            reason = reason[len(prefix) :]
        if self.retries:
            reason += f" (after {self.count} attempts)"
        # `permanent` is the error's own: bad input, a refusal sending again cannot change,
        # or a partly sent text (sending it again would repeat the accepted parts). Refused
        # credentials are not: once they are fixed, the same text goes through, so a host
        # that can retry (serve, Alertmanager) should.
        return RecipientResult(
            self.recipient,
            False,
            parts=parts,
            status=status,
            reason=reason,
            error=error,
            attempts=self.count,
            permanent=error.permanent,
        )


class Halt:
    """Stops a batch at the first refusal that is about the app, not the recipient (its SMS
    product is missing): every other recipient would get the same answer. Shared by the
    workers of one `send()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.error: KpnProductError | None = None

    def note(self, result: RecipientResult) -> None:
        if self.error is None and isinstance(result.error, KpnProductError):
            self.error = result.error

    def skipped(self, number: str) -> RecipientResult | None:
        """The result of a recipient not tried because the batch was halted, or None."""
        if self.error is None:
            return None
        return Attempts(number, self.settings, 0.0).failure(self.error)

    def check(self, results: Sequence[RecipientResult]) -> None:
        """Every recipient refused for the app's missing product: nothing was sent, so the
        notification fails as a whole (KpnProductError, a KpnAuthError) like a refused login."""
        if self.error is not None and all(isinstance(r.error, KpnProductError) for r in results):
            raise self.error
