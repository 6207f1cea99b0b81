"""Two-way state as sensors: how many `kpn_sms_notify.ask` questions wait for an answer, and how
many notifications wait for an `ACK`, with how earlier ones ended as attributes (counts only:
no numbers). Updated as it changes, not polled."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .acknowledgements import OpenAcknowledgements
from .const import DEFAULT_TITLE, DOMAIN
from .questions import OpenQuestions
from .runtime import KpnSmsConfigEntry

PARALLEL_UPDATES = 0  # nothing is fetched


async def async_setup_entry(
    hass: HomeAssistant, entry: KpnSmsConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    runtime = entry.runtime_data
    async_add_entities(
        [
            TwoWaySensor(entry, "open_questions", runtime.questions),
            TwoWaySensor(entry, "open_acknowledgements", runtime.acknowledgements),
        ]
    )


class TwoWaySensor(SensorEntity):
    """The count of open questions or of open acknowledgeable notifications of one entry."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self, entry: KpnSmsConfigEntry, key: str, source: OpenQuestions | OpenAcknowledgements
    ) -> None:
        self._source = source
        account = entry.unique_id or entry.entry_id
        self._attr_translation_key = key
        self._attr_unique_id = f"{account}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, account)},
            name=entry.title or DEFAULT_TITLE,
            manufacturer="KPN",
            model="SMS account",
            entry_type=DeviceEntryType.SERVICE,
        )

    async def async_added_to_hass(self) -> None:
        self._source.on_change = self.async_write_ha_state
        self.async_on_remove(self._forget)

    def _forget(self) -> None:
        self._source.on_change = None

    @property
    def native_value(self) -> int:
        return len(self._source)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        summary = self._source.summary()
        return {k: v for k, v in summary.items() if isinstance(v, int) and k != "open"}
