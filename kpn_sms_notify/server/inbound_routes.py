"""`GET|POST /inbound/{secret}` and `GET|POST /delivery/{secret}`: what KPN pushes to us.

KPN (Vonage) delivers at least once and retries anything but 200/204, every minute, for a
day (inbound) or three (receipts). So: a wrong path secret is a 404 (nothing to find here),
a bad signature 401, a malformed payload 400 with the reason; a text is handed to every
sink *before* the 200, and a sink failure is a 503 so the gateway tries again later.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..inbound import InboundMessage, parse_delivery_receipt, parse_inbound
from ..numbers import mask_number
from .auth import check_path_secret, check_signature
from .journal import receipt_key
from .sinks import SinkError
from .state import ServerState, read_params, state_of

_LOGGER = logging.getLogger("kpn_sms_notify.server")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _ok() -> web.Response:
    return web.Response(text="ok")


def _retry_later(reason: str) -> web.Response:
    return web.json_response({"error": "try again", "reason": reason}, status=503)


async def _guard(request: web.Request, kind: str) -> tuple[ServerState, dict[str, Any] | None]:
    """Check the path secret and signature; return the parameters (None for a probe)."""
    state = state_of(request)
    if not check_path_secret(request, state.config):
        state.metrics.inc("kpn_sms_webhook_rejected_total", reason="path_secret")
        raise web.HTTPNotFound()
    params = await read_params(request)
    if not params:
        return state, None  # KPN's number/update checks the URL with a bare GET: answer 200
    problem = check_signature(params, state.config)
    if problem is not None:
        state.metrics.inc("kpn_sms_webhook_rejected_total", reason="signature")
        _LOGGER.warning("%s: refused: %s", kind, problem)
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "unauthorized", "reason": problem}),
            content_type="application/json",
        )
    return state, params


async def _hand_out(state: ServerState, message: InboundMessage) -> None:
    record = {"kind": "inbound", "received_at": _now(), **message.to_dict()}
    with state.journal.keeping(message.parts):  # journaled parts stay until it is stored
        await state.sinks.deliver(f"in:{message.message_id}", record)
        if state.sinks.jsonl() is None:  # with a JSONL sink, its records are the "done" list
            await state.journal.done(message.message_ids)
    state.metrics.inc("kpn_sms_inbound_received_total")
    if state.paging is not None:  # a reply to a page, maybe: the paging engine reads it
        state.paging.take_reply(message.msisdn, message.text, message.message_id)
    _LOGGER.info(
        "inbound text from %s (%d part(s), %d chars)%s",
        mask_number(message.msisdn),
        message.received_parts,
        len(message.text),
        "" if message.complete else " INCOMPLETE: parts missing after the wait",
    )


async def flush_expired(state: ServerState) -> None:
    """Texts whose missing parts never came: hand out what arrived rather than lose it."""
    for message in state.assembler.take_expired():
        try:
            await _hand_out(state, message)
        except (SinkError, OSError) as err:
            state.metrics.inc("kpn_sms_sink_errors_total", kind="inbound_expired")
            _LOGGER.error("incomplete inbound text could not be stored: %s", err)


async def inbound(request: web.Request) -> web.Response:
    state, params = await _guard(request, "inbound")
    if params is None:
        return _ok()
    part = parse_inbound(params)
    state.metrics.inc("kpn_sms_inbound_parts_total")
    await flush_expired(state)
    duplicates = state.assembler.duplicates
    message = state.assembler.feed(part)
    if message is None and state.assembler.duplicates > duplicates:
        state.metrics.inc("kpn_sms_inbound_duplicates_total")
        return _ok()  # stored before: tell the gateway to stop
    # The part now counts as seen; it stays so only once it is safely stored (journaled, or
    # its text in every sink). Any failure undoes that, so the redelivery is taken again.
    try:
        if message is None:
            await state.journal.part(part)  # waiting for the rest: keep it across a restart
        else:
            await _hand_out(state, message)
    except (SinkError, OSError) as err:
        state.assembler.retract(part, message)
        if message is None:
            return _retry_later(f"cannot journal the part: {getattr(err, 'strerror', err)}")
        state.metrics.inc("kpn_sms_sink_errors_total", kind="inbound")
        _LOGGER.error("inbound text not stored, asking for redelivery: %s", err)
        return _retry_later(str(err))
    except BaseException:
        state.assembler.retract(part, message)
        raise
    return _ok()


async def delivery(request: web.Request) -> web.Response:
    state, params = await _guard(request, "delivery")
    if params is None:
        return _ok()
    receipt = parse_delivery_receipt(params)
    record = {"kind": "delivery", "received_at": _now(), **receipt.to_dict()}
    key = receipt_key(record)
    if key in state.receipts:
        state.metrics.inc("kpn_sms_delivery_receipts_total", outcome="duplicate")
        return _ok()
    try:
        await state.sinks.deliver(f"dlr:{key}", record)
        if state.sinks.jsonl() is None:
            await state.journal.receipt(key)
    except (SinkError, OSError) as err:
        state.metrics.inc("kpn_sms_sink_errors_total", kind="delivery")
        _LOGGER.error("delivery receipt not stored, asking for redelivery: %s", err)
        return _retry_later(str(err))
    state.remember_receipt(key)
    state.metrics.inc("kpn_sms_delivery_receipts_total", outcome=receipt.outcome.value)
    _LOGGER.info(
        "delivery receipt for %s: %s%s",
        mask_number(receipt.msisdn or ""),
        receipt.status,
        f" ({receipt.error_meaning})" if receipt.err_code else "",
    )
    return _ok()


def add_routes(app: web.Application) -> None:
    for path, handler in (("/inbound/{secret}", inbound), ("/delivery/{secret}", delivery)):
        app.router.add_get(path, handler)
        app.router.add_post(path, handler)
