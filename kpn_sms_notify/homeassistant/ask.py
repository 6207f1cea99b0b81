"""The `kpn_sms_notify.ask` action: text a question, wait (without blocking the event loop) for
the first fitting reply from that number, and return it as the action's response.

The question goes out from the entry's virtual number, so that the reply reaches the inbound
webhook, where reply_routing.py hands it to the waiting question (questions.py).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import entity_registry as er

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.numbers import DEFAULT_REGION, mask_number, normalize_number
from kpn_sms_notify.replies import reply_words

from .const import CONF_NUMBER, CONF_REGION, DOMAIN, SERVICE_ASK
from .questions import Question, Reply
from .runtime import KpnRuntime, KpnSmsConfigEntry, reply_sender
from .send import async_send

DEFAULT_TIMEOUT = timedelta(minutes=5)
MAX_TIMEOUT = timedelta(hours=1)  # a script waiting longer should not hold a service call
MIN_TIMEOUT = timedelta(seconds=1)
# Questions waiting at once, per entry: a runaway automation gets an error, not a pile of texts.
MAX_OPEN_QUESTIONS = 100

ATTR_MESSAGE = "message"
ATTR_TARGET = "target"
ATTR_OPTIONS = "options"
ATTR_TIMEOUT = "timeout"
ATTR_DEFAULT = "default"
ATTR_CONFIG_ENTRY = "config_entry_id"


def _option(value: Any) -> str:
    text = cv.string(value).strip()
    if not reply_words(text):
        raise vol.Invalid(f"{text!r} has no letters or digits, so no reply can match it")
    return text


ASK_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_MESSAGE): cv.string,
        vol.Required(ATTR_TARGET): cv.string,
        vol.Optional(ATTR_OPTIONS, default=list): vol.All(cv.ensure_list, [_option]),
        vol.Optional(ATTR_TIMEOUT, default=DEFAULT_TIMEOUT): vol.All(
            cv.time_period, vol.Range(min=MIN_TIMEOUT, max=MAX_TIMEOUT)
        ),
        vol.Optional(ATTR_DEFAULT): cv.string,
        vol.Optional(ATTR_CONFIG_ENTRY): cv.string,
    }
)


def async_register_ask(hass: HomeAssistant) -> None:
    """Register the action (once, in async_setup: it serves every entry)."""

    async def handle(call: ServiceCall) -> ServiceResponse:
        return await async_ask(hass, call)

    hass.services.async_register(
        DOMAIN, SERVICE_ASK, handle, schema=ASK_SCHEMA, supports_response=SupportsResponse.ONLY
    )


def _invalid(error: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="ask_invalid",
        translation_placeholders={"error": error},
    )


def _loaded_entries(hass: HomeAssistant) -> list[KpnSmsConfigEntry]:
    return [
        e
        for e in hass.config_entries.async_entries(DOMAIN)
        if e.state is ConfigEntryState.LOADED and isinstance(e.runtime_data, KpnRuntime)
    ]


def _entry_for(hass: HomeAssistant, entry_id: str | None) -> KpnSmsConfigEntry:
    entries = _loaded_entries(hass)
    if entry_id is not None:
        entries = [e for e in entries if e.entry_id == entry_id]
        if not entries:
            raise _invalid(f"{ATTR_CONFIG_ENTRY}: {entry_id!r} is no loaded KPN SMS entry")
    if not entries:
        raise _invalid("no KPN SMS entry is loaded")
    if len(entries) > 1:
        raise _invalid(f"several KPN SMS entries are loaded: name one with {ATTR_CONFIG_ENTRY}")
    return entries[0]


def _target(
    hass: HomeAssistant, target: str, entry_id: str | None
) -> tuple[KpnSmsConfigEntry, str]:
    """The entry and the canonical number of `target`: a recipient entity or a number."""
    if target.startswith("notify."):
        entity = er.async_get(hass).async_get(target)
        if entity is None or entity.platform != DOMAIN or entity.config_entry_id is None:
            raise _invalid(f"{ATTR_TARGET}: {target} is not a KPN SMS recipient")
        entry = _entry_for(hass, entity.config_entry_id)
        subentry = entry.subentries.get(str(getattr(entity, "config_subentry_id", None)))
        if subentry is None:
            raise _invalid(f"{ATTR_TARGET}: {target} is not a KPN SMS recipient")
        raw = subentry.data[CONF_NUMBER]
    else:
        entry = _entry_for(hass, entry_id)
        raw = target
    try:
        return entry, normalize_number(
            raw, entry.data.get(CONF_REGION, DEFAULT_REGION), field=ATTR_TARGET
        )
    except KpnValidationError as err:
        raise _invalid(str(err)) from err


def question_text(message: str, options: list[str], question: Question) -> str:
    """The question as texted: the options to reply with, and the reference when needed."""
    ref = f" {question.reference}" if question.reference_shown else ""
    if options:
        choices = [f"{option}{ref}" for option in options]
        said = choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"
        return f"{message}\nReply {said}"
    if ref:
        return f"{message}\nStart your reply with{ref}"
    return message


async def async_ask(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Text the question and wait for the answer, the timeout or the entry's unload."""
    data = call.data
    entry, number = _target(hass, data[ATTR_TARGET], data.get(ATTR_CONFIG_ENTRY))
    runtime = entry.runtime_data
    sender = reply_sender(entry, what=f"{DOMAIN}.{SERVICE_ASK}")
    message: str = data[ATTR_MESSAGE]
    if not message.strip():
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="empty_message")
    options: list[str] = data[ATTR_OPTIONS]
    if len(runtime.questions) >= MAX_OPEN_QUESTIONS:
        raise _invalid(f"{MAX_OPEN_QUESTIONS} questions are already waiting for an answer")
    question = runtime.questions.open(
        number=number, options=options, taken=runtime.acknowledgements.references
    )
    started = time.monotonic()
    reply: Reply | None = None
    timed_out = False
    try:
        report = await async_send(
            hass,
            runtime.client,
            question_text(message, options, question),
            [number],
            data={"sender": sender},
            entry=entry,
            webhook_url=runtime.webhook_url,
        )
        question.message_id = next(iter(report.results[0].message_ids), None)
        try:
            async with asyncio.timeout(data[ATTR_TIMEOUT].total_seconds()):
                reply = await asyncio.shield(question.answer)
        except TimeoutError:
            timed_out = True
    finally:
        runtime.questions.close(question, timed_out=timed_out)
    return {
        "answered": reply is not None,
        "reply": reply.reply if reply else data.get(ATTR_DEFAULT),
        "text": reply.text if reply else None,
        "from": mask_number(reply.msisdn) if reply else None,
        "message_id": question.message_id,
        "reference": question.reference,
        "seconds": round((reply.received if reply else time.monotonic()) - started, 1),
    }
