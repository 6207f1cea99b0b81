"""UI setup: credentials are tested before the entry exists; one entry per client_id; reauth
and reconfigure; recipients are subentries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from kpn_sms_notify.errors import (
    KpnAuthError,
    KpnConnectionError,
    KpnProductError,
    KpnSmsError,
    KpnValidationError,
)
from kpn_sms_notify.inbound import SIGNATURE_METHODS
from kpn_sms_notify.numbers import normalize_number, wire_number
from kpn_sms_notify.protocol import DEFAULT_BASE_URL
from kpn_sms_notify.schema import validate_config

from .const import (
    CONF_BASE_URL,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_INBOUND_MODE,
    CONF_INBOUND_NUMBER,
    CONF_NUMBER,
    CONF_REGION,
    CONF_SENDER,
    CONF_SIGNATURE_METHOD,
    CONF_SIGNATURE_SECRET,
    CONF_WEBHOOK_ID,
    DEFAULT_TITLE,
    DOMAIN,
    INBOUND_MODES,
    INBOUND_NONE,
    LOGGER,
    SUBENTRY_RECIPIENT,
)
from .options_flow import KpnSmsOptionsFlow
from .runtime import async_warm_numbers, build_client

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_CLIENT_KEYS = (CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_SENDER, CONF_BASE_URL, CONF_REGION)
_FIELD_ERRORS = {
    CONF_SENDER: "invalid_sender",
    CONF_BASE_URL: "invalid_base_url",
    CONF_REGION: "invalid_region",
    CONF_CLIENT_ID: "invalid_client_id",
    CONF_CLIENT_SECRET: "invalid_auth",
}


def _schema(*, secret_required: bool) -> vol.Schema:
    secret = vol.Required if secret_required else vol.Optional
    return vol.Schema(
        {
            vol.Required(CONF_CLIENT_ID): str,
            secret(CONF_CLIENT_SECRET): _PASSWORD,
            vol.Required(CONF_SENDER): str,
            vol.Optional(CONF_BASE_URL, default=DEFAULT_BASE_URL): str,
            vol.Optional(CONF_REGION, default="NL"): str,
            vol.Optional(CONF_INBOUND_MODE, default=INBOUND_NONE): SelectSelector(
                SelectSelectorConfig(
                    options=list(INBOUND_MODES),
                    translation_key="inbound_mode",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Optional(CONF_INBOUND_NUMBER): str,
            vol.Optional(CONF_SIGNATURE_SECRET): _PASSWORD,
            vol.Optional(CONF_SIGNATURE_METHOD, default="md5hash"): SelectSelector(
                SelectSelectorConfig(
                    options=list(SIGNATURE_METHODS), mode=SelectSelectorMode.DROPDOWN
                )
            ),
        }
    )


async def _async_check(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate with the shared schema, then log in to KPN and check that the app has the
    SMS product (a request that texts nobody). Returns (entry data, errors)."""
    data = {
        k: v.strip() if isinstance(v, str) else v
        for k, v in user_input.items()
        if v not in (None, "")
    }
    try:
        config = validate_config({k: data[k] for k in _CLIENT_KEYS if k in data})
    except KpnValidationError as err:
        key = (err.field or "").removeprefix("config: ").split(".")[0]
        return data, {
            key if key in _FIELD_ERRORS else "base": _FIELD_ERRORS.get(key, "invalid_config")
        }
    data[CONF_REGION] = config[CONF_REGION]
    data[CONF_BASE_URL] = config[CONF_BASE_URL]
    await async_warm_numbers(hass)
    if data.get(CONF_INBOUND_MODE, INBOUND_NONE) != INBOUND_NONE:
        if not data.get(CONF_INBOUND_NUMBER):
            return data, {CONF_INBOUND_NUMBER: "number_required"}
        try:
            data[CONF_INBOUND_NUMBER] = normalize_number(
                data[CONF_INBOUND_NUMBER], config[CONF_REGION]
            )
        except KpnValidationError:
            return data, {CONF_INBOUND_NUMBER: "invalid_number"}
    client = build_client(hass, config)
    try:
        await client.check_access()
    except KpnProductError as err:
        LOGGER.warning("KPN refused the SMS API: %s", err)
        return data, {"base": "missing_product"}
    except KpnAuthError:
        return data, {"base": "invalid_auth"}
    except KpnConnectionError:
        return data, {"base": "cannot_connect"}
    except KpnSmsError as err:
        LOGGER.warning("KPN refused the login: %s", err)
        return data, {"base": "cannot_connect"}
    except Exception:  # a bug, not the user's input: keep the traceback
        LOGGER.exception("Unexpected error while checking KPN credentials")
        return data, {"base": "unknown"}
    return data, {}


class KpnSmsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a KPN SMS account."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            await self.async_set_unique_id(user_input[CONF_CLIENT_ID].strip())
            self._abort_if_unique_id_configured()
            data, errors = await _async_check(self.hass, user_input)
            if not errors:
                data[CONF_WEBHOOK_ID] = webhook.async_generate_id()
                return self.async_create_entry(title=self._title(data[CONF_CLIENT_ID]), data=data)
        schema = _schema(secret_required=True)
        if user_input is not None:  # keep what was typed, apart from secrets
            schema = self.add_suggested_values_to_schema(schema, _without_secrets(user_input))
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    def _title(self, client_id: str) -> str:
        if self._async_current_entries(include_ignore=False):
            return f"{DEFAULT_TITLE} {client_id}"
        return DEFAULT_TITLE

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            _, errors = await _async_check(self.hass, {**entry.data, **user_input})
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_CLIENT_SECRET: user_input[CONF_CLIENT_SECRET]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_CLIENT_SECRET): _PASSWORD}),
            description_placeholders={"client_id": entry.data[CONF_CLIENT_ID]},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            await self.async_set_unique_id(user_input[CONF_CLIENT_ID].strip())
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            merged = {**user_input}
            if not merged.get(CONF_CLIENT_SECRET):  # left blank: keep the stored secret
                merged[CONF_CLIENT_SECRET] = entry.data[CONF_CLIENT_SECRET]
            if not merged.get(CONF_SIGNATURE_SECRET) and entry.data.get(CONF_SIGNATURE_SECRET):
                merged[CONF_SIGNATURE_SECRET] = entry.data[CONF_SIGNATURE_SECRET]
            data, errors = await _async_check(self.hass, merged)
            if not errors:
                data[CONF_WEBHOOK_ID] = entry.data.get(CONF_WEBHOOK_ID) or (
                    webhook.async_generate_id()
                )
                return self.async_update_reload_and_abort(entry, data=data)
        shown = _without_secrets(user_input if user_input is not None else entry.data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(_schema(secret_required=False), shown),
            errors=errors,
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> KpnSmsOptionsFlow:
        return KpnSmsOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        return {SUBENTRY_RECIPIENT: RecipientSubentryFlow}


def _without_secrets(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in values.items()
        if k not in (CONF_CLIENT_SECRET, CONF_SIGNATURE_SECRET, CONF_WEBHOOK_ID)
    }


def _recipient_schema() -> vol.Schema:
    return vol.Schema({vol.Required(CONF_NAME): str, vol.Required(CONF_NUMBER): str})


class RecipientSubentryFlow(ConfigSubentryFlow):
    """Add or change one recipient: a label and a phone number."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        return await self._async_step("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        return await self._async_step("reconfigure", user_input)

    async def _async_step(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        current = self._get_reconfigure_subentry() if step_id == "reconfigure" else None
        errors: dict[str, str] = {}
        if user_input is not None:
            await async_warm_numbers(self.hass)
            label = user_input[CONF_NAME].strip()
            try:
                number = normalize_number(
                    user_input[CONF_NUMBER], entry.data.get(CONF_REGION, "NL"), field="number"
                )
            except KpnValidationError:
                errors[CONF_NUMBER] = "invalid_number"
            else:
                # Compared without "+": older entries hold the number's bare digits.
                taken = {
                    wire_number(s.unique_id or "")
                    for s in entry.subentries.values()
                    if current is None or s.subentry_id != current.subentry_id
                }
                if not label:
                    errors[CONF_NAME] = "name_required"
                elif wire_number(number) in taken:
                    return self.async_abort(reason="already_configured")
                elif current is None:
                    return self.async_create_entry(
                        title=label, data={CONF_NUMBER: number}, unique_id=number
                    )
                else:
                    return self.async_update_and_abort(
                        entry, current, title=label, data={CONF_NUMBER: number}, unique_id=number
                    )
        suggested = user_input or ({CONF_NAME: current.title, **current.data} if current else {})
        return self.async_show_form(
            step_id=step_id,
            errors=errors,
            data_schema=self.add_suggested_values_to_schema(_recipient_schema(), suggested),
        )
