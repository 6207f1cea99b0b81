"""Alert webhook payloads (Alertmanager v4, Grafana, plain JSON) and their routing.

Payloads become a `Notification` with a stable `identity`: a redelivery of the same
notification (Alertmanager or Grafana retrying after a 5xx) has the same identity, so the
de-duplication window can tell who was already texted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import KpnValidationError
from ..textclean import for_log, repair_surrogates

MAX_ALERTS = 1000  # more than this in one payload is not a real notification


@dataclass(frozen=True, slots=True)
class Route:
    """One `receivers:` entry: who gets the alerts it matches."""

    name: str
    recipients: tuple[str, ...]
    match: Mapping[str, str] = field(default_factory=dict)  # label -> exact value
    match_re: Mapping[str, re.Pattern[str]] = field(default_factory=dict)  # label -> regex
    template: str | None = None

    @property
    def by_labels(self) -> bool:
        return bool(self.match or self.match_re)


def _bad(field_name: str, reason: str, value: Any = None) -> KpnValidationError:
    shown = repr(value) if value is not None else ""
    if len(shown) > 40:
        shown = shown[:37] + "..."
    got = f" (got {shown})" if shown else ""
    return KpnValidationError(f"{field_name}: {reason}{got}", field=field_name, value=shown or None)


@dataclass(frozen=True, slots=True)
class Alert:
    status: str  # "firing" or "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str = ""
    ends_at: str = ""
    fingerprint: str = ""
    generator_url: str = ""

    @property
    def key(self) -> str:
        """What identifies this alert: Alertmanager's fingerprint, else its label set."""
        if self.fingerprint:
            return self.fingerprint
        return json.dumps(sorted(self.labels.items()), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert notification, whatever webhook it came from."""

    source: str  # "alertmanager", "grafana" or "notify"
    receiver: str
    status: str
    alerts: tuple[Alert, ...]
    group_key: str = ""
    group_labels: Mapping[str, str] = field(default_factory=dict)
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    truncated_alerts: int = 0

    @property
    def identity(self) -> str:
        """Stable across redeliveries, different when anything a recipient reads changes."""
        alerts = sorted((a.key, a.status, a.starts_at, a.ends_at) for a in self.alerts)
        blob = json.dumps(
            [self.source, self.receiver, self.group_key, self.status, alerts],
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _str_map(value: Any, field_name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad(field_name, "expected an object of strings", value)
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool) and item is not None:
            # The key goes into a log line: newlines, escapes and bidi controls made visible.
            raise _bad(f"{field_name}.{for_log(key)}", "expected a string", item)
        # Lone surrogates become U+FFFD here, where the text enters (see textclean).
        out[repair_surrogates(str(key))] = "" if item is None else repair_surrogates(str(item))
    return out


def _str(value: Any, field_name: str, *, required: bool = False) -> str:
    if value is None:
        if required:
            raise _bad(field_name, "required field missing")
        return ""
    if not isinstance(value, str):
        raise _bad(field_name, "expected a string", value)
    return repair_surrogates(value)


def _status(value: Any, field_name: str) -> str:
    status = _str(value, field_name, required=True).strip().lower()
    if status not in ("firing", "resolved"):
        raise _bad(field_name, "expected firing or resolved", value)
    return status


def _alert(raw: Any, index: int) -> Alert:
    where = f"alerts[{index}]"
    if not isinstance(raw, Mapping):
        raise _bad(where, "expected an object", raw)
    return Alert(
        status=_status(raw.get("status"), f"{where}.status"),
        labels=_str_map(raw.get("labels"), f"{where}.labels"),
        annotations=_str_map(raw.get("annotations"), f"{where}.annotations"),
        starts_at=_str(raw.get("startsAt"), f"{where}.startsAt"),
        ends_at=_str(raw.get("endsAt"), f"{where}.endsAt"),
        fingerprint=_str(raw.get("fingerprint"), f"{where}.fingerprint"),
        generator_url=_str(raw.get("generatorURL"), f"{where}.generatorURL"),
    )


def _object(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise _bad("body", f"expected a JSON object, got {type(payload).__name__}")
    return payload


def parse_alert_payload(payload: Any, source: str) -> Notification:
    """Alertmanager's webhook (version 4) or Grafana's (version 1, the same shape plus extras)."""
    data = _object(payload)
    version = data.get("version")
    if source == "alertmanager" and version is not None and str(version) != "4":
        raise _bad("version", "only Alertmanager webhook version 4 is understood", version)
    raw_alerts = data.get("alerts")
    if not isinstance(raw_alerts, list):
        raise _bad("alerts", "required list missing", raw_alerts)
    if not raw_alerts:
        raise _bad("alerts", "the list is empty")
    if len(raw_alerts) > MAX_ALERTS:
        raise _bad("alerts", f"more than {MAX_ALERTS} alerts in one payload", len(raw_alerts))
    alerts = tuple(_alert(a, i) for i, a in enumerate(raw_alerts))
    status = data.get("status")
    overall = (
        _status(status, "status")
        if status is not None
        else ("firing" if any(a.status == "firing" for a in alerts) else "resolved")
    )
    truncated = data.get("truncatedAlerts") or 0
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise _bad("truncatedAlerts", "expected a whole number", truncated)
    return Notification(
        source=source,
        receiver=_str(data.get("receiver"), "receiver"),
        status=overall,
        alerts=alerts,
        group_key=_str(data.get("groupKey"), "groupKey"),
        group_labels=_str_map(data.get("groupLabels"), "groupLabels"),
        common_labels=_str_map(data.get("commonLabels"), "commonLabels"),
        common_annotations=_str_map(data.get("commonAnnotations"), "commonAnnotations"),
        external_url=_str(data.get("externalURL"), "externalURL"),
        truncated_alerts=truncated,
    )


@dataclass(frozen=True, slots=True)
class PlainNotice:
    """`POST /notify`: {message, title?, recipients?, id?, urgent?}."""

    message: str
    title: str | None
    recipients: tuple[str, ...] | None
    identity: str
    urgent: bool = False  # goes past the daily budget


def parse_notify_payload(payload: Any, idempotency_key: str | None = None) -> PlainNotice:
    data = _object(payload)
    message = _str(data.get("message"), "message", required=True)
    if not message.strip():
        raise _bad("message", "must not be empty")
    title = _str(data.get("title"), "title") or None
    raw = data.get("recipients")
    recipients: tuple[str, ...] | None
    if raw is None:
        recipients = None
    elif isinstance(raw, str):
        recipients = tuple(p.strip() for p in raw.split(",") if p.strip())
    elif isinstance(raw, list) and all(
        isinstance(r, str | int) and not isinstance(r, bool) for r in raw
    ):
        recipients = tuple(str(r) for r in raw)
    else:
        raise _bad("recipients", "expected a list of phone numbers")
    if recipients == ():
        raise _bad("recipients", "the list is empty")
    urgent = data.get("urgent", False)
    if not isinstance(urgent, bool):
        raise _bad("urgent", "expected true or false", urgent)
    key = data.get("id", idempotency_key)
    if key is not None and not isinstance(key, str | int):
        raise _bad("id", "expected a string", key)
    # Without an id, the content is the identity: the same text is not sent twice in a window.
    basis = ["id", str(key)] if key is not None else ["text", message, title or ""]
    identity = hashlib.sha256(json.dumps(["notify", *basis]).encode()).hexdigest()[:32]
    return PlainNotice(message, title, recipients, identity, urgent)


# --------------------------------------------------------------------------- routing


def _matches(route: Route, labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in route.match.items()):
        return False
    return all(p.fullmatch(labels.get(k, "")) for k, p in route.match_re.items())


@dataclass(frozen=True, slots=True)
class TextJob:
    """One text to write: these alerts, to these recipients, with this template."""

    alerts: tuple[Alert, ...]
    recipients: tuple[str, ...]
    template: str | None
    routes: tuple[str, ...]


def route_notification(
    notification: Notification, routes: Sequence[Route], fallback: Sequence[str]
) -> list[TextJob]:
    """Route every alert, then group recipients that get the same alerts into one text.

    Per alert: the label-matcher routes it matches; if none, the route named like the
    webhook's receiver; else a route named `default`; else the top-level `recipients`.
    """
    by_name = {r.name: r for r in routes if not r.by_labels}
    per_recipient: dict[str, list[int]] = {}
    template_of: dict[str, str | None] = {}
    route_names: dict[str, list[str]] = {}
    for index, alert in enumerate(notification.alerts):
        labels = {**notification.common_labels, **alert.labels}
        chosen = [r for r in routes if r.by_labels and _matches(r, labels)]
        if not chosen:
            named = by_name.get(notification.receiver) or by_name.get("default")
            chosen = [named] if named else []
        targets: list[tuple[str, str | None, str]] = [
            (n, r.template, r.name) for r in chosen for n in r.recipients
        ]
        if not chosen:
            targets = [(n, None, "recipients") for n in fallback]
        for number, template, name in targets:
            alerts = per_recipient.setdefault(number, [])
            if index not in alerts:
                alerts.append(index)
            template_of.setdefault(number, template)
            names = route_names.setdefault(number, [])
            if name not in names:
                names.append(name)
    groups: dict[tuple[tuple[int, ...], str | None], list[str]] = {}
    names_of: dict[tuple[tuple[int, ...], str | None], tuple[str, ...]] = {}
    for number, indexes in per_recipient.items():
        key = (tuple(indexes), template_of[number])
        groups.setdefault(key, []).append(number)
        names_of.setdefault(key, tuple(route_names[number]))
    return [
        TextJob(
            alerts=tuple(notification.alerts[i] for i in indexes),
            recipients=tuple(numbers),
            template=template,
            routes=names_of[(indexes, template)],
        )
        for (indexes, template), numbers in groups.items()
    ]
