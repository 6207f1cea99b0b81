"""The voluptuous validators of option values that a type and a range cannot say: a sender
ID, a region, a recipient list, a webhook URL. `options` names them in its declaration
(`check="sender"`), `schema` looks them up here."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
import voluptuous as vol

from .errors import KpnValidationError
from .numbers import validate_sender


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


base_url = url_validator("base_url")
callback = url_validator("callback")


def non_empty(value: Any) -> str:
    checked: str = vol.All(str, vol.Length(min=1, msg="must not be empty"))(value)
    return checked


def sender(value: Any) -> str:
    try:
        return validate_sender(value)
    except KpnValidationError as err:
        # validate_config adds the key and the value: keep only the reason.
        raise vol.Invalid(str(err).removeprefix("sender: ").split("' ", 1)[-1]) from None


def region(value: Any) -> str:
    code = str(value).strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise vol.Invalid("expected a two-letter ISO country code such as NL")
    return code


def recipients(value: Any) -> list[str] | dict[str, str]:
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


def client_ref(value: Any) -> str:
    text = str(value)
    if len(text) > 40:
        raise vol.Invalid("at most 40 characters")
    return text
