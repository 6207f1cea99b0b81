"""The `serve:` section of the CLI's YAML config, validated with voluptuous.

The rest of the file is the shared client schema (`kpn_sms_notify.schema.validate_config`).
Errors come out as one line naming the key (`config: serve.token: ...`), secrets starred.
"""

from __future__ import annotations

import logging
import re
import resource
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol
import yaml

from ..errors import KpnValidationError
from ..inbound import DEFAULT_MAX_SKEW, SIGNATURE_METHODS
from ..inbound.assembler import DEFAULT_MAX_BYTES, DEFAULT_MAX_PARTS_PER_SENDER
from ..numbers import mask_number, normalize_number
from ..paging.config import PAGING_SCHEMA, PagingConfig, build_paging
from ..schema import is_loopback_host, looks_secret, shown_url, validate_config
from .alerts import Route
from .files import readable_by_all
from .text import DEFAULT_TEMPLATE, check_template

_LOGGER = logging.getLogger("kpn_sms_notify.server")
_SECRET_KEYS = frozenset({"token", "password", "path_secret", "signature_secret", "headers"})
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FD_HEADROOM = 64  # descriptors kept for state files, the gateway and the emulator
_MIN_PATH_SECRET = 16  # characters; "unguessable" means at least ~80 bits of randomness

DEFAULT_LISTEN = "127.0.0.1:9478"


@dataclass(frozen=True, slots=True)
class ForwardSinkConfig:
    url: str
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """`serve.notify`: who `POST /notify` may text (it names its own recipients)."""

    enabled: bool = True
    allow: frozenset[str] | None = None  # E.164 numbers; None: any number
    max_recipients: int = 10


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Everything `kpn-sms serve` needs besides the client config."""

    host: str = "127.0.0.1"
    port: int = 9478
    token: str | None = field(default=None, repr=False)
    basic_username: str | None = None
    basic_password: str | None = field(default=None, repr=False)
    metrics_auth: bool = False
    max_body: int = 1024 * 1024
    template: str = DEFAULT_TEMPLATE
    dedupe_window: float = 600.0
    dedupe_max_entries: int = 100_000
    routes: tuple[Route, ...] = ()
    state_dir: Path | None = None
    path_secret: str | None = field(default=None, repr=False)
    signature_secret: str | None = field(default=None, repr=False)
    signature_method: str = "md5hash"
    signature_max_skew: float = DEFAULT_MAX_SKEW
    concat_ttl: float = 3600.0
    inbound_max_bytes: int = DEFAULT_MAX_BYTES
    inbound_max_parts_per_sender: int = DEFAULT_MAX_PARTS_PER_SENDER
    jsonl: Path | None = None
    stdout: bool = False
    forward: ForwardSinkConfig | None = None
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 256
    max_in_flight: int = 64
    busy_wait: float = 5.0
    # Alerts with a `severity` label in this set are urgent: they go past the daily budget.
    urgent_severities: frozenset[str] = frozenset({"critical"})
    paging: PagingConfig | None = None

    @property
    def inbound_enabled(self) -> bool:
        return self.path_secret is not None


# --------------------------------------------------------------------------- validators


def _listen(value: Any) -> tuple[str, int]:
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise vol.Invalid("expected host:port, e.g. 127.0.0.1:9478")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def _secret(min_length: int) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) < min_length:
            raise vol.Invalid(f"expected a string of at least {min_length} characters")
        if not value.isprintable() or any(c.isspace() for c in value):
            raise vol.Invalid("must not contain spaces or control characters")
        return value

    return check


def _path_secret(value: Any) -> str:
    text: str = _secret(_MIN_PATH_SECRET)(value)
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", text):
        raise vol.Invalid("use only letters, digits and . _ ~ - (it is part of a URL path)")
    return text


def _template(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("expected a non-empty template string")
    try:
        check_template(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from None
    return value


def _forward_url(value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return text
    raise vol.Invalid("expected an https:// URL (plain http only for loopback hosts)")


def _label_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise vol.Invalid("expected a mapping label: value")
    out = {}
    for label, wanted in value.items():
        if not isinstance(label, str) or not _LABEL.match(label):
            raise vol.Invalid(f"{label!r} is not a label name")
        if not isinstance(wanted, str | int | float) or isinstance(wanted, bool):
            raise vol.Invalid(f"{label}: expected a string value")
        out[label] = str(wanted)
    return out


def _regex_map(value: Any) -> dict[str, re.Pattern[str]]:
    out = {}
    for label, pattern in _label_map(value).items():
        try:
            out[label] = re.compile(pattern)
        except re.error as err:
            raise vol.Invalid(f"{label}: bad regular expression ({err})") from None
    return out


def _numbers_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise vol.Invalid("expected a non-empty list of phone numbers")
    for item in value:
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise vol.Invalid("expected phone numbers")
    return [str(v) for v in value]


def _word_set(value: str | list[str]) -> frozenset[str]:
    """A list of label values (or one, or a comma-separated string)."""
    words = value.split(",") if isinstance(value, str) else value
    return frozenset(w.strip() for w in words if w.strip())


_ROUTE = vol.Schema(
    vol.Any(
        _numbers_list,
        {
            vol.Required("recipients"): _numbers_list,
            vol.Optional("match"): _label_map,
            vol.Optional("match_re"): _regex_map,
            vol.Optional("template"): _template,
        },
    )
)

SERVE_SCHEMA = vol.Schema(
    {
        vol.Optional("listen", default=DEFAULT_LISTEN): _listen,
        vol.Optional("token"): _secret(8),
        vol.Optional("basic_auth"): {
            vol.Required("username"): vol.All(str, vol.Length(min=1, max=200)),
            vol.Required("password"): _secret(8),
        },
        vol.Optional("metrics_auth", default=False): vol.Boolean(),
        vol.Optional("max_body", default=1024 * 1024): vol.All(
            vol.Coerce(int), vol.Range(min=1024, max=64 * 1024 * 1024)
        ),
        vol.Optional("template", default=DEFAULT_TEMPLATE): _template,
        vol.Optional("dedupe_window", default=600): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=7 * 86400)
        ),
        vol.Optional("dedupe_max_entries", default=100_000): vol.All(
            vol.Coerce(int), vol.Range(min=100, max=10_000_000)
        ),
        vol.Optional("receivers", default=dict): {str: _ROUTE},
        vol.Optional("state_dir"): vol.All(str, vol.Length(min=1)),
        vol.Optional("path_secret"): _path_secret,
        vol.Optional("signature_secret"): _secret(8),
        vol.Optional("signature_method", default="md5hash"): vol.In(SIGNATURE_METHODS),
        vol.Optional("signature_max_skew", default=DEFAULT_MAX_SKEW): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=7 * 86400)
        ),
        vol.Optional("concat_ttl", default=3600): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=86400)
        ),
        vol.Optional("header_timeout", default=10): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=300)
        ),
        vol.Optional("body_timeout", default=30): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=600)
        ),
        vol.Optional("max_connections"): vol.All(vol.Coerce(int), vol.Range(min=1, max=100_000)),
        vol.Optional("max_in_flight", default=64): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=10_000)
        ),
        vol.Optional("busy_wait", default=5): vol.All(vol.Coerce(float), vol.Range(min=0, max=60)),
        vol.Optional("urgent_severities", default=["critical"]): vol.All(
            vol.Any(str, [str]), _word_set
        ),
        vol.Optional("notify", default=dict): {
            vol.Optional("enabled", default=True): vol.Boolean(),
            vol.Optional("allow"): vol.Any(vol.All(str, vol.In(["any"])), _numbers_list),
            vol.Optional("max_recipients", default=10): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=1000)
            ),
        },
        vol.Optional("inbound_max_bytes", default=DEFAULT_MAX_BYTES): vol.All(
            vol.Coerce(int), vol.Range(min=64 * 1024, max=1024 * 1024 * 1024)
        ),
        vol.Optional("inbound_max_parts_per_sender", default=DEFAULT_MAX_PARTS_PER_SENDER): vol.All(
            vol.Coerce(int), vol.Range(min=2, max=10_000)
        ),
        vol.Optional("paging"): PAGING_SCHEMA,
        vol.Optional("sinks", default=dict): {
            vol.Optional("jsonl"): vol.All(str, vol.Length(min=1)),
            vol.Optional("stdout", default=False): vol.Boolean(),
            vol.Optional("forward"): vol.Any(
                _forward_url,
                {
                    vol.Required("url"): _forward_url,
                    vol.Optional("timeout", default=10.0): vol.All(
                        vol.Coerce(float), vol.Range(min=0.1, max=60)
                    ),
                    vol.Optional("headers", default=dict): {str: str},
                },
            ),
        },
    }
)


# --------------------------------------------------------------------------- loading


# Keys of the serve section whose values are not secrets (shown in errors as given).
_KNOWN_KEYS = frozenset(
    str(k) for k in SERVE_SCHEMA.schema if str(k) not in _SECRET_KEYS
) | frozenset(
    {
        "username",
        "url",
        "timeout",
        "match",
        "match_re",
        "template",
        "recipients",
        "enabled",
        "allow",
        "max_recipients",
        "jsonl",
        "stdout",
        "forward",
        "urgent_severities",
        "alertmanager",
        "chains",
        "steps",
        "after",
        "ack_from",
        "grafana",
        "sender",
        "ack_max",
        "keepalive",
        "poll_interval",
        "silence_match",
        "replica",
        "reply_limit",
        "reply_window",
    }
)


def load_file(path: str | Path) -> dict[str, Any]:
    """Read the YAML file; a missing or unreadable file is a one-line KpnValidationError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise KpnValidationError(
            f"config: cannot read {path}: {err.strerror}", field="config", value=str(path)
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise KpnValidationError(
            f"config: {path} is not valid YAML{where}", field="config", value=str(path)
        ) from None
    if not isinstance(data, Mapping):
        raise KpnValidationError(
            f"config: {path} must hold a mapping of keys", field="config", value=str(path)
        )
    return dict(data)


def split_config(raw: Mapping[str, Any]) -> tuple[dict[str, Any], ServeConfig]:
    """Validate a whole config: the client part (shared schema) and the `serve:` section."""
    raw = dict(raw)
    serve_raw = raw.pop("serve", None)
    client = validate_config(raw)
    if serve_raw is None:
        serve_raw = {}
    if not isinstance(serve_raw, Mapping):
        raise KpnValidationError(
            "config: serve: expected a mapping of keys", field="serve", value=type(serve_raw)
        )
    try:
        checked = SERVE_SCHEMA(dict(serve_raw))
    except vol.Invalid as err:
        raise _humanize(err, serve_raw) from None
    return client, _build(checked, client)


def _build(checked: dict[str, Any], client: Mapping[str, Any]) -> ServeConfig:
    host, port = checked["listen"]
    basic = checked.get("basic_auth") or {}
    if not checked.get("token") and not basic:
        raise KpnValidationError(
            "config: serve: set token (bearer) or basic_auth; the alert endpoints need one",
            field="serve.token",
        )
    sinks = checked["sinks"]
    any_sink = sinks.get("jsonl") or sinks.get("stdout") or sinks.get("forward")
    if (checked.get("signature_secret") or any_sink) and not checked.get("path_secret"):
        raise KpnValidationError(
            "config: serve.path_secret: required when inbound sinks or signatures are set",
            field="serve.path_secret",
        )
    if checked.get("paging") and not checked.get("path_secret"):
        raise KpnValidationError(
            "config: serve.paging: needs serve.path_secret: replies arrive at "
            "/inbound/<path_secret>, the URL the virtual number points at",
            field="serve.path_secret",
        )
    if checked.get("path_secret") and not any_sink and not checked.get("paging"):
        # Inbound on with nowhere to put it would answer 200 and lose every text.
        raise KpnValidationError(
            "config: serve.sinks: inbound is on (path_secret set) but no sink is configured; "
            "set jsonl, stdout or forward",
            field="serve.sinks",
        )
    forward = sinks.get("forward")
    if isinstance(forward, str):
        forward = {"url": forward, "timeout": 10.0, "headers": {}}
    routes = tuple(_route(name, spec, client) for name, spec in checked["receivers"].items())
    return ServeConfig(
        host=host,
        port=port,
        token=checked.get("token"),
        basic_username=basic.get("username"),
        basic_password=basic.get("password"),
        metrics_auth=checked["metrics_auth"],
        max_body=checked["max_body"],
        template=checked["template"],
        dedupe_window=checked["dedupe_window"],
        dedupe_max_entries=checked["dedupe_max_entries"],
        routes=routes,
        state_dir=Path(checked["state_dir"]) if checked.get("state_dir") else None,
        path_secret=checked.get("path_secret"),
        signature_secret=checked.get("signature_secret"),
        signature_method=checked["signature_method"],
        signature_max_skew=checked["signature_max_skew"],
        concat_ttl=checked["concat_ttl"],
        inbound_max_bytes=checked["inbound_max_bytes"],
        inbound_max_parts_per_sender=checked["inbound_max_parts_per_sender"],
        jsonl=Path(sinks["jsonl"]) if sinks.get("jsonl") else None,
        stdout=sinks["stdout"],
        forward=ForwardSinkConfig(forward["url"], forward["timeout"], forward["headers"])
        if forward
        else None,
        notify=_notify(checked["notify"], client, routes),
        header_timeout=checked["header_timeout"],
        body_timeout=checked["body_timeout"],
        max_connections=checked.get("max_connections") or default_max_connections(),
        max_in_flight=checked["max_in_flight"],
        busy_wait=checked["busy_wait"],
        urgent_severities=checked["urgent_severities"],
        paging=build_paging(checked["paging"], client, port=port)
        if checked.get("paging")
        else None,
    )


def default_max_connections() -> int:
    """The file-descriptor limit less room for files and the gateway's connections
    (at least 16, at most 1024): the server refuses a connection before accept() fails."""
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(16, min(1024, soft - _FD_HEADROOM))


def _notify(
    spec: Mapping[str, Any], client: Mapping[str, Any], routes: tuple[Route, ...]
) -> NotifyConfig:
    """The allow-list: given numbers or labels, or by default every configured number."""
    configured = client.get("recipients")
    labels: dict[str, str] = configured if isinstance(configured, dict) else {}
    allow = spec.get("allow")
    allowed: frozenset[str] | None
    if allow == "any":
        allowed = None
    elif allow is None:
        numbers = list(labels.values()) if labels else list(configured or [])
        allowed = frozenset(numbers + [n for r in routes for n in r.recipients])
    else:
        allowed = frozenset(
            _recipient(entry, labels, client["region"], f"serve.notify.allow[{i}]")
            for i, entry in enumerate(allow)
        )
    return NotifyConfig(
        enabled=spec["enabled"], allow=allowed, max_recipients=spec["max_recipients"]
    )


def _recipient(entry: str, labels: Mapping[str, str], region: str, key: str) -> str:
    """A label of the top-level `recipients:` mapping, or a number (canonical form)."""
    if entry in labels:
        return labels[entry]
    try:
        return normalize_number(entry, region, field=key)
    except KpnValidationError as err:
        raise KpnValidationError(f"config: {err}", field=err.field, value=err.value) from None


def _route(name: str, spec: Any, client: Mapping[str, Any]) -> Route:
    if isinstance(spec, list):
        spec = {"recipients": spec}
    # A recipient may be a label of the top-level `recipients:` mapping, or a number.
    configured = client.get("recipients")
    labels: dict[str, str] = configured if isinstance(configured, dict) else {}
    numbers = [
        _recipient(entry, labels, client["region"], f"serve.receivers.{name}.recipients[{i}]")
        for i, entry in enumerate(spec["recipients"])
    ]
    return Route(
        name=name,
        recipients=tuple(dict.fromkeys(numbers)),
        match=spec.get("match", {}),
        match_re=spec.get("match_re", {}),
        template=spec.get("template"),
    )


def load_config(path: str | Path) -> tuple[dict[str, Any], ServeConfig]:
    return split_config(load_file(path))


def warn_if_readable(path: str | Path) -> bool:
    """Log one warning when the config file (it holds client_secret and the serve
    credentials) may be read by other users; True when it warned. Names the file and its
    mode, nothing of its content."""
    mode = readable_by_all(path)
    if mode is None:
        return False
    _LOGGER.warning(
        "config %s is readable by every user (mode %04o) and holds secrets: chmod 600 it",
        path,
        mode,
    )
    return True


def _humanize(err: vol.Invalid, raw: Mapping[str, Any]) -> KpnValidationError:
    first = err.errors[0] if isinstance(err, vol.MultipleInvalid) else err
    # Keys come from the user's file: keep the line clean of control characters.
    path = ["".join(c if c.isprintable() else "?" for c in str(p))[:40] for p in first.path]
    key = "serve." + ".".join(path) if path else "serve"
    msg = first.error_message or "invalid value"
    if msg.startswith("extra keys not allowed"):
        msg = "unknown key"
    elif msg.startswith("required key not provided"):
        msg = "required key is missing"
    value: Any = raw
    for step in first.path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            value = None
            break
    if value is not None and any(p in _SECRET_KEYS or looks_secret(p, _KNOWN_KEYS) for p in path):
        value = "***"
    elif value is not None and "recipients" in path:
        value = mask_number(value)
    elif isinstance(value, str) and "://" in value:
        value = shown_url(value)  # userinfo and webhook paths may be secrets
    got = f" (got {value!r})" if value is not None and not isinstance(value, Mapping) else ""
    return KpnValidationError(f"config: {key}: {msg}{got}", field=key, value=value)
