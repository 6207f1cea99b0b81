"""Where an inbound text goes: an `ACK [ref]` that fits an open acknowledgeable notification
acknowledges it (one that fits none of those open to that number is answered with their
references); a reply that fits an open question answers it; anything else is fired as the
usual `kpn_sms_notify_inbound` event by the caller. Replies are read by the library's one
reader (kpn_sms_notify.replies), as `kpn-sms serve` reads them.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from kpn_sms_notify.inbound import InboundMessage
from kpn_sms_notify.numbers import mask_number
from kpn_sms_notify.replies import Command, parse_command

from .acknowledge import async_acknowledged, async_send_hint, has_ended
from .const import LOGGER
from .runtime import KpnRuntime, KpnSmsConfigEntry


def route_reply(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, runtime: KpnRuntime, message: InboundMessage
) -> bool:
    """Whether `message` acknowledged something or answered a question (then it is no event)."""
    command = parse_command(message.text)
    if command is not None and command.command is Command.ACK:
        runtime.acknowledgements.drop(lambda ack: has_ended(hass, ack))
        ack = runtime.acknowledgements.take(msisdn=message.msisdn, reference=command.reference)
        if ack is not None:
            entry.async_create_task(
                hass,
                async_acknowledged(hass, entry, runtime, ack, message.msisdn),
                f"kpn_sms_notify acknowledgement {ack.reference}",
            )
            return True
        if runtime.acknowledgements.open_to(message.msisdn):  # which one did they mean?
            entry.async_create_task(
                hass,
                async_send_hint(hass, entry, runtime, message.msisdn, command.reference),
                "kpn_sms_notify acknowledgement hint",
            )
            return True
    question = runtime.questions.take_reply(
        msisdn=message.msisdn, text=message.text, message_id=message.message_id
    )
    if question is None:
        return False
    LOGGER.debug(
        "KPN SMS %s from %s answers question %s",
        message.message_id,
        mask_number(message.msisdn),
        question.reference,
    )
    return True
