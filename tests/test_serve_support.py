"""Helpers shared by the `kpn-sms serve` tests (no tests here).

Imported as `from test_serve_support import ...` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET
from kpn_sms_notify.server import RunningServer, split_config, start

TOKEN = "test-token-1234"
PATH_SECRET = "s3cret-path-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALICE, BOB, CAROL = "0612345678", "0687654321", "0611111111"
ALICE_E164, BOB_E164, CAROL_E164 = "31612345678", "31687654321", "31611111111"
# What config, answers and sinks hold: E.164 with "+". The wire (and the emulator) has no "+".
ALICE_PLUS, BOB_PLUS, CAROL_PLUS = (f"+{n}" for n in (ALICE_E164, BOB_E164, CAROL_E164))


def client_config(emulator_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": "KPNAlert",
        "recipients": [ALICE],
        "base_url": emulator_url,
        "retries": 0,  # transient failures reach the webhook sender, who retries
        **extra,
    }


def full_config(
    emulator_url: str, serve: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    config = client_config(emulator_url, **extra)
    config["serve"] = {"listen": "127.0.0.1:0", "token": TOKEN, **(serve or {})}
    return config


@asynccontextmanager
async def running(config: dict[str, Any]) -> AsyncIterator[tuple[RunningServer, httpx.AsyncClient]]:
    """Start the server on a free port; yield it with an HTTP client pointed at it."""
    client_cfg, serve_cfg = split_config(copy.deepcopy(config))
    server = await start(client_cfg, serve_cfg)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            yield server, http
    finally:
        await server.stop()


def am_alert(
    name: str = "DiskFull",
    *,
    status: str = "firing",
    severity: str = "critical",
    summary: str = "Disk /var is 95% full",
    fingerprint: str | None = None,
    labels: dict[str, str] | None = None,
    starts_at: str = "2024-05-01T10:00:00Z",
) -> dict[str, Any]:
    all_labels = {"alertname": name, "severity": severity, "instance": "web1", **(labels or {})}
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": summary},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2024-05-01T10:30:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint or f"fp-{name}-{sorted(all_labels.items())!s:.20}",
    }


def am_payload(
    *alerts: dict[str, Any], receiver: str = "kpn", status: str | None = None
) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) body, as Alertmanager 0.25 sends it."""
    alerts = alerts or (am_alert(),)
    names = {a["labels"]["alertname"] for a in alerts}
    common = {
        k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)
    }
    return {
        "receiver": receiver,
        "status": status
        or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved"),
        "alerts": list(alerts),
        "groupLabels": {"alertname": next(iter(names))} if len(names) == 1 else {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "version": "4",
        "groupKey": "{}:{alertname=" + '"' + "/".join(sorted(names)) + '"}',
        "truncatedAlerts": 0,
    }


def grafana_payload(*alerts: dict[str, Any], receiver: str = "kpn-contact") -> dict[str, Any]:
    """Grafana's alerting webhook: Alertmanager's shape plus Grafana's own fields."""
    body = am_payload(*alerts, receiver=receiver)
    body.update(
        {
            "version": "1",
            "orgId": 1,
            "title": "[FIRING:1] DiskFull (web1)",
            "state": "alerting",
            "message": "**Firing**\n\nValue: B=95\nLabels:\n - alertname = DiskFull\n",
        }
    )
    for alert in body["alerts"]:
        alert.update(
            {
                "values": {"B": 95},
                "valueString": "[ var='B' value=95 ]",
                "dashboardURL": "",
                "panelURL": "",
                "silenceURL": "http://grafana/silence",
            }
        )
    return body


def texts_to(emulator: Any, number_e164: str) -> list[str]:
    return [m["text"] for m in emulator.messages if m["to"] == number_e164]


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll without blocking the loop (the server under test runs on it)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
