"""The one config schema every host shares: CLI file and environment, Home Assistant YAML,
Apprise URL arguments and `kpn-sms serve`.

`validate_config(raw)` returns the normalised config or raises KpnValidationError with one
readable line naming the key and the bad value (secrets masked). Hosts that embed the keys in
their own voluptuous schema (Home Assistant's PLATFORM_SCHEMA) use `SCHEMA_FIELDS`.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from . import validators
from .errors import KpnValidationError
from .numbers import mask_number, normalize_number
from .options import CONFIG_OPTIONS, OPTIONS, SEND_KEYS, Option, SendOptions, check_names
from .validators import is_loopback_host as is_loopback_host
from .validators import url_validator as url_validator

SECRET_KEYS = frozenset(
    {
        *(o.key for o in OPTIONS if o.secret),
        "secret",
        "access_token",
        "token",
        "password",
        "signature_secret",
    }
)
NUMBER_KEYS = frozenset({"recipients", "admins", "to", "target", "targets"})

# The declared defaults of single values, for hosts that show them.
DEFAULTS: dict[str, Any] = {
    o.key: o.default
    for o in CONFIG_OPTIONS
    if o.default is not None and not isinstance(o.default, list)
}


def validator(option: Option) -> Any:
    """The voluptuous validator of one declared option."""
    if option.check is not None:
        return getattr(validators, option.check)
    if option.kind is bool:
        return vol.Boolean()
    if option.choices:
        return vol.In(option.choices)
    if option.kind in (int, float):
        return vol.All(vol.Coerce(option.kind), vol.Range(min=option.minimum, max=option.maximum))
    return option.kind


def _marker(option: Option) -> vol.Marker:
    if option.required:
        return vol.Required(option.key)
    if option.default is None:
        return vol.Optional(option.key)
    default = option.default  # a copy each time: the list default must not be shared
    return vol.Optional(option.key, default=lambda: copy.copy(default))


SCHEMA_FIELDS: dict[Any, Any] = {_marker(o): validator(o) for o in CONFIG_OPTIONS}
CONFIG_SCHEMA = vol.Schema(SCHEMA_FIELDS)
CONFIG_KEYS = frozenset(str(k) for k in SCHEMA_FIELDS)
SEND_SCHEMA = vol.Schema({vol.Optional(o.key): validator(o) for o in OPTIONS if o.key in SEND_KEYS})


def validate_config(raw: Mapping[str, Any], *, extra: bool = False) -> dict[str, Any]:
    """Validate and normalise a config mapping; raise KpnValidationError (one line).

    With `extra=True`, keys the schema does not know are kept (a host's own keys).
    """
    if not isinstance(raw, Mapping):
        raise KpnValidationError(
            f"config: expected a mapping of keys, got {type(raw).__name__}", field="config"
        )
    schema = CONFIG_SCHEMA.extend({}, extra=vol.ALLOW_EXTRA if extra else vol.PREVENT_EXTRA)
    try:
        config: dict[str, Any] = schema(dict(raw))
    except vol.Invalid as err:
        raise humanize_error(err, raw) from None
    try:
        for key in ("recipients", "admins"):
            config[key] = normalize_recipients(config[key], config["region"], key=key)
    except KpnValidationError as err:
        raise KpnValidationError(f"config: {err}", field=err.field, value=err.value) from None
    return config


def validate_send_options(options: Mapping[str, Any]) -> SendOptions:
    """The options of one send(), checked against the same declaration as the config; an
    option given as None is not given. Raises KpnValidationError (UnknownOptionError for a
    name that is no option of send())."""
    check_names(options, SEND_KEYS)
    given = {k: v for k, v in options.items() if v is not None}
    try:
        checked: SendOptions = SEND_SCHEMA(given)
    except vol.Invalid as err:
        raise humanize_error(err, given, where="") from None
    return checked


def normalize_recipients(
    recipients: list[str] | dict[str, str], region: str, *, key: str = "recipients"
) -> list[str] | dict[str, str]:
    """Normalise every number, keeping the list or mapping shape; errors name the entry."""
    if isinstance(recipients, dict):
        return {
            label: normalize_number(n, region, field=f"{key}.{label}")
            for label, n in recipients.items()
        }
    return [normalize_number(n, region, field=f"{key}[{i}]") for i, n in enumerate(recipients)]


def recipient_numbers(config: Mapping[str, Any], *, key: str = "recipients") -> list[str]:
    """The configured recipients (or other numbers: `admins`) as a list, whatever their shape."""
    recipients = config.get(key) or []
    return list(recipients.values()) if isinstance(recipients, dict) else list(recipients)


def humanize_error(
    err: vol.Invalid, raw: Mapping[str, Any], *, where: str = "config: "
) -> KpnValidationError:
    """One line: `config: <key>: <reason> (got <value, masked>)`."""
    first = err.errors[0] if isinstance(err, vol.MultipleInvalid) else err
    path = [str(p) for p in first.path]
    key = ".".join(path) or "config"
    if not key.isprintable():  # a stray control character must not break the one line
        key = repr(key)
    value = _lookup(raw, first.path)
    msg = first.error_message or "invalid value"
    if msg.startswith("extra keys not allowed"):
        msg = "unknown key"
    elif msg.startswith("required key not provided"):
        msg = "required key is missing"
    shown = mask_value(path[0] if path else "", value)
    got = "" if value is _MISSING else f" (got {shown!r})"
    return KpnValidationError(
        f"{where}{key}: {msg}{got}", field=key, value=None if value is _MISSING else shown
    )


_SECRET_WORDS = ("secret", "token", "passw", "passwd", "pwd", "key", "auth", "sig", "cred")


def looks_secret(key: str, known: frozenset[str] = CONFIG_KEYS) -> bool:
    """A key whose value must not be shown: a secret key, or one that looks like it (a
    misspelt `client_sercet`, `tokn`, an unknown `api_key`). Known non-secret keys are not."""
    low = key.lower()
    if low in SECRET_KEYS:
        return True
    if low in known:
        return False
    if any(word in low for word in _SECRET_WORDS):
        return True
    return bool(difflib.get_close_matches(low, SECRET_KEYS, n=1, cutoff=0.7))


def shown_url(url: str) -> str:
    """A URL for an error line: userinfo dropped, a path or query starred (a webhook path
    is often a secret); `ftp://x` stays `ftp://x`."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{netloc}{'/***' if hidden else parts.path}"


def mask_value(key: str, value: Any) -> Any:
    """A value as it may be shown: secrets starred (under keys that look secret too), URLs
    cut to scheme and host (userinfo and paths may hold secrets), phone numbers masked."""
    if value is _MISSING or value is None:
        return value
    if looks_secret(key):
        return "***"
    if isinstance(value, str) and "://" in value:
        return shown_url(value)
    if key in NUMBER_KEYS:
        if isinstance(value, Mapping):
            return {k: mask_number(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mask_number(v) for v in value]
        return mask_number(value)
    return value


_MISSING: Any = object()


def _lookup(raw: Any, path: list[Any]) -> Any:
    value = raw
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value
