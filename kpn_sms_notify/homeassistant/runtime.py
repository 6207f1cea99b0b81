"""What a loaded config entry keeps (entry.runtime_data), and how a client is built on
Home Assistant's shared httpx client without blocking the event loop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.httpx_client import get_async_client

from kpn_sms_notify.budget import BudgetStore
from kpn_sms_notify.client import KpnSms
from kpn_sms_notify.inbound import InboundAssembler, SeenReceipts
from kpn_sms_notify.numbers import preload as preload_numbers
from kpn_sms_notify.numbers import wire_number
from kpn_sms_notify.schema import CONFIG_KEYS

from .acknowledgements import OpenAcknowledgements
from .const import CONF_INBOUND_NUMBER, CONF_SENDER, DEFAULT_TITLE, DOMAIN
from .questions import OpenQuestions
from .token_store import HassTokenStore, account_key

_WARM_KEY = "kpn_sms_notify_numbers_warm"
_MAX_RECEIPTS_SEEN = 10_000


@dataclass
class KpnRuntime:
    """One config entry's live state."""

    client: KpnSms
    webhook_id: str | None = None
    webhook_url: str | None = None
    registration: str = "not configured"  # for diagnostics: how KPN learnt our URL
    assembler: InboundAssembler = field(default_factory=InboundAssembler)
    inbound_events: int = 0
    delivery_events: int = 0
    receipts_seen: SeenReceipts = field(
        default_factory=lambda: SeenReceipts(max_entries=_MAX_RECEIPTS_SEEN)
    )
    legacy_service: Any = None  # the notify.<title> service loaded by discovery
    questions: OpenQuestions = field(default_factory=OpenQuestions)  # kpn_sms_notify.ask
    acknowledgements: OpenAcknowledgements = field(default_factory=OpenAcknowledgements)


# A loaded entry of this integration: `entry.runtime_data` is its KpnRuntime.
KpnSmsConfigEntry: TypeAlias = ConfigEntry[KpnRuntime]


def client_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Only the library's schema keys (HA adds platform, name, webhook settings...)."""
    return {k: v for k, v in config.items() if k in CONFIG_KEYS and v is not None}


def build_client(
    hass: HomeAssistant, config: Mapping[str, Any], budget_store: BudgetStore | None = None
) -> KpnSms:
    """A KpnSms on HA's shared httpx client (borrowed: the library never closes it), sharing
    its account's token with the config flow and earlier loads of the entry (token_store.py).
    `budget_store` keeps the daily budget's spent figure (guard_runtime.py).

    Call `async_warm_numbers` first: validating numbers may load phone metadata.
    """
    return KpnSms.from_config(
        client_config(config),
        http_client=get_async_client(hass),
        token_store=HassTokenStore(hass, key=_account_key(config)),
        budget_store=budget_store,
    )


def _account_key(config: Mapping[str, Any]) -> str:
    # Entry data always holds the base_url the flow validated; YAML may leave it to the default.
    return account_key(
        base_url=str(config.get("base_url") or ""),
        client_id=str(config.get("client_id") or ""),
        client_secret=str(config.get("client_secret") or ""),
    )


async def async_warm_numbers(hass: HomeAssistant) -> None:
    """Load every country's phone metadata once, in the executor.

    phonenumbers imports a data module the first time it meets a country; doing that inside
    the event loop would be blocking file I/O on the first text to a new country (~50 ms once).
    """
    if hass.data.get(_WARM_KEY):
        return
    await hass.async_add_executor_job(preload_numbers)
    hass.data[_WARM_KEY] = True


def reply_sender(entry: ConfigEntry[Any], *, what: str) -> str:
    """The sender for a text that wants a reply: the entry's virtual number, whose inbound SMS
    reach this Home Assistant (a sender name cannot be replied to). `what` names the caller
    in the ServiceValidationError raised when the entry has none."""
    number = entry.data.get(CONF_INBOUND_NUMBER)
    runtime = getattr(entry, "runtime_data", None)
    if not number or not isinstance(runtime, KpnRuntime) or runtime.webhook_id is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_inbound",
            translation_placeholders={
                "what": what,
                "title": entry.title or DEFAULT_TITLE,
                "sender": str(entry.data.get(CONF_SENDER, "")),
            },
        )
    return wire_number(str(number))
