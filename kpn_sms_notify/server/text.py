"""The text of an alert SMS: a short default and a configurable template.

Templates use Python's `{name}` format fields over plain strings only (no attribute access,
so a template cannot reach into objects). Unknown fields render empty rather than fail: a
missing label must not cost a page.

Fields: status, STATUS, count, count_tag (":N" when N > 1), firing, resolved, alertname,
severity, severity_tag (" (critical)"), summary, description, more (" +N more"), instance,
receiver, source, group_key, external_url, generator_url, labels[NAME], annotations[NAME].
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from ..textclean import clean_sms_text
from .alerts import Alert, Notification

_LOGGER = logging.getLogger("kpn_sms_notify.server")
DEFAULT_TEMPLATE = "[{STATUS}{count_tag}] {alertname}{severity_tag}: {summary}{more}"


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class _SafeFormatter(string.Formatter):
    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if "." in field_name:
            raise ValueError(f"template field {{{field_name}}}: attribute access is not allowed")
        return super().get_field(field_name, args, kwargs)

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, int):
            raise ValueError("template: positional fields {} are not allowed; name them")
        return kwargs.get(key, "")

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return str(super().format_field(value, format_spec))
        except (ValueError, TypeError):
            return str(value)


_FORMATTER = _SafeFormatter()

_SAMPLE = {
    "status": "firing",
    "STATUS": "FIRING",
    "count": 2,
    "count_tag": ":2",
    "firing": 2,
    "resolved": 0,
    "alertname": "DiskFull",
    "severity": "critical",
    "severity_tag": " (critical)",
    "summary": "Disk /var is 95% full",
    "description": "",
    "more": " +1 more",
    "instance": "web1",
    "receiver": "oncall",
    "source": "alertmanager",
    "group_key": "{}:{}",
    "external_url": "",
    "generator_url": "",
    "labels": _Missing(alertname="DiskFull"),
    "annotations": _Missing(summary="Disk /var is 95% full"),
}


# The same fields as an alert with nothing in it: a template must render for that too
# (`{summary[0]}` fails on an empty summary, so it is refused at load, not at 3 a.m.).
_EMPTY = {
    **{key: "" for key in _SAMPLE},
    "count": 0,
    "firing": 0,
    "resolved": 0,
    "labels": _Missing(),
    "annotations": _Missing(),
}
MAX_WIDTH = 1000  # the largest width or precision a format spec may ask for
_NUMBERS = re.compile(r"\d+")


def check_template(template: str) -> None:
    """Raise ValueError with a one-line reason when the template cannot render, for a
    sample alert or an empty one. Nested format specs (`{x:{y}}`) are refused: they would
    let alert content choose the padding; so are widths over MAX_WIDTH."""
    try:
        for _literal, name, spec, _conversion in _FORMATTER.parse(template):
            if name is None or not spec:
                continue
            if "{" in spec or "}" in spec:
                raise ValueError(f"template field {{{name}}}: nested format specs are not allowed")
            if any(int(n) > MAX_WIDTH for n in _NUMBERS.findall(spec)):
                raise ValueError(f"template field {{{name}}}: width over {MAX_WIDTH}")
        _FORMATTER.format(template, **_SAMPLE)
        _FORMATTER.format(template, **_EMPTY)
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise ValueError(f"bad template: {err}") from None


def _common(alerts: Sequence[Alert], name: str, fallback: Mapping[str, str]) -> str:
    values = {a.labels.get(name) or fallback.get(name, "") for a in alerts}
    values.discard("")
    if len(values) == 1:
        return values.pop()
    return next((a.labels[name] for a in alerts if a.labels.get(name)), fallback.get(name, ""))


def fields(notification: Notification, alerts: Sequence[Alert]) -> dict[str, Any]:
    """The template fields for a text about `alerts` (a routed subset of the notification)."""
    firing = [a for a in alerts if a.status == "firing"]
    resolved = [a for a in alerts if a.status == "resolved"]
    status = "firing" if firing else "resolved"
    shown = firing or resolved
    first = shown[0]
    count = len(shown)
    severity = _common(shown, "severity", notification.common_labels)
    annotations = _Missing({**notification.common_annotations, **first.annotations})
    summary = (
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or first.labels.get("instance", "")
    )
    more = f" +{count - 1} more" if count > 1 else ""
    if firing and resolved:
        more += f", {len(resolved)} resolved"
    return {
        "status": status,
        "STATUS": status.upper(),
        "count": count,
        "count_tag": f":{count}" if count > 1 else "",
        "firing": len(firing),
        "resolved": len(resolved),
        "alertname": _common(shown, "alertname", notification.common_labels)
        or notification.group_labels.get("alertname", "")
        or notification.receiver
        or "alert",
        "severity": severity,
        "severity_tag": f" ({severity})" if severity else "",
        "summary": summary,
        "description": annotations.get("description", ""),
        "more": more,
        "instance": _common(shown, "instance", notification.common_labels),
        "receiver": notification.receiver,
        "source": notification.source,
        "group_key": notification.group_key,
        "external_url": notification.external_url,
        "generator_url": first.generator_url,
        "labels": _Missing({**notification.common_labels, **first.labels}),
        "annotations": annotations,
    }


def render(notification: Notification, alerts: Sequence[Alert], template: str | None = None) -> str:
    """The SMS text, cleaned (`textclean.clean_sms_text`). Whitespace runs are collapsed: an
    SMS has no room for layout."""
    values = fields(notification, alerts)
    try:
        text = _FORMATTER.format(template or DEFAULT_TEMPLATE, **values)
    except (ValueError, KeyError, IndexError, TypeError) as err:
        # check_template makes this unlikely; should a template still fail on some alert,
        # the page goes out in the default shape rather than not at all.
        _LOGGER.warning("template failed (%s); the default template was used", err)
        text = _FORMATTER.format(DEFAULT_TEMPLATE, **values)
    text = clean_sms_text(text)  # no control or bidi characters reach the handset
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line) or "alert"
