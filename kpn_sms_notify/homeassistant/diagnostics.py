"""Diagnostics: what a bug report needs, with secrets redacted and numbers masked."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from kpn_sms_notify.numbers import mask_number

from .const import CONF_INBOUND_NUMBER, TO_REDACT
from .notify import entry_recipients
from .runtime import KpnRuntime, KpnSmsConfigEntry


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: KpnSmsConfigEntry
) -> dict[str, Any]:
    data = async_redact_data(dict(entry.data), TO_REDACT)
    if data.get(CONF_INBOUND_NUMBER):
        data[CONF_INBOUND_NUMBER] = mask_number(data[CONF_INBOUND_NUMBER])
    out: dict[str, Any] = {
        "entry": {"title": entry.title, "version": entry.version, "data": data},
        "recipients": {
            label: mask_number(number) for label, number in entry_recipients(entry).items()
        },
    }
    runtime = getattr(entry, "runtime_data", None)
    if isinstance(runtime, KpnRuntime):
        session = runtime.client.session
        out["client"] = {
            "base_url": runtime.client.settings.base_url,
            "token_requests": runtime.client.token_requests,
            "sent": session.sent,
            "failed": session.failed,
            "suppressed": session.suppressed,
            "retries": session.retries,
            "api_version": session.api_version,
            "quota": asdict(session.quota) if session.quota else None,
        }
        # The send guard: held back by reason, digests, the day's spending, the balance.
        out["guard"] = runtime.client.guard.stats().to_dict()
        out["inbound"] = {
            "webhook": "configured" if runtime.webhook_id else "none",
            "registration": runtime.registration,
            "inbound_events": runtime.inbound_events,
            "delivery_events": runtime.delivery_events,
            "duplicates_dropped": runtime.assembler.duplicates,
            "parts_pending": runtime.assembler.pending_count,
        }
        out["two_way"] = {
            "questions": runtime.questions.summary(),
            "acknowledgements": runtime.acknowledgements.summary(),
        }
    return out
