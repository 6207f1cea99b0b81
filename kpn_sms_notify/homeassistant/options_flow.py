"""The entry's options (Configure): the storm and cost guard, checked by the library's schema.

The values are the library's options of the same names (`storm_cap`, `storm_window`,
`daily_budget`, `low_balance`, `admins`); `build_client` lays them over the entry's data, and
saving them reloads the entry (its update listener).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import voluptuous as vol
from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)

from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.schema import validate_config

from .runtime import async_warm_numbers, client_config

GUARD_OPTIONS = ("storm_cap", "storm_window", "daily_budget", "low_balance", "admins")


def _box(*, minimum: float, maximum: float, step: float | Literal["any"] = 1) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(min=minimum, max=maximum, step=step, mode=NumberSelectorMode.BOX)
    )


_SCHEMA = vol.Schema(
    {
        vol.Optional("storm_cap", default=10): _box(minimum=0, maximum=10000),
        vol.Optional("storm_window", default=600): _box(minimum=1, maximum=86400),
        vol.Optional("daily_budget"): _box(minimum=0, maximum=1000000, step="any"),
        vol.Optional("low_balance"): _box(minimum=0, maximum=1000000, step="any"),
        vol.Optional("admins"): TextSelector(),
    }
)


def guard_options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values as library options: whole numbers as int, admins as a list."""
    options: dict[str, Any] = {}
    for name in GUARD_OPTIONS:
        value = user_input.get(name)
        if value is None or value == "":
            continue
        if name == "storm_cap":
            value = int(value)
        elif name == "admins":
            value = [part.strip() for part in str(value).split(",") if part.strip()]
        options[name] = value
    return options


class KpnSmsOptionsFlow(OptionsFlow):
    """Configure: the storm cap and its window, the daily budget, the low-balance warning and
    the admins who get the budget notice and the warning by text."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        if user_input is not None:
            options = guard_options(user_input)
            await async_warm_numbers(self.hass)  # admins are numbers: metadata loaded first
            try:
                validate_config({**client_config(self.config_entry.data), **options})
            except KpnValidationError as err:
                key = (err.field or "").removeprefix("config: ").split(".")[0].split("[")[0]
                errors[key if key in GUARD_OPTIONS else "base"] = "invalid_option"
                placeholders["error"] = str(err)  # one line, numbers masked by the library
            else:
                return self.async_create_entry(data=options)
        shown = dict(user_input if user_input is not None else self._shown())
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(_SCHEMA, shown),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _shown(self) -> dict[str, Any]:
        shown = dict(self.config_entry.options)
        if isinstance(shown.get("admins"), list):
            shown["admins"] = ", ".join(shown["admins"])
        return shown
