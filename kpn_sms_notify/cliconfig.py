"""The CLI's config: flags over environment over a YAML file, validated by the shared schema."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import KpnValidationError
from .options import OPTIONS
from .schema import validate_config

# KPN_SMS_<KEY> for the options declared so; recipients are comma-separated.
ENV_KEYS = {o.env_name: o.key for o in OPTIONS if o.env}
# Sections of the YAML file that belong to other commands (`kpn-sms serve`).
HOST_SECTIONS = ("serve",)


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The YAML file as a mapping; errors name the file, never its secret values."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise KpnValidationError(
            f"config: cannot read {file}: {err.strerror}", field="config", value=str(file)
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise KpnValidationError(
            f"config: {file}{where}: not valid YAML", field="config", value=str(file)
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KpnValidationError(
            f"config: {file}: expected a mapping of keys at the top",
            field="config",
            value=str(file),
        )
    return data


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, key in ENV_KEYS.items():
        value = env.get(name)
        if value:
            out[key] = value
    return out


def load(
    file: str | None, flags: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(validated config, host sections such as `serve`) from file, environment and flags."""
    raw = read_file(file) if file else {}
    sections = {name: raw.pop(name) for name in HOST_SECTIONS if name in raw}
    raw.update(from_environment(environ))
    raw.update({k: v for k, v in flags.items() if v is not None})
    if "client_id" not in raw or "client_secret" not in raw:
        missing = "client_id" if "client_id" not in raw else "client_secret"
        env = next(n for n, k in ENV_KEYS.items() if k == missing)
        raise KpnValidationError(
            f"config: {missing}: required key is missing (set {env} or use --config FILE)",
            field=missing,
        )
    return validate_config(raw), sections
