"""Acknowledging by text: a notification sent with `data: {ack: alert.garage_door}` carries a
reference ("Reply ACK 4K to acknowledge"); the reply `ACK 4K` (or `ACK` alone, when it is the
only one open to that number) from one of its recipients turns the alert off
(`alert.turn_off`, which stops its repeats), fires `kpn_sms_notify_acknowledged` for any other
entity, and texts a confirmation back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import voluptuous as vol
from homeassistant.const import STATE_IDLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.numbers import DEFAULT_REGION, mask_number, normalize_number

from .acknowledgements import Acknowledgeable
from .const import CONF_REGION, DATA_ACK, DOMAIN, EVENT_ACKNOWLEDGED, LOGGER
from .runtime import KpnRuntime, KpnSmsConfigEntry, reply_sender
from .send import async_send

ALERT_DOMAIN = "alert"


def ack_entities(value: Any) -> list[str]:
    """`data.ack`: one entity id or a list of them; ServiceValidationError naming the value."""
    try:
        entities: list[str] = cv.entity_ids(value)
    except vol.Invalid as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_data",
            translation_placeholders={"error": f"data.{DATA_ACK}: {err.error_message}"},
        ) from None
    if not entities:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_data",
            translation_placeholders={"error": f"data.{DATA_ACK}: names no entity"},
        )
    return entities


def has_ended(hass: HomeAssistant, ack: Acknowledgeable) -> bool:
    """Whether every entity of `ack` is an alert that stopped alerting (idle): then nothing is
    left to acknowledge, and `ACK` alone must not find it."""
    return all(
        e.split(".", 1)[0] == ALERT_DOMAIN
        and (state := hass.states.get(e)) is not None
        and state.state == STATE_IDLE
        for e in ack.entities
    )


def _numbers(entry: KpnSmsConfigEntry, targets: Iterable[str]) -> list[str]:
    region = entry.data.get(CONF_REGION, DEFAULT_REGION)
    try:
        return [normalize_number(t, region, field="target") for t in targets]
    except KpnValidationError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_input",
            translation_placeholders={"error": str(err)},
        ) from err


async def async_send_acknowledgeable(
    hass: HomeAssistant,
    entry: KpnSmsConfigEntry,
    runtime: KpnRuntime,
    message: Any,
    targets: Iterable[str],
    *,
    title: str | None,
    data: Mapping[str, Any],
) -> None:
    """Text `message` with the reference to acknowledge `data.ack` by, from the number that
    replies reach. A repeat for the same entities keeps the reference."""
    entities = ack_entities(data[DATA_ACK])
    sender = reply_sender(entry, what=f"data.{DATA_ACK}")
    numbers = _numbers(entry, targets)
    if not numbers:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_input",
            translation_placeholders={"error": "target: no recipient to text"},
        )
    if not isinstance(message, str) or not message.strip():
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="empty_message")
    runtime.acknowledgements.drop(lambda ack: has_ended(hass, ack))
    before = set(runtime.acknowledgements.references)
    ack = runtime.acknowledgements.open(
        entities=entities, numbers=numbers, taken=runtime.questions.references
    )
    options = {k: v for k, v in data.items() if k != DATA_ACK}
    try:
        await async_send(
            hass,
            runtime.client,
            f"{message}\nReply ACK {ack.reference} to acknowledge.",
            numbers,
            title=title,
            data={**options, "sender": sender},
            entry=entry,
            webhook_url=runtime.webhook_url,
        )
    except ServiceValidationError:
        if ack.reference not in before:  # nothing was sent: nobody can acknowledge it
            runtime.acknowledgements.discard(ack)
        raise


async def async_acknowledged(
    hass: HomeAssistant,
    entry: KpnSmsConfigEntry,
    runtime: KpnRuntime,
    ack: Acknowledgeable,
    msisdn: str,
) -> None:
    """Act on an acknowledgement from `msisdn`: alerts off, events, a confirmation text."""
    who = mask_number(msisdn)
    alerts = [e for e in ack.entities if e.split(".", 1)[0] == ALERT_DOMAIN]
    LOGGER.info("%s acknowledged %s (%s)", who, ", ".join(ack.entities), ack.reference)
    if alerts:
        try:
            await hass.services.async_call(
                ALERT_DOMAIN, "turn_off", {"entity_id": alerts}, blocking=True
            )
        except HomeAssistantError as err:
            LOGGER.warning("Could not turn off %s after ACK %s: %s", alerts, ack.reference, err)
    for entity_id in ack.entities:
        if entity_id not in alerts:
            hass.bus.async_fire(
                EVENT_ACKNOWLEDGED,
                {
                    "reference": ack.reference,
                    "entity_id": entity_id,
                    "from": who,
                    "config_entry_id": entry.entry_id,
                },
            )
    names = ", ".join(_name(hass, e) for e in ack.entities)
    await _answer(
        hass, entry, runtime, msisdn, f"Acknowledged {ack.reference}: {names}", "confirm an ACK"
    )


async def async_send_hint(
    hass: HomeAssistant,
    entry: KpnSmsConfigEntry,
    runtime: KpnRuntime,
    msisdn: str,
    typed: str | None,
) -> None:
    """Answer an `ACK` that fits none of the notifications open to `msisdn` (several open and
    no reference, or an unknown reference) with the references it can use."""
    choices = " or ".join(
        f"ACK {a.reference} ({', '.join(_name(hass, e) for e in a.entities)})"
        for a in runtime.acknowledgements.open_to(msisdn)
    )
    said = f"Nothing open as {typed}" if typed else "Several are open"
    await _answer(hass, entry, runtime, msisdn, f"{said}: reply {choices}", "answer an ACK")


async def _answer(
    hass: HomeAssistant,
    entry: KpnSmsConfigEntry,
    runtime: KpnRuntime,
    msisdn: str,
    text: str,
    what: str,
) -> None:
    """Text `msisdn` back from the number it replied to; a failure is logged, not raised."""
    try:
        await async_send(
            hass,
            runtime.client,
            text,
            [msisdn],
            data={"sender": reply_sender(entry, what="ACK")},
            entry=entry,
            webhook_url=runtime.webhook_url,
        )
    except HomeAssistantError as err:
        LOGGER.warning("Could not %s from %s: %s", what, mask_number(msisdn), err)


def _name(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    return state.name if state is not None else entity_id
