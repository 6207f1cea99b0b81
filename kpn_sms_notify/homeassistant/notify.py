"""The notify platform, both kinds:

- legacy `notify.<name>` services (YAML `- platform: kpn_sms_notify`, or loaded from a config
  entry by discovery): `message`, `title`, `target` (numbers), `data`;
- one NotifyEntity per recipient of a config entry, serving `notify.send_message`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.components.notify import PLATFORM_SCHEMA as NOTIFY_PLATFORM_SCHEMA
from homeassistant.components.notify.const import ATTR_DATA, ATTR_TARGET, ATTR_TITLE
from homeassistant.components.notify.legacy import BaseNotificationService
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

from kpn_sms_notify.client import KpnSms
from kpn_sms_notify.errors import KpnAuthError, KpnSmsError, KpnValidationError
from kpn_sms_notify.numbers import DEFAULT_REGION, mask_number, normalize_number
from kpn_sms_notify.schema import SCHEMA_FIELDS, normalize_recipients

from .acknowledge import async_send_acknowledgeable
from .compat import NotifyEntity, NotifyEntityFeature
from .const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_NUMBER,
    CONF_RECIPIENTS,
    CONF_REGION,
    CONF_SENDER,
    DATA_ACK,
    DEFAULT_NAME,
    DEFAULT_TITLE,
    DOMAIN,
    LOGGER,
    SUBENTRY_RECIPIENT,
)
from .runtime import KpnRuntime, KpnSmsConfigEntry, async_warm_numbers, build_client
from .send import async_send

PARALLEL_UPDATES = 0  # sends are independent; the library rate-limits the account itself


def _secret(value: Any) -> str:
    # Coerce instead of rejecting by type: Home Assistant's config error message repeats the
    # offending value, and a secret must never reach the log that way.
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        raise vol.Invalid("expected text")
    text = str(value)
    if not text:
        raise vol.Invalid("must not be empty")
    return text


def _normalize_numbers(config: dict[str, Any]) -> dict[str, Any]:
    """Validate recipients against the region, with the number masked in the error."""
    try:
        config[CONF_RECIPIENTS] = normalize_recipients(config[CONF_RECIPIENTS], config[CONF_REGION])
    except KpnValidationError as err:
        # HA's message repeats the value found at the error's path: a path such as
        # "recipients[1]" finds nothing, so only the masked number appears.
        field = err.field or CONF_RECIPIENTS
        raise vol.Invalid(str(err).removeprefix(f"{field}: "), path=[field]) from None
    return config


# The shared schema's fields, inside HA's notify platform schema. Unknown keys are errors
# (a typo such as `recipient:` must not be silently ignored).
_OWN_RULES = (CONF_CLIENT_SECRET, CONF_SENDER)
PLATFORM_SCHEMA = vol.All(
    NOTIFY_PLATFORM_SCHEMA.extend(
        {
            **{k: v for k, v in SCHEMA_FIELDS.items() if str(k) not in _OWN_RULES},
            vol.Required(CONF_CLIENT_SECRET): _secret,
            # Required here: without a sender every send would fail later, not at startup.
            vol.Required(CONF_SENDER): SCHEMA_FIELDS[CONF_SENDER],
            vol.Optional(CONF_NAME, default=DEFAULT_NAME): cv.string,
        },
        extra=vol.PREVENT_EXTRA,
    ),
    _normalize_numbers,
)


async def async_get_service(
    hass: HomeAssistant, config: ConfigType, discovery_info: DiscoveryInfoType | None = None
) -> KpnSmsNotificationService | None:
    """The legacy service: from a config entry (discovery) or from YAML."""
    if discovery_info is not None:
        return _service_for_entry(hass, discovery_info)

    name = config.get(CONF_NAME, DEFAULT_NAME)
    await async_warm_numbers(hass)
    client = build_client(hass, config)
    # Authenticate once, now: bad credentials mean no service rather than a half-working one.
    try:
        await client.authenticate()
    except KpnAuthError as err:
        LOGGER.error(
            "notify.%s not set up: KPN refused the credentials of client_id %r: %s",
            name,
            config[CONF_CLIENT_ID],
            err,
        )
        return None
    except KpnSmsError as err:
        if not err.transient:
            LOGGER.error(
                "notify.%s not set up: KPN refused the login of client_id %r: %s",
                name,
                config[CONF_CLIENT_ID],
                err,
            )
            return None
        # The service still appears: losing SMS alerts because the internet was down at
        # boot is worse. The token is fetched on the first send.
        LOGGER.warning(
            "notify.%s: could not reach KPN at %s (%s); will authenticate on the first message",
            name,
            client.settings.base_url,
            err,
        )
    recipients = config[CONF_RECIPIENTS]
    targets = dict(recipients) if isinstance(recipients, Mapping) else None
    LOGGER.debug(
        "notify.%s: %d recipient(s): %s",
        name,
        len(recipients),
        ", ".join(mask_number(n) for n in client.settings.recipients),
    )
    return KpnSmsNotificationService(client, targets=targets)


def _service_for_entry(
    hass: HomeAssistant, info: DiscoveryInfoType
) -> KpnSmsNotificationService | None:
    entry = hass.config_entries.async_get_entry(info.get("entry_id", ""))
    runtime = getattr(entry, "runtime_data", None) if entry else None
    if entry is None or not isinstance(runtime, KpnRuntime):
        return None  # unloaded meanwhile
    service = KpnSmsNotificationService(runtime.client, entry=entry, runtime=runtime)
    runtime.legacy_service = service
    return service


class KpnSmsNotificationService(BaseNotificationService):
    """`notify.<name>`: message, title, target (numbers; overrides recipients), data."""

    def __init__(
        self,
        client: KpnSms,
        *,
        targets: dict[str, str] | None = None,
        entry: KpnSmsConfigEntry | None = None,
        runtime: KpnRuntime | None = None,
    ) -> None:
        self.client = client
        self._targets = targets
        self._entry = entry
        self._runtime = runtime

    @property
    def targets(self) -> dict[str, str] | None:
        """label -> number: each gives a `notify.<name>_<label>` service."""
        return self._targets

    async def async_send_message(self, message: str = "", **kwargs: Any) -> None:
        targets = kwargs.get(ATTR_TARGET) or None
        if targets is None and self._entry is not None:
            targets = list(entry_recipients(self._entry).values()) or None
        data = kwargs.get(ATTR_DATA)
        if isinstance(data, Mapping) and DATA_ACK in data:
            if self._entry is None or self._runtime is None:  # YAML: no webhook for replies
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="ack_needs_entry",
                )
            await async_send_acknowledgeable(
                self.hass,
                self._entry,
                self._runtime,
                message,
                targets or (),
                title=kwargs.get(ATTR_TITLE),
                data=data,
            )
            return
        await async_send(
            self.hass,
            self.client,
            message,
            targets,
            title=kwargs.get(ATTR_TITLE),
            data=kwargs.get(ATTR_DATA),
            entry=self._entry,
            webhook_url=self._runtime.webhook_url if self._runtime else None,
        )


def entry_recipients(entry: KpnSmsConfigEntry) -> dict[str, str]:
    """label -> number for a config entry: its recipient subentries."""
    return {
        subentry.title: subentry.data[CONF_NUMBER]
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_RECIPIENT
    }


async def async_setup_entry(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """One notify entity per recipient."""
    runtime = entry.runtime_data
    for subentry_id, subentry in entry.subentries.items():
        if subentry.subentry_type != SUBENTRY_RECIPIENT:
            continue
        async_add_entities(
            [
                KpnSmsRecipientEntity(
                    entry, runtime, subentry.title, subentry.data[CONF_NUMBER], subentry_id
                )
            ],
            config_subentry_id=subentry_id,  # type: ignore[call-arg]
        )


def _canonical(number: str, region: str) -> str:
    """A stored number in the canonical form ("+316…"): entries written before numbers
    carried a "+" hold bare digits, read as the client reads them. One that no longer reads
    as a number stays as it is; sending to it reports why."""
    try:
        return normalize_number(number, region)
    except KpnValidationError:
        return number


class KpnSmsRecipientEntity(NotifyEntity):
    """Texts one recipient: `notify.send_message` with message and title.

    Each recipient is its own device: a device belongs to one subentry (Home Assistant 2026
    warns, and will refuse, when subentries share one).
    """

    _attr_has_entity_name = True
    _attr_name = None  # the device's name: "KPN SMS Alice" -> notify.kpn_sms_alice
    _attr_supported_features = NotifyEntityFeature.TITLE

    def __init__(
        self,
        entry: KpnSmsConfigEntry,
        runtime: KpnRuntime,
        label: str,
        number: str,
        subentry_id: str,
    ) -> None:
        self._entry = entry
        self._runtime = runtime
        self._number = _canonical(number, entry.data.get(CONF_REGION, DEFAULT_REGION))
        # Stable across a change of number: the subentry is the recipient.
        key = f"{entry.unique_id or entry.entry_id}_{subentry_id}"
        self._attr_unique_id = key
        self._attr_extra_state_attributes = {"recipient": mask_number(self._number)}
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, key)},
            name=f"{entry.title or DEFAULT_TITLE} {label}",
            manufacturer="KPN",
            model="SMS recipient",
            entry_type=DeviceEntryType.SERVICE,
        )

    async def async_send_message(self, message: str, title: str | None = None) -> None:
        await async_send(
            self.hass,
            self._runtime.client,
            message,
            [self._number],
            title=title,
            entry=self._entry,
            webhook_url=self._runtime.webhook_url,
        )
