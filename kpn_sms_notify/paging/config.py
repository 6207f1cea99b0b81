"""The `serve.paging:` section: Alertmanager's API, escalation chains, acknowledgements.

Validated by voluptuous inside serve's schema (`server.config`), then built into a
`PagingConfig` with every recipient a canonical number. Durations are Alertmanager's
(`30s`, `10m`, `1h30m`, `250ms`) or plain seconds.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from ..errors import KpnValidationError
from ..numbers import normalize_number, validate_sender
from ..schema import is_loopback_host

GRAFANA_BASE = "/api/alertmanager/grafana"
SILENCE_MATCH = ("group", "alerts")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CHAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `1.5`, `30s`, `10m`, `1h30m` or `250ms`; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m or 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("expected a duration such as 30s, 10m or 1h")
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"{text!r} is not a duration; use e.g. 30s, 10m, 1h30m or 250ms")
    return total


def format_duration(seconds: float) -> str:
    """Alertmanager's spelling of a duration: `0s`, `250ms`, `10m`, `1h30m`."""
    if seconds < 1 and seconds:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def _duration(minimum: float = 0.0, maximum: float = 30 * 86400) -> Any:
    def check(value: Any) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        if not minimum <= seconds <= maximum:
            raise vol.Invalid(
                f"must be between {format_duration(minimum)} and {format_duration(maximum)}"
            )
        return seconds

    return check


def _api_url(value: Any) -> str:
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and parts.hostname:
        return text  # Alertmanager often runs beside serve on plain http
    raise vol.Invalid("expected an http:// or https:// URL of Alertmanager (or Grafana)")


def _names(value: Any) -> list[str]:
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise vol.Invalid("expected a non-empty list of recipient labels or numbers")
    for item in value:
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise vol.Invalid("expected recipient labels or numbers")
    return [str(v) for v in value]


def _chain_name(value: Any) -> str:
    if not isinstance(value, str) or not _CHAIN_NAME.match(value):
        raise vol.Invalid("a chain name is letters, digits and . _ - (it is part of a URL path)")
    return value


_STEP = vol.Schema(
    {
        vol.Optional("after", default=0): _duration(),
        vol.Required("recipients"): _names,
    }
)

PAGING_SCHEMA = vol.Schema(
    {
        vol.Required("alertmanager"): {
            vol.Required("url"): _api_url,
            vol.Optional("token"): vol.All(str, vol.Length(min=1, max=4096)),
            vol.Optional("username"): vol.All(str, vol.Length(min=1, max=200)),
            vol.Optional("password"): vol.All(str, vol.Length(min=1, max=4096)),
            vol.Optional("grafana", default=False): vol.Boolean(),
            vol.Optional("timeout", default=5): _duration(0.1, 60),
        },
        vol.Optional("sender"): vol.Any(str, int),
        vol.Required("chains"): vol.All(
            {
                _chain_name: {
                    vol.Required("steps"): vol.All([_STEP], vol.Length(min=1, max=20)),
                    vol.Optional("ack_from"): _names,
                }
            },
            vol.Length(min=1),
        ),
        vol.Optional("ack_max", default="24h"): _duration(60, 30 * 86400),
        vol.Optional("keepalive", default="15m"): _duration(1, 86400),
        vol.Optional("poll_interval", default="30s"): _duration(0.05, 3600),
        vol.Optional("silence_match", default="group"): vol.In(SILENCE_MATCH),
        vol.Optional("replica"): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional("reply_limit", default=5): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("reply_window", default="10m"): _duration(1, 86400),
        vol.Optional("url"): _api_url,
    }
)


@dataclass(frozen=True, slots=True)
class AlertmanagerApiConfig:
    """How to reach Alertmanager's API v2 (`base` ends before `/api/v2`)."""

    base: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class Step:
    """One escalation step: `after` seconds into the incident, text these numbers."""

    after: float
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Chain:
    """An escalation chain: its steps in order, and who may acknowledge its pages."""

    name: str
    steps: tuple[Step, ...]
    ack_from: frozenset[str]

    @property
    def members(self) -> tuple[str, ...]:
        """Everyone the chain pages, in step order."""
        return tuple(dict.fromkeys(n for step in self.steps for n in step.recipients))

    def paged_by(self, elapsed: float) -> tuple[str, ...]:
        """Everyone whose step is due `elapsed` seconds into an incident."""
        return tuple(
            dict.fromkeys(
                n for step in self.steps if step.after <= elapsed for n in step.recipients
            )
        )

    def receiver(self, step: int) -> str:
        """The Alertmanager receiver name of a step: `<chain>-step<N>`."""
        return f"{self.name}-step{step}"


@dataclass(frozen=True, slots=True)
class PagingConfig:
    """Everything the paging engine needs; numbers are canonical E.164."""

    alertmanager: AlertmanagerApiConfig
    sender: str
    chains: Mapping[str, Chain]
    labels: Mapping[str, str] = field(default_factory=dict)  # number -> recipient label
    ack_max: float = 86400.0
    keepalive: float = 900.0
    poll_interval: float = 30.0
    silence_match: str = "group"
    replica: str = ""
    reply_limit: int = 5
    reply_window: float = 600.0
    url: str | None = None  # serve as Alertmanager reaches it (for the printed routes)

    def name_of(self, number: str) -> str:
        """The recipient's label, else the number itself."""
        return self.labels.get(number, number)

    def chain_of_receiver(self, receiver: str) -> tuple[Chain, int] | None:
        """The chain and step an Alertmanager receiver name (`<chain>-step<N>`) stands for."""
        name, sep, index = receiver.rpartition("-step")
        chain = self.chains.get(name)
        if not sep or chain is None or not index.isdigit() or int(index) >= len(chain.steps):
            return None
        return chain, int(index)


def build_paging(
    checked: Mapping[str, Any], client: Mapping[str, Any], *, port: int
) -> PagingConfig:
    """The validated section (`PAGING_SCHEMA`) made into a `PagingConfig`."""
    configured = client.get("recipients")
    labels: dict[str, str] = configured if isinstance(configured, dict) else {}
    region = client["region"]

    def number(entry: str, key: str) -> str:
        if entry in labels:
            return labels[entry]
        try:
            return normalize_number(entry, region, field=key)
        except KpnValidationError as err:
            raise KpnValidationError(
                f"config: {err} (not a label of recipients: either)", field=key, value=err.value
            ) from None

    chains: dict[str, Chain] = {}
    for name, spec in checked["chains"].items():
        where = f"serve.paging.chains.{name}"
        steps = tuple(
            Step(
                after=raw["after"],
                recipients=tuple(
                    dict.fromkeys(
                        number(entry, f"{where}.steps[{i}].recipients[{j}]")
                        for j, entry in enumerate(raw["recipients"])
                    )
                ),
            )
            for i, raw in enumerate(spec["steps"])
        )
        afters = [step.after for step in steps]
        if afters != sorted(afters) or len(set(afters)) != len(afters):
            raise KpnValidationError(
                f"config: {where}.steps: each step's `after` must be later than the one before "
                f"(got {', '.join(format_duration(a) for a in afters)})",
                field=f"{where}.steps",
            )
        chain = Chain(name=name, steps=steps, ack_from=frozenset())
        ack_from = spec.get("ack_from")
        allowed = (
            frozenset(number(e, f"{where}.ack_from[{i}]") for i, e in enumerate(ack_from))
            if ack_from
            else frozenset(chain.members)
        )
        chains[name] = Chain(name=name, steps=steps, ack_from=allowed)
    keepalive = min(checked["keepalive"], checked["ack_max"])
    if checked["poll_interval"] > keepalive / 4:
        raise KpnValidationError(
            f"config: serve.paging.poll_interval: {format_duration(checked['poll_interval'])} "
            f"is more than a quarter of keepalive ({format_duration(keepalive)}): a silence "
            "would expire between two extensions",
            field="serve.paging.poll_interval",
        )
    return PagingConfig(
        alertmanager=_api(checked["alertmanager"]),
        sender=_numeric_sender(checked.get("sender", client.get("sender"))),
        chains=chains,
        labels={num: label for label, num in labels.items()},
        ack_max=checked["ack_max"],
        keepalive=keepalive,
        poll_interval=checked["poll_interval"],
        silence_match=checked["silence_match"],
        replica=checked.get("replica") or f"{socket.gethostname()}:{port}",
        reply_limit=checked["reply_limit"],
        reply_window=checked["reply_window"],
        url=checked.get("url"),
    )


def _api(spec: Mapping[str, Any]) -> AlertmanagerApiConfig:
    token, username, password = spec.get("token"), spec.get("username"), spec.get("password")
    key = "config: serve.paging.alertmanager"
    if (username is None) != (password is None):
        raise KpnValidationError(
            f"{key}: set both username and password (basic auth), or neither",
            field="serve.paging.alertmanager",
        )
    if token and username:
        raise KpnValidationError(
            f"{key}: set token (bearer) or username/password (basic), not both",
            field="serve.paging.alertmanager",
        )
    base = spec["url"]
    if spec["grafana"]:
        if not token:
            raise KpnValidationError(
                f"{key}.token: Grafana needs a service-account token (grafana: true)",
                field="serve.paging.alertmanager.token",
            )
        if not base.endswith(GRAFANA_BASE):
            base += GRAFANA_BASE
    if (token or password) and not (
        base.startswith("https://") or is_loopback_host(urlsplit(base).hostname)
    ):
        raise KpnValidationError(
            f"{key}.url: credentials go only over https:// (plain http only to a loopback host)",
            field="serve.paging.alertmanager.url",
        )
    return AlertmanagerApiConfig(
        base=base, token=token, username=username, password=password, timeout=spec["timeout"]
    )


def _numeric_sender(raw: Any) -> str:
    key = "serve.paging.sender"
    if raw is None:
        raise KpnValidationError(
            f"config: {key}: required: paging sends from the virtual number that receives "
            "the replies (set sender: or serve.paging.sender:)",
            field=key,
        )
    try:
        sender = validate_sender(raw, field=key)
    except KpnValidationError as err:
        raise KpnValidationError(f"config: {err}", field=key, value=err.value) from None
    if not sender.isdigit():
        raise KpnValidationError(
            f"config: {key}: {sender!r} is alphanumeric, and a phone cannot reply to an "
            "alphanumeric sender; paging needs the virtual number that receives the replies "
            "(e.g. 3197010000000)",
            field=key,
            value=sender,
        )
    return sender
