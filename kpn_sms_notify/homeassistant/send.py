"""One notification from Home Assistant to KpnSms.send(), with every library error mapped to
exactly one Home Assistant outcome:

- bad input (number, empty text, unknown `data` key)  -> ServiceValidationError
- credentials refused, or the app lacks the SMS product -> reauth started + HomeAssistantError
- gateway unreachable / API refusal                    -> HomeAssistantError
- some recipients failed                               -> every recipient tried, then one
                                                          HomeAssistantError naming them (masked)
- texts held back by the send guard (storm cap, budget) -> no error: a warning (masked) and a
                                                          `kpn_sms_notify_suppressed` event each
Nothing is only logged: the caller (automation, script, REST) sees the failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import voluptuous as vol
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv

from kpn_sms_notify.client import KpnSms
from kpn_sms_notify.errors import (
    KpnApiError,
    KpnAuthError,
    KpnConnectionError,
    KpnProductError,
    KpnSmsError,
    KpnValidationError,
)
from kpn_sms_notify.models import SendReport
from kpn_sms_notify.options import OPTIONS, Scope
from kpn_sms_notify.schema import validator

from .const import (
    DATA_CALLBACK,
    DATA_STATUS_REPORT,
    DATA_URGENT,
    DOMAIN,
    EVENT_SUPPRESSED,
    LOGGER,
)
from .runtime import KpnSmsConfigEntry


def _unicode_policy(value: Any) -> str:
    # HA users write `unicode: false` (core#61488); the library speaks auto/always/never.
    text = value.strip().lower() if isinstance(value, str) else value
    if text in ("auto", "always", "never"):
        return str(text)
    try:
        return "always" if cv.boolean(value) else "never"
    except vol.Invalid:
        raise vol.Invalid("expected auto, always, never, true or false") from None


# The library's per-message options (the title is the service call's own field), checked as
# the library checks them, with Home Assistant's spellings of a policy and a boolean.
_HA_RULES = {"unicode": _unicode_policy, DATA_STATUS_REPORT: cv.boolean}
DATA_SCHEMA = vol.Schema(
    {
        **{
            vol.Optional(option.key): _HA_RULES.get(option.key, validator(option))
            for option in OPTIONS
            if option.scope is Scope.MESSAGE and option.config
        },
        # `data.urgent: true`: goes past the daily budget (never past the storm cap).
        vol.Optional(DATA_URGENT): cv.boolean,
    }
)

_DATA_KEYS = frozenset(str(k) for k in DATA_SCHEMA.schema)


def send_options(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The service call's `data`, checked; raises ServiceValidationError naming the key."""
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_data",
            translation_placeholders={"error": f"data: expected a mapping, got {data!r}"},
        )
    # Unknown keys first, by name: voluptuous and its 2026 stand-in (probatio) word it
    # differently.
    unknown = sorted(str(k) for k in data if k not in _DATA_KEYS)
    if unknown:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_data",
            translation_placeholders={
                "error": f"data.{unknown[0]}: unknown key (known: {', '.join(sorted(_DATA_KEYS))})"
            },
        )
    try:
        return dict(DATA_SCHEMA(dict(data)))
    except vol.Invalid as err:
        first = err.errors[0] if isinstance(err, vol.MultipleInvalid) else err
        key = ".".join(str(p) for p in first.path) or "data"
        reason = first.error_message
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_data",
            translation_placeholders={"error": f"data.{key}: {reason}"},
        ) from None


async def async_send(
    hass: HomeAssistant,
    client: KpnSms,
    message: Any,
    targets: Iterable[str] | None,
    *,
    title: str | None = None,
    data: Mapping[str, Any] | None = None,
    entry: KpnSmsConfigEntry | None = None,
    webhook_url: str | None = None,
) -> SendReport:
    """Text `message` (with `title`) to `targets` (None: the configured recipients)."""
    if not isinstance(message, str) or not message.strip():
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="empty_message")
    options = send_options(data)
    # Delivery receipts come back to our own webhook unless the caller names another URL.
    if options.get(DATA_STATUS_REPORT) and DATA_CALLBACK not in options and webhook_url:
        options[DATA_CALLBACK] = webhook_url
    try:
        report = await client.send(
            message, None if targets is None else list(targets), title=title or None, **options
        )
    except KpnValidationError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_input",
            translation_placeholders={"error": str(err)},
        ) from err
    except KpnAuthError as err:
        # The reauth form checks the SMS product too, and says so until it is added.
        _start_reauth(hass, entry, err)
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="missing_product"
            if isinstance(err, KpnProductError)
            else "auth_failed",
            translation_placeholders={"error": str(err)},
        ) from err
    except KpnConnectionError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="connection_error",
            translation_placeholders={"error": str(err)},
        ) from err
    except (KpnApiError, KpnSmsError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="api_error",
            translation_placeholders={"error": str(err)},
        ) from err

    for result in report.results:
        LOGGER.debug("KPN SMS %s", result.describe())
    for result in report.suppressed:
        # Held back by the send guard: not a failure (the automation goes on), but said.
        LOGGER.warning("KPN SMS %s", result.describe())
        hass.bus.async_fire(
            EVENT_SUPPRESSED,
            {"recipient": result.recipient, "reason": result.suppressed, "detail": result.reason},
        )
    if report.failed:
        refused = [r for r in report.failed if isinstance(r.error, KpnAuthError)]
        if refused:  # the token was refused mid-send and so was its renewal
            _start_reauth(hass, entry, refused[0].error)
        if len(refused) == len(report.results):
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="auth_failed",
                translation_placeholders={"error": str(refused[0].reason)},
            )
        failed = "; ".join(f"{r.masked} ({r.reason})" for r in report.failed)
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="send_failed",
            translation_placeholders={
                "failed": failed,
                "count": str(len(report.failed)),
                "total": str(len(report.results)),
            },
        )
    return report


def _start_reauth(
    hass: HomeAssistant, entry: KpnSmsConfigEntry | None, error: KpnSmsError | None
) -> None:
    if entry is not None:
        entry.async_start_reauth(hass)
    elif isinstance(error, KpnProductError):
        LOGGER.error(
            "KPN refused the SMS API to the app of a YAML-configured kpn_sms_notify service: %s",
            error,
        )
    else:
        LOGGER.error(
            "KPN refused the credentials of a YAML-configured kpn_sms_notify service; "
            "check client_id and client_secret in configuration.yaml"
        )
