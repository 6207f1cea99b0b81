"""The one config schema every host shares: CLI file and environment, Home Assistant YAML,
Apprise URL arguments and `kpn-sms serve`.

`validate_config(raw)` returns the normalised config or raises KpnValidationError with one
readable line naming the key and the bad value (secrets masked). Hosts that embed the keys in
their own voluptuous schema (Home Assistant's PLATFORM_SCHEMA) use `SCHEMA_FIELDS`.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
import voluptuous as vol

from .encoding import OVERFLOW_POLICIES, UNICODE_POLICIES
from .errors import KpnValidationError
from .numbers import mask_number, normalize_number, validate_sender
from .protocol import DEFAULT_BASE_URL

SECRET_KEYS = frozenset(
    {"client_secret", "secret", "access_token", "token", "password", "signature_secret"}
)
NUMBER_KEYS = frozenset({"recipients", "to", "target", "targets"})

# Defaults, in one place, so hosts and docs agree.
DEFAULTS: dict[str, Any] = {
    "base_url": DEFAULT_BASE_URL,
    "region": "NL",
    "max_parts": 3,
    "overflow": "truncate",
    "unicode": "auto",
    "rate_limit": 25.0,  # requests/s; Vonage allows 30 per account by default
    "max_concurrency": 10,
    "timeout": 10.0,
    "retries": 3,
    "retry_budget": 30.0,
    "retry_ambiguous": False,
    "status_report": False,
    "token_margin": 300.0,
}


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_validator(key: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value).strip()
        parts = urlsplit(text)
        if parts.scheme == "https" and parts.hostname:
            return text.rstrip("/") if key == "base_url" else text
        if parts.scheme == "http" and is_loopback_host(parts.hostname):
            return text.rstrip("/") if key == "base_url" else text
        if parts.scheme == "http":
            raise vol.Invalid(
                "plain http is only allowed for loopback hosts (the emulator); use https"
            )
        raise vol.Invalid("expected an https:// URL")

    return check


def _sender(value: Any) -> str:
    try:
        return validate_sender(value)
    except KpnValidationError as err:
        # validate_config adds the key and the value: keep only the reason.
        raise vol.Invalid(str(err).removeprefix("sender: ").split("' ", 1)[-1]) from None


def _region(value: Any) -> str:
    region = str(value).strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise vol.Invalid("expected a two-letter ISO country code such as NL")
    return region


def _recipients(value: Any) -> list[str] | dict[str, str]:
    """A list of numbers, a comma-separated string, or a mapping label -> number.

    Numbers are checked for shape here; they are normalised against the region in
    `validate_config`, once the region is known.
    """
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for label, number in value.items():
            if not isinstance(number, str | int) or isinstance(number, bool):
                raise vol.Invalid(f"{label}: expected a phone number")
            out[str(label)] = str(number)
        return out
    if isinstance(value, list | tuple):
        for number in value:
            if not isinstance(number, str | int) or isinstance(number, bool):
                raise vol.Invalid("expected phone numbers")
        return [str(n) for n in value]
    raise vol.Invalid("expected a list of phone numbers or a mapping label: number")


def _client_ref(value: Any) -> str:
    text = str(value)
    if len(text) > 40:
        raise vol.Invalid("at most 40 characters")
    return text


SCHEMA_FIELDS: dict[Any, Any] = {
    vol.Required("client_id"): vol.All(str, vol.Length(min=1, msg="must not be empty")),
    vol.Required("client_secret"): vol.All(str, vol.Length(min=1, msg="must not be empty")),
    vol.Optional("sender"): _sender,
    vol.Optional("recipients", default=list): _recipients,
    vol.Optional("base_url", default=DEFAULTS["base_url"]): url_validator("base_url"),
    vol.Optional("region", default=DEFAULTS["region"]): _region,
    vol.Optional("max_parts", default=DEFAULTS["max_parts"]): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=10)
    ),
    vol.Optional("overflow", default=DEFAULTS["overflow"]): vol.In(OVERFLOW_POLICIES),
    vol.Optional("unicode", default=DEFAULTS["unicode"]): vol.In(UNICODE_POLICIES),
    vol.Optional("rate_limit", default=DEFAULTS["rate_limit"]): vol.All(
        vol.Coerce(float), vol.Range(min=0.1, max=1000)
    ),
    vol.Optional("max_concurrency", default=DEFAULTS["max_concurrency"]): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=200)
    ),
    vol.Optional("timeout", default=DEFAULTS["timeout"]): vol.All(
        vol.Coerce(float), vol.Range(min=0.1, max=300)
    ),
    vol.Optional("retries", default=DEFAULTS["retries"]): vol.All(
        vol.Coerce(int), vol.Range(min=0, max=10)
    ),
    vol.Optional("retry_budget", default=DEFAULTS["retry_budget"]): vol.All(
        vol.Coerce(float), vol.Range(min=0, max=3600)
    ),
    vol.Optional("retry_ambiguous", default=DEFAULTS["retry_ambiguous"]): vol.Boolean(),
    vol.Optional("status_report", default=DEFAULTS["status_report"]): vol.Boolean(),
    vol.Optional("callback"): url_validator("callback"),
    vol.Optional("ttl"): vol.All(vol.Coerce(int), vol.Range(min=20000, max=604800000)),
    vol.Optional("client_ref"): _client_ref,
    vol.Optional("token_margin", default=DEFAULTS["token_margin"]): vol.All(
        vol.Coerce(float), vol.Range(min=0, max=3000)
    ),
}

CONFIG_SCHEMA = vol.Schema(SCHEMA_FIELDS)
CONFIG_KEYS = frozenset(str(k) for k in SCHEMA_FIELDS)


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
        config["recipients"] = normalize_recipients(config["recipients"], config["region"])
    except KpnValidationError as err:
        raise KpnValidationError(f"config: {err}", field=err.field, value=err.value) from None
    return config


def normalize_recipients(
    recipients: list[str] | dict[str, str], region: str
) -> list[str] | dict[str, str]:
    """Normalise every number, keeping the list or mapping shape; errors name the entry."""
    if isinstance(recipients, dict):
        return {
            label: normalize_number(n, region, field=f"recipients.{label}")
            for label, n in recipients.items()
        }
    return [normalize_number(n, region, field=f"recipients[{i}]") for i, n in enumerate(recipients)]


def recipient_numbers(config: Mapping[str, Any]) -> list[str]:
    """The configured recipients as a list of numbers, whatever their shape."""
    recipients = config.get("recipients") or []
    return list(recipients.values()) if isinstance(recipients, dict) else list(recipients)


def humanize_error(err: vol.Invalid, raw: Mapping[str, Any]) -> KpnValidationError:
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
        f"config: {key}: {msg}{got}", field=key, value=None if value is _MISSING else shown
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
