"""`POST /alertmanager`, `POST /grafana`, `POST /notify`: alerts in, texts out.

The answer tells the sender whether to try again: 200 when every recipient was accepted
by KPN or refused for good, 503 when any failure was transient (Alertmanager and Grafana
retry 5xx, not 4xx). Recipients already texted for this notification are skipped, so a
retry texts only those still owed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..encoding import Overflow
from ..errors import KpnSmsError, KpnValidationError
from ..numbers import mask_number, normalize_number
from ..options import SendOptions
from .alerts import parse_alert_payload, parse_notify_payload, route_notification
from .auth import check_credentials, unauthorized
from .state import ServerState, read_json, state_of
from .text import render

_LOGGER = logging.getLogger("kpn_sms_notify.server")


@dataclass
class Outcome:
    """Per-recipient results of one webhook call."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    transient: bool = False

    def add(self, recipient: str, outcome: str, reason: str | None = None) -> None:
        row: dict[str, Any] = {"recipient": mask_number(recipient), "outcome": outcome}
        if reason:
            row["reason"] = reason
        self.rows.append(row)

    def response(self, endpoint: str, state: ServerState) -> web.Response:
        answer = "retry" if self.transient else "ok"
        state.metrics.inc("kpn_sms_notifications_total", endpoint=endpoint, answer=answer)
        body = {"status": answer, "results": self.rows}
        return web.json_response(body, status=503 if self.transient else 200)


async def deliver(
    state: ServerState,
    identity: str,
    text: str,
    recipients: tuple[str, ...] | list[str],
    outcome: Outcome,
    *,
    endpoint: str,
    title: str | None = None,
    overflow: Overflow = "truncate",
    urgent: bool = False,
    sender: str | None = None,
) -> None:
    """Text those recipients not yet texted for `identity`; record who is done. `urgent`
    texts go past the daily budget (never past the storm cap); `sender` replaces the
    configured one (paging sends from its virtual number)."""
    owed = state.sent_log.pending(identity, recipients)
    for number in recipients:
        if number not in owed:
            outcome.add(number, "already_sent")
            state.metrics.inc("kpn_sms_texts_deduplicated_total", endpoint=endpoint)
    if not owed:
        return
    sms = state.client()
    try:
        options: SendOptions = {"title": title, "overflow": overflow, "urgent": urgent}
        if sender is not None:
            options["sender"] = sender
        report = await sms.send(text, owed, **options)
    except KpnValidationError:
        raise  # bad input from the payload: 400
    except KpnSmsError as err:
        # send() raising means nothing was sent (login refused, gateway unreachable): all
        # owed, try again. Per recipient, the error's own `permanent` decides (below).
        outcome.transient = True
        for number in owed:
            outcome.add(number, "retry", str(err))
        state.metrics.inc(
            "kpn_sms_texts_failed_total", len(owed), endpoint=endpoint, kind="transient"
        )
        _LOGGER.warning("%s: nothing sent: %s", endpoint, err)
        return
    finally:
        state.metrics.saw_quota(sms.session.quota)
    done: list[str] = []
    for result in report.results:
        if result.ok:
            done.append(result.recipient)
            outcome.add(result.recipient, "sent")
            state.metrics.inc("kpn_sms_texts_sent_total", endpoint=endpoint)
            _LOGGER.info("%s: %s", endpoint, result.describe())
        elif result.suppressed:
            done.append(result.recipient)  # held back by the send guard: not retried
            outcome.add(result.recipient, "suppressed", result.reason)
            _LOGGER.info("%s: %s", endpoint, result.describe())
        elif result.permanent:
            done.append(result.recipient)  # sending again will not help: do not ask for a retry
            outcome.add(result.recipient, "failed", result.reason)
            state.metrics.inc("kpn_sms_texts_failed_total", endpoint=endpoint, kind="permanent")
            _LOGGER.warning("%s: %s (permanent)", endpoint, result.describe())
        else:
            outcome.transient = True
            outcome.add(result.recipient, "retry", result.reason)
            state.metrics.inc("kpn_sms_texts_failed_total", endpoint=endpoint, kind="transient")
            _LOGGER.warning("%s: %s (will be retried)", endpoint, result.describe())
    await state.sent_log.mark(identity, done)


async def _alerts(request: web.Request, source: str) -> web.Response:
    state = state_of(request)
    if not check_credentials(request, state.config):
        state.metrics.inc("kpn_sms_webhook_rejected_total", reason="unauthorized")
        return unauthorized(state.config)
    notification = parse_alert_payload(await read_json(request), source)
    jobs = route_notification(notification, state.config.routes, state.fallback)
    outcome = Outcome()
    if not jobs:
        state.metrics.inc("kpn_sms_unrouted_alerts_total", endpoint=source)
        _LOGGER.warning(
            "%s: no recipients for receiver %r; set serve.receivers or recipients",
            source,
            notification.receiver,
        )
        return outcome.response(source, state)
    async with state.sent_log.lock(notification.identity):
        for job in jobs:
            text = render(notification, job.alerts, job.template or state.config.template)
            urgent = any(
                a.labels.get("severity") in state.config.urgent_severities for a in job.alerts
            )
            await deliver(
                state,
                notification.identity,
                text,
                job.recipients,
                outcome,
                endpoint=source,
                urgent=urgent,
            )
    return outcome.response(source, state)


async def alertmanager(request: web.Request) -> web.Response:
    return await _alerts(request, "alertmanager")


async def grafana(request: web.Request) -> web.Response:
    return await _alerts(request, "grafana")


async def notify(request: web.Request) -> web.Response:
    state = state_of(request)
    if not check_credentials(request, state.config):
        state.metrics.inc("kpn_sms_webhook_rejected_total", reason="unauthorized")
        return unauthorized(state.config)
    rules = state.config.notify
    if not rules.enabled:
        return web.json_response(
            {"error": "forbidden", "reason": "/notify is turned off (serve.notify.enabled)"},
            status=403,
        )
    notice = parse_notify_payload(await read_json(request), request.headers.get("Idempotency-Key"))
    if notice.recipients is None:
        recipients = state.fallback
    else:
        recipients = _allowed_recipients(state, notice.recipients)
    recipients = list(dict.fromkeys(recipients))
    outcome = Outcome()
    if not recipients:
        raise KpnValidationError("recipients: none given and none configured", field="recipients")
    async with state.sent_log.lock(notice.identity):
        await deliver(
            state,
            notice.identity,
            notice.message,
            recipients,
            outcome,
            endpoint="notify",
            title=notice.title,
            overflow=state.client_config["overflow"],
            urgent=notice.urgent,
        )
    return outcome.response("notify", state)


def _allowed_recipients(state: ServerState, given: list[str] | tuple[str, ...]) -> list[str]:
    """The caller's recipients (numbers, or labels of the configured `recipients:`), each
    checked against `serve.notify.allow`; over the cap or one refused: nothing is sent."""
    rules = state.config.notify
    if len(given) > rules.max_recipients:
        raise KpnValidationError(
            f"recipients: {len(given)} given, at most {rules.max_recipients} per request "
            "(serve.notify.max_recipients)",
            field="recipients",
        )
    configured = state.client_config.get("recipients")
    labels: dict[str, str] = configured if isinstance(configured, dict) else {}
    region = state.client_config["region"]
    out = []
    for i, entry in enumerate(given):
        if isinstance(entry, str) and entry in labels:
            number = labels[entry]
        else:
            number = normalize_number(entry, region, field=f"recipients[{i}]")
        if rules.allow is not None and number not in rules.allow:
            raise NotAllowed(f"recipients[{i}]: {mask_number(number)} is not in serve.notify.allow")
        out.append(number)
    return out


class NotAllowed(KpnValidationError):
    """A /notify recipient outside the allow-list: answered 403."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="recipients")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/alertmanager", alertmanager)
    app.router.add_post("/grafana", grafana)
    app.router.add_put("/grafana", grafana)  # Grafana's webhook may be set to PUT
    app.router.add_post("/notify", notify)
