"""KPN SMS for Home Assistant: notify entities per recipient, a `notify.<name>` service with
`target`, a YAML notify platform, inbound SMS / delivery receipts as events, and two-way texts:
the `kpn_sms_notify.ask` action and notifications acknowledged by an `ACK` reply.

The protocol lives in the `kpn_sms_notify` library; this package is glue. Each library error
maps to exactly one Home Assistant outcome: refused credentials -> reauth, gateway unreachable
-> retry setup later, bad input -> ServiceValidationError, send failures -> HomeAssistantError.
"""

from __future__ import annotations

from homeassistant.components import webhook
from homeassistant.const import CONF_NAME, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import discovery
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.typing import ConfigType

from kpn_sms_notify.errors import KpnAuthError, KpnSmsError, KpnValidationError

from .ask import async_register_ask
from .const import CONF_WEBHOOK_ID, DOMAIN, LOGGER
from .guard_runtime import async_budget_store, start_guard_timer
from .inbound_webhook import async_register_webhook, async_register_with_kpn
from .runtime import KpnRuntime, KpnSmsConfigEntry, async_warm_numbers, build_client

PLATFORMS: list[Platform] = [Platform.NOTIFY, Platform.SENSOR]
DATA_HASS_CONFIG = f"{DOMAIN}_hass_config"

# Configured in the UI, or under `notify:` as a platform; never under its own YAML key.
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    # Kept for discovery.async_load_platform, which loads the entry's legacy notify service.
    hass.data[DATA_HASS_CONFIG] = config
    async_register_ask(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: KpnSmsConfigEntry) -> bool:
    """Authenticate once, then set up the entities, the legacy service and the webhook."""
    await async_warm_numbers(hass)
    budget_store = await async_budget_store(hass, entry.entry_id)
    try:
        client = build_client(hass, {**entry.data, **entry.options}, budget_store)
    except KpnValidationError as err:  # stored data the library no longer accepts
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_config",
            translation_placeholders={"error": str(err)},
        ) from err
    try:
        await client.authenticate()
    except KpnAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="auth_failed",
            translation_placeholders={"error": str(err)},
        ) from err
    except KpnSmsError as err:
        if not err.transient:  # e.g. the product is not in the KPN project: fix, not wait
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="api_error",
                translation_placeholders={"error": str(err)},
            ) from err
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="connection_error",
            translation_placeholders={"error": str(err)},
        ) from err

    runtime = KpnRuntime(client=client, webhook_id=entry.data.get(CONF_WEBHOOK_ID))
    entry.runtime_data = runtime

    if runtime.webhook_id:
        webhook_id = runtime.webhook_id
        async_register_webhook(hass, entry, webhook_id)
        entry.async_on_unload(lambda: webhook.async_unregister(hass, webhook_id))

    # Storm digests go out when their window ends, not only with the next text.
    entry.async_on_unload(
        start_guard_timer(hass, client, entry_id=entry.entry_id, title=entry.title)
    )

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)

    # notify.<title> with `target`: the entity service has no targets, so ad-hoc numbers
    # need the legacy service; it is loaded from the entry by discovery (as google_mail does).
    entry.async_create_task(
        hass,
        discovery.async_load_platform(
            hass,
            Platform.NOTIFY,
            DOMAIN,
            {CONF_NAME: entry.title, "entry_id": entry.entry_id},
            hass.data.get(DATA_HASS_CONFIG, {}),
        ),
        "kpn_sms_notify legacy service",
    )

    @callback
    def _register(_hass: HomeAssistant) -> None:
        # After start: KPN's number/update GETs the URL, so the HTTP server must be up.
        entry.async_create_task(
            hass,
            async_register_with_kpn(hass, entry, runtime),
            "kpn_sms_notify webhook registration",
        )

    entry.async_on_unload(async_at_started(hass, _register))

    @callback
    def _stopping(_event: Event) -> None:
        runtime.questions.cancel_all()  # waiting `ask` calls return "not answered" at once

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _stopping))
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    LOGGER.debug("KPN SMS entry %s set up (%s)", entry.title, client.settings.base_url)
    return True


async def _async_update_listener(hass: HomeAssistant, entry: KpnSmsConfigEntry) -> None:
    # Recipients are subentries: adding or removing one means new entities.
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: KpnSmsConfigEntry) -> bool:
    runtime = entry.runtime_data
    runtime.questions.cancel_all()
    if runtime.legacy_service is not None:
        await runtime.legacy_service.async_unregister_services()
        _forget_legacy_service(hass, runtime.legacy_service)
        runtime.legacy_service = None
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


def _forget_legacy_service(hass: HomeAssistant, service: object) -> None:
    """Drop the unloaded service from notify's list, so a notify reload cannot revive it."""
    try:
        from homeassistant.components.notify.legacy import NOTIFY_SERVICES
    except ImportError:  # pragma: no cover - layout of a future HA
        return
    services = hass.data.get(NOTIFY_SERVICES, {}).get(DOMAIN, [])
    if service in services:
        services.remove(service)
