"""KPN's inbound SMS and delivery receipts arrive at a Home Assistant webhook and become
events; the webhook URL is registered with KPN.

Reading the body, parsing, de-duplication and reassembly are the library's
(`kpn_sms_notify.inbound`, the same code `kpn-sms serve` runs); this module only takes the
request's bytes (GET query, form POST or JSON POST, with or without a Content-Type), answers
KPN, and fires `kpn_sms_notify_inbound` / `kpn_sms_notify_delivery`. An inbound text that
answers an open question or acknowledges a notification is taken there instead
(reply_routing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import hdrs, web
from homeassistant.components import webhook
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError

from kpn_sms_notify.errors import KpnSmsError, KpnValidationError
from kpn_sms_notify.inbound import (
    InboundMessage,
    parse_delivery_receipt,
    parse_inbound,
    query_params,
    signature_problem,
    webhook_params,
)
from kpn_sms_notify.numbers import mask_number

from .const import (
    CONF_INBOUND_MODE,
    CONF_INBOUND_NUMBER,
    CONF_SIGNATURE_METHOD,
    CONF_SIGNATURE_SECRET,
    DEFAULT_TITLE,
    DOMAIN,
    EVENT_DELIVERY,
    EVENT_INBOUND,
    INBOUND_NONE,
    INBOUND_NUMBER_UPDATE,
    INBOUND_REGISTER,
    LOGGER,
    MAX_WEBHOOK_BODY,
)
from .reply_routing import route_reply
from .runtime import KpnRuntime, KpnSmsConfigEntry


async def read_params(request: web.Request) -> dict[str, Any]:
    """The webhook parameters, whichever way KPN sends them (the library's one reader)."""
    query = list(request.query.items())
    if request.method == "GET":
        return query_params(query)
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
        raise KpnValidationError(f"body: too large ({request.content_length} bytes)", field="body")
    body = bytearray()
    while chunk := await request.content.read(MAX_WEBHOOK_BODY + 1 - len(body)):
        body += chunk
        if len(body) > MAX_WEBHOOK_BODY:
            raise KpnValidationError("body: too large", field="body")
    return webhook_params(
        query=query, body=bytes(body), content_type=request.headers.get(hdrs.CONTENT_TYPE)
    )


def _is_receipt(params: Mapping[str, Any]) -> bool:
    # Only a delivery receipt carries `status`; an inbound SMS carries text/type instead.
    return "status" in params


async def async_handle_webhook(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, request: web.Request
) -> web.Response:
    """Answer KPN: 200 when handled (or a duplicate), 400 with the reason when unreadable."""
    runtime = entry.runtime_data
    try:
        params = await read_params(request)
    except KpnValidationError as err:
        LOGGER.warning("KPN webhook: rejected a request: %s", err)
        return web.Response(status=400, text=str(err))
    if not params:
        return web.Response(status=200, text="OK")  # KPN's GET check of moHttpUrl
    secret = entry.data.get(CONF_SIGNATURE_SECRET)
    # The replay window (timestamp within DEFAULT_MAX_SKEW, ids remembered as long) is the
    # library's, the same as `kpn-sms serve`'s.
    problem = secret and signature_problem(
        params, secret, entry.data.get(CONF_SIGNATURE_METHOD) or "md5hash"
    )
    if problem:
        LOGGER.warning("KPN webhook: rejected a request: %s", problem)
        return web.Response(status=401, text="bad signature")
    try:
        if _is_receipt(params):
            _handle_receipt(hass, entry, runtime, params)
        else:
            _handle_inbound(hass, entry, runtime, params)
    except KpnValidationError as err:
        LOGGER.warning("KPN webhook: rejected a payload: %s", err)
        return web.Response(status=400, text=str(err))
    return web.Response(status=200, text="OK")


def _handle_inbound(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, runtime: KpnRuntime, params: Mapping[str, Any]
) -> None:
    part = parse_inbound(params)
    message = runtime.assembler.feed(part)
    for expired in runtime.assembler.take_expired():  # given up waiting: hand out what came
        _fire_inbound(hass, entry, runtime, expired)
    if message is None:
        LOGGER.debug(
            "KPN inbound part %s from %s: duplicate or waiting for more parts",
            part.message_id,
            mask_number(part.msisdn),
        )
        return
    _fire_inbound(hass, entry, runtime, message)


def _fire_inbound(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, runtime: KpnRuntime, message: InboundMessage
) -> None:
    if route_reply(hass, entry, runtime, message):  # an answer or an ACK: taken, no event
        return
    runtime.inbound_events += 1
    LOGGER.debug(
        "KPN inbound SMS %s from %s (%d part(s))",
        message.message_id,
        mask_number(message.msisdn),
        message.received_parts,
    )
    hass.bus.async_fire(EVENT_INBOUND, {**message.to_dict(), "config_entry_id": entry.entry_id})


def _handle_receipt(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, runtime: KpnRuntime, params: Mapping[str, Any]
) -> None:
    receipt = parse_delivery_receipt(params)
    if not runtime.receipts_seen.first(receipt.key):
        LOGGER.debug("KPN delivery receipt %s/%s: duplicate", receipt.message_id, receipt.status)
        return
    runtime.delivery_events += 1
    hass.bus.async_fire(EVENT_DELIVERY, {**receipt.to_dict(), "config_entry_id": entry.entry_id})


def async_register_webhook(hass: HomeAssistant, entry: KpnSmsConfigEntry, webhook_id: str) -> None:
    async def handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
        return await async_handle_webhook(hass, entry, request)

    webhook.async_register(
        hass,
        DOMAIN,
        f"{entry.title or DEFAULT_TITLE} inbound SMS",
        webhook_id,
        handle,
        local_only=False,
        allowed_methods=("GET", "POST"),
    )


def _issue_id(entry: KpnSmsConfigEntry) -> str:
    return f"webhook_registration_{entry.entry_id}"


async def async_register_with_kpn(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, runtime: KpnRuntime
) -> None:
    """Tell KPN where to deliver inbound texts; a failure becomes a repair issue, not a crash.

    Sending does not depend on this, so the entry stays loaded either way.
    """
    mode = entry.data.get(CONF_INBOUND_MODE, INBOUND_NONE)
    number = entry.data.get(CONF_INBOUND_NUMBER)
    if mode == INBOUND_NONE or not number or runtime.webhook_id is None:
        runtime.registration = "disabled"
        return
    try:
        url = webhook.async_generate_url(hass, runtime.webhook_id)
    except NoURLAvailableError:
        _raise_issue(
            hass,
            entry,
            "Home Assistant has no URL that KPN can reach; set an "
            "external URL (https) under Settings > System > Network",
        )
        runtime.registration = "failed: no URL"
        return
    runtime.webhook_url = url
    try:
        if mode == INBOUND_REGISTER:
            await runtime.client.register_webhook(number, url)
        elif mode == INBOUND_NUMBER_UPDATE:
            await runtime.client.update_number(_country_of(number), number, url)
    except KpnSmsError as err:
        # The webhook id is a secret (it lets anyone post fake SMS): keep it out of the text.
        detail = str(err).replace(runtime.webhook_id, "<webhook_id>")
        runtime.registration = f"failed: {detail}"
        _raise_issue(hass, entry, detail)
        LOGGER.warning(
            "Could not register the inbound SMS webhook for %s with KPN (%s): %s",
            mask_number(number),
            mode,
            detail,
        )
        return
    runtime.registration = f"registered ({mode})"
    ir.async_delete_issue(hass, DOMAIN, _issue_id(entry))
    LOGGER.info(
        "KPN delivers inbound SMS for %s to this Home Assistant (%s)", mask_number(number), mode
    )


def _raise_issue(hass: HomeAssistant, entry: KpnSmsConfigEntry, error: str) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(entry),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="webhook_registration_failed",
        translation_placeholders={"title": entry.title, "error": error},
    )


def _country_of(number: str) -> str:
    """ISO country of an E.164 number, which number/update wants beside the msisdn."""
    import phonenumbers

    parsed = phonenumbers.parse("+" + number.lstrip("+"))
    return phonenumbers.region_code_for_number(parsed) or "NL"
