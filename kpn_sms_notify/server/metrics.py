"""`GET /metrics`: counters in the Prometheus text format (version 0.0.4).

Small on purpose: a handful of counters and gauges, no client library. Label values are
endpoint names and outcome words, never numbers, texts or secrets.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..models import Quota
from ..sendguard import GuardStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class _Family:
    name: str
    kind: str  # "counter", "gauge" or "histogram"
    help: str


FAMILIES: tuple[_Family, ...] = (
    _Family("kpn_sms_texts_sent_total", "counter", "Texts accepted by KPN, per recipient."),
    _Family(
        "kpn_sms_texts_failed_total",
        "counter",
        "Texts not accepted, per recipient; kind is permanent or transient.",
    ),
    _Family("kpn_sms_send_retries_total", "counter", "Send retries made by the client."),
    _Family(
        "kpn_sms_texts_deduplicated_total",
        "counter",
        "Recipients skipped because this notification already reached them.",
    ),
    _Family(
        "kpn_sms_notifications_total",
        "counter",
        "Alert webhook requests, by endpoint and answer (ok, retry, rejected).",
    ),
    _Family("kpn_sms_unrouted_alerts_total", "counter", "Notifications with no recipient."),
    _Family("kpn_sms_inbound_received_total", "counter", "Inbound texts handed to the sinks."),
    _Family("kpn_sms_inbound_parts_total", "counter", "Inbound webhook calls accepted (parts)."),
    _Family(
        "kpn_sms_inbound_duplicates_total", "counter", "Inbound redeliveries dropped by messageId."
    ),
    _Family(
        "kpn_sms_delivery_receipts_total", "counter", "Delivery receipts received, by outcome."
    ),
    _Family("kpn_sms_webhook_rejected_total", "counter", "Webhook calls refused, by reason."),
    _Family("kpn_sms_sink_errors_total", "counter", "Records a sink could not take, by sink."),
    _Family("kpn_sms_token_requests_total", "counter", "OAuth token requests made to KPN."),
    _Family(
        "kpn_sms_texts_suppressed_total",
        "counter",
        "Texts held back by the send guard, by reason (storm or budget).",
    ),
    _Family("kpn_sms_digests_sent_total", "counter", "Storm digests sent (one per window)."),
    _Family("kpn_sms_admin_notices_total", "counter", "Budget and balance notices to admins."),
    _Family(
        "kpn_sms_low_balance_warnings_total", "counter", "Times the balance fell below low_balance."
    ),
    _Family("kpn_sms_budget_spent", "gauge", "Spent today, in the account's currency."),
    _Family("kpn_sms_budget", "gauge", "The daily budget (daily_budget), when set."),
    _Family("kpn_sms_balance", "gauge", "Last remaining-balance seen from KPN."),
    _Family("kpn_sms_quota_limit", "gauge", "Last quota-limit header seen from KPN."),
    _Family("kpn_sms_quota_used", "gauge", "Last quota-used header seen from KPN."),
    _Family("kpn_sms_quota_remaining", "gauge", "Last quota remaining (limit - used)."),
    _Family(
        "kpn_sms_last_quota_seen_timestamp_seconds", "gauge", "When quota headers were last seen."
    ),
    _Family("kpn_sms_start_time_seconds", "gauge", "When this server started (Unix time)."),
    _Family("kpn_sms_pages_total", "counter", "Pages sent, by chain and step."),
    _Family(
        "kpn_sms_pages_suppressed_total",
        "counter",
        "Step notifications not paged because the incident was acknowledged.",
    ),
    _Family("kpn_sms_escalations_total", "counter", "Pages sent at a step after the first."),
    _Family("kpn_sms_acks_total", "counter", "Acknowledgements by reply, by chain."),
    _Family("kpn_sms_unacks_total", "counter", "Acknowledgements undone by reply, by chain."),
    _Family(
        "kpn_sms_time_to_ack_seconds",
        "histogram",
        "From the incident's start to its acknowledgement, by chain.",
    ),
    _Family(
        "kpn_sms_resolved_while_acked_total",
        "counter",
        "Incidents that resolved while acknowledged (their silence expired), by chain.",
    ),
    _Family("kpn_sms_paging_replies_total", "counter", "Replies read as commands, by command."),
    _Family(
        "kpn_sms_paging_replies_refused_total",
        "counter",
        "Replies not acted on or not answered, by reason (not_allowed, rate_limited).",
    ),
    _Family(
        "kpn_sms_paging_errors_total", "counter", "Alertmanager API calls that failed, by call."
    ),
)
#: Upper bounds (seconds) of the histograms' buckets.
BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0)
_KINDS = {f.name: f for f in FAMILIES}

LabelSet = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: LabelSet) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """Process-local counters; `render()` also reads the client's own bookkeeping."""

    def __init__(self) -> None:
        self._values: dict[str, dict[LabelSet, float]] = {f.name: {} for f in FAMILIES}
        for family in FAMILIES:
            if family.kind == "histogram":
                for part in ("_bucket", "_sum", "_count"):
                    self._values[family.name + part] = {}
        self.set("kpn_sms_start_time_seconds", time.time())
        self._quota: Quota | None = None
        self._quota_seen = 0.0

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self._values[name]
        series[key] = series.get(key, 0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._values[name][tuple(sorted(labels.items()))] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        """One observation of a histogram: its buckets, sum and count."""
        for bound in (*BUCKETS, float("inf")):  # every bucket shown, cumulative
            le = "+Inf" if bound == float("inf") else _number(bound)
            self.inc(name + "_bucket", 1 if value <= bound else 0, **labels, le=le)
        self.inc(name + "_sum", value, **labels)
        self.inc(name + "_count", 1, **labels)

    def get(self, name: str, **labels: str) -> float:
        return self._values[name].get(tuple(sorted(labels.items())), 0)

    def saw_quota(self, quota: Quota | None) -> None:
        if quota is not None and quota != self._quota:
            self._quota = quota
            self._quota_seen = time.time()

    def saw_guard(self, stats: GuardStats) -> None:
        """The send guard's figures (it counts them; these mirror them)."""
        for reason, count in stats.suppressed.items():
            self.set("kpn_sms_texts_suppressed_total", count, reason=reason)
        self.set("kpn_sms_digests_sent_total", stats.digests)
        self.set("kpn_sms_admin_notices_total", stats.notices)
        self.set("kpn_sms_low_balance_warnings_total", stats.low_balance_warnings)
        self.set("kpn_sms_budget_spent", float(stats.spent_today))
        if stats.budget is not None:
            self.set("kpn_sms_budget", float(stats.budget))
        if stats.balance is not None:
            self.set("kpn_sms_balance", float(stats.balance))

    def render(self, client: Mapping[str, float] | None = None) -> str:
        """The exposition text. `client` supplies values the client counts itself."""
        for name, value in (client or {}).items():
            self.set(name, value)
        quota = self._quota
        if quota is not None:
            gauges: tuple[tuple[str, int | None], ...] = (
                ("kpn_sms_quota_limit", quota.limit),
                ("kpn_sms_quota_used", quota.used),
                ("kpn_sms_quota_remaining", quota.remaining),
            )
            for name, gauge in gauges:
                if gauge is not None:
                    self.set(name, gauge)
            self.set("kpn_sms_last_quota_seen_timestamp_seconds", self._quota_seen)
        out: list[str] = []
        for family in FAMILIES:
            series = self._values[family.name]
            if not series and family.kind == "gauge":
                continue  # an unknown gauge is absent, not 0
            out.append(f"# HELP {family.name} {family.help}")
            out.append(f"# TYPE {family.name} {family.kind}")
            if family.kind == "histogram":
                out.extend(self._histogram(family.name))
                continue
            if not series:
                out.append(f"{family.name} 0")
            for labels, value in sorted(series.items()):
                out.append(f"{family.name}{_labels(labels)} {_number(value)}")
        return "\n".join(out) + "\n"

    def _histogram(self, name: str) -> list[str]:
        out = []
        for part in ("_bucket", "_sum", "_count"):
            for labels, value in sorted(
                self._values[name + part].items(), key=lambda kv: _bucket_order(kv[0])
            ):
                out.append(f"{name}{part}{_labels(labels)} {_number(value)}")
        return out


def _bucket_order(labels: LabelSet) -> tuple[LabelSet, float]:
    """Buckets in the order of their bounds (`le` last), the other labels first."""
    rest = tuple(kv for kv in labels if kv[0] != "le")
    bound = next((float(v) for k, v in labels if k == "le"), 0.0)
    return rest, bound
