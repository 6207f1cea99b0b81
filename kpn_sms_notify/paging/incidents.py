"""Incidents as Alertmanager shows them, their references, and acknowledgement silences.

No I/O. An incident is one alert group of a chain: its group labels, its alerts and its
start (the earliest `startsAt`, to the second). Its reference is `reference_for` over chain,
group labels and start, so every replica that lists Alertmanager's groups finds the same
one, and the steps of a chain (one Alertmanager route each) share it.

An acknowledgement is a silence whose comment starts with `kpn-sms ACK <ref>` and says who
acknowledged it, when, how many steps had been paged and which replica keeps it alive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..replies import reference_for
from .config import Chain, PagingConfig

ACK_PREFIX = "kpn-sms ACK"
_COMMENT = re.compile(
    r"^kpn-sms ACK (?P<ref>[0-9A-Z]+) by (?P<by>\S+) at (?P<at>\S+); chain (?P<chain>\S+); "
    r"paged (?P<steps>\d+) step\(s\); via (?P<via>\S+)$"
)


@dataclass(frozen=True, slots=True)
class AlertLabels:
    """What paging needs of one alert: its labels and when it started."""

    labels: Mapping[str, str]
    starts_at: str


@dataclass(frozen=True, slots=True)
class Incident:
    """One alert group of a chain, firing."""

    chain: Chain
    labels: Mapping[str, str]  # the group labels
    alerts: tuple[AlertLabels, ...]
    start: datetime

    @property
    def ref(self) -> str:
        return incident_reference(self.chain.name, self.labels, self.start)

    @property
    def title(self) -> str:
        """`DiskFull service=db`: the alert name, then the other group labels."""
        labels = dict(self.labels)
        if not labels and self.alerts:
            labels = {"alertname": self.alerts[0].labels.get("alertname", "")}
        name = labels.pop("alertname", "")
        rest = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return " ".join(p for p in (name, rest) if p) or "alert"

    def elapsed(self, now: datetime) -> float:
        return max(0.0, (now - self.start).total_seconds())


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledgement silence, read back from Alertmanager."""

    silence_id: str
    ref: str
    by: str  # the acknowledger's label, or number
    at: datetime
    chain: str
    steps: int
    via: str
    matchers: tuple[dict[str, object], ...]
    starts_at: str
    ends_at: datetime
    created_by: str


def parse_time(text: str) -> datetime | None:
    """An Alertmanager timestamp (`2026-12-01T02:48:40.533Z`, nanoseconds too) in UTC."""
    text = text.strip()
    if not text or text.startswith("0001-"):
        return None
    head, dot, frac = text.partition(".")
    if dot:  # Python reads at most microseconds: cut the fraction to 6 digits
        digits = "".join(c for c in frac if c.isdigit())
        text = f"{head}.{digits[:6]}{frac[len(digits) :]}"
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def iso(when: datetime) -> str:
    """A UTC timestamp as Alertmanager takes it, to the millisecond."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def incident_reference(chain: str, labels: Mapping[str, str], start: datetime) -> str:
    """The reference of one incident: chain, group labels and start (to the second)."""
    key = json.dumps(
        [chain, sorted(labels.items()), start.replace(microsecond=0).isoformat()],
        separators=(",", ":"),
    )
    return reference_for(key)


def incident_of(
    chain: Chain, labels: Mapping[str, str], alerts: Sequence[AlertLabels], now: datetime
) -> Incident:
    """The incident of a group; its start is the earliest alert start (else `now`)."""
    starts = [t for a in alerts if (t := parse_time(a.starts_at)) is not None]
    return Incident(
        chain=chain,
        labels=dict(labels),
        alerts=tuple(alerts),
        start=min(starts) if starts else now.replace(microsecond=0),
    )


def incidents_from_groups(
    groups: Iterable[Mapping[str, object]], config: PagingConfig, now: datetime
) -> dict[str, Incident]:
    """Alertmanager's `GET /alerts/groups` read as incidents of the configured chains,
    by reference (a chain's step routes show the same group once per step)."""
    out: dict[str, Incident] = {}
    for group in groups:
        receiver = group.get("receiver")
        name = receiver.get("name") if isinstance(receiver, Mapping) else None
        found = config.chain_of_receiver(name) if isinstance(name, str) else None
        if found is None:
            continue
        labels = _str_map(group.get("labels"))
        alerts = [
            AlertLabels(_str_map(a.get("labels")), str(a.get("startsAt") or ""))
            for a in _dicts(group.get("alerts"))
        ]
        if not alerts:
            continue
        incident = incident_of(found[0], labels, alerts, now)
        out.setdefault(incident.ref, incident)
    return out


def silence_matchers(incident: Incident, mode: str) -> list[dict[str, object]]:
    """Matchers of the acknowledgement silence.

    `group` (default): the group labels, so later alerts of the group are covered too.
    `alerts`: every label the group's alerts all carry, a label with several values as a
    regular expression of them (karma's way); new instances page again. Without group
    labels, `group` falls back to `alerts` (a silence needs a matcher).
    """
    if mode == "group" and incident.labels:
        return [_equal(k, v) for k, v in sorted(incident.labels.items())]
    common = (
        set.intersection(*(set(a.labels) for a in incident.alerts)) if incident.alerts else set()
    )
    out: list[dict[str, object]] = []
    for name in sorted(common):
        values = sorted({a.labels[name] for a in incident.alerts})
        if len(values) == 1:
            out.append(_equal(name, values[0]))
        else:
            pattern = "|".join(re.escape(v) for v in values)
            out.append({"name": name, "value": pattern, "isRegex": True, "isEqual": True})
    if not out:
        out = [_equal(k, v) for k, v in sorted(incident.labels.items())]
    return out


def matches(matchers: Sequence[Mapping[str, object]], labels: Mapping[str, str]) -> bool:
    """Whether an alert's labels match every matcher (Alertmanager anchors regexes)."""
    for matcher in matchers:
        value = labels.get(str(matcher.get("name")), "")
        wanted = str(matcher.get("value", ""))
        if matcher.get("isRegex"):
            try:
                hit = re.fullmatch(wanted, value) is not None
            except re.error:
                return False
        else:
            hit = value == wanted
        if hit != bool(matcher.get("isEqual", True)):
            return False
    return True


def ack_comment(*, ref: str, by: str, at: datetime, chain: str, steps: int, via: str) -> str:
    return (
        f"{ACK_PREFIX} {ref} by {by} at {iso(at)}; chain {chain}; paged {steps} step(s); via {via}"
    )


def read_ack(silence: Mapping[str, object]) -> Ack | None:
    """A silence read as an acknowledgement of ours, else None (also when not active)."""
    status = silence.get("status")
    if not isinstance(status, Mapping) or status.get("state") != "active":
        return None
    found = _COMMENT.match(str(silence.get("comment") or ""))
    at = parse_time(found.group("at")) if found else None
    ends = parse_time(str(silence.get("endsAt") or ""))
    silence_id = silence.get("id")
    if not found or at is None or ends is None or not isinstance(silence_id, str):
        return None
    return Ack(
        silence_id=silence_id,
        ref=found.group("ref"),
        by=found.group("by"),
        at=at,
        chain=found.group("chain"),
        steps=int(found.group("steps")),
        via=found.group("via"),
        matchers=tuple(_dicts(silence.get("matchers"))),
        starts_at=str(silence.get("startsAt") or ""),
        ends_at=ends,
        created_by=str(silence.get("createdBy") or ""),
    )


def steps_due(chain: Chain, elapsed: float) -> int:
    """How many of the chain's steps are due `elapsed` seconds into an incident."""
    return sum(1 for step in chain.steps if step.after <= elapsed)


def _equal(name: str, value: str) -> dict[str, object]:
    return {"name": name, "value": value, "isRegex": False, "isEqual": True}


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _dicts(value: object) -> list[dict[str, object]]:
    if not isinstance(value, list):
        return []
    return [dict(item) for item in value if isinstance(item, Mapping)]
