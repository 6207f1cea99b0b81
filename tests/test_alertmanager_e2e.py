"""End to end with a real Prometheus Alertmanager (Debian package `prometheus-alertmanager`).

Alertmanager -> `kpn-sms serve` (a subprocess, started like a user would) -> the emulator.
Everything listens on 127.0.0.1; Alertmanager's clustering is off. Timings are short
(group_wait 200ms, group_interval 1s) so each test takes seconds.

Without the binary a plain pytest run skips them, with the reason; scripts/test (whose core lane
installs the package and sets KPN_REQUIRE_ALERTMANAGER=1) fails them instead, so a missing
install step cannot pass unnoticed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from alertmanager_support import (  # type: ignore[import-not-found]
    Process,
    am_binary_path,
    free_port,
    wait_until,
)
from conftest import prometheus_samples  # type: ignore[import-not-found]

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

TOKEN = "e2e-bearer-token-0001"
ALICE, BOB = "31612345678", "31687654321"
STARTUP_TIMEOUT = 30.0
DELIVERY_TIMEOUT = 45.0


@pytest.fixture(scope="session")
def am_binary() -> str:
    """Checked first, so a missing install fails (or skips) before anything starts."""
    return am_binary_path()


@pytest.fixture
def kpn_serve(am_binary: str, emulator_url: str, tmp_path: Path) -> Iterator[tuple[str, Process]]:
    """`kpn-sms serve --config FILE` in a subprocess, two recipients, client retries off
    (so transient failures go back to Alertmanager, whose retry is under test)."""
    port = free_port()
    config = {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": "KPNAlert",
        "recipients": ["0612345678", "0687654321"],
        "base_url": emulator_url,
        "retries": 0,
        "serve": {
            "listen": f"127.0.0.1:{port}",
            "token": TOKEN,
            "state_dir": str(tmp_path / "serve-state"),
        },
    }
    path = tmp_path / "kpn-sms.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = Process(
        [sys.executable, "-m", "kpn_sms_notify", "serve", "--config", str(path)],
        tmp_path / "serve.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(url + "/healthz").status_code == 200,
            STARTUP_TIMEOUT,
            "kpn-sms serve to start",
            proc.log,
        )
        yield url, proc
    finally:
        proc.stop()


@pytest.fixture
def alertmanager(
    am_binary: str, kpn_serve: tuple[str, Process], tmp_path: Path
) -> Iterator[tuple[str, Process]]:
    binary = am_binary
    serve_url, _ = kpn_serve
    port = free_port()
    config = {
        "route": {
            "receiver": "kpn-sms",
            "group_by": ["alertname"],
            "group_wait": "200ms",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "kpn-sms",
                "webhook_configs": [
                    {
                        "url": f"{serve_url}/alertmanager",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                    }
                ],
            }
        ],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    proc = Process(
        [
            binary,
            f"--config.file={path}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: a single, loopback-only instance
            "--log.level=debug",
        ],
        tmp_path / "alertmanager.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(url + "/-/ready").status_code == 200,
            STARTUP_TIMEOUT,
            "Alertmanager to be ready",
            proc.log,
        )
        yield url, proc
    finally:
        proc.stop()


def _post_alert(am_url: str, name: str, *, resolved: bool = False) -> None:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": {"alertname": name, "severity": "critical", "instance": "web1"},
        "annotations": {"summary": f"{name} on web1"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://prometheus.local/graph",
    }
    if resolved:
        alert["endsAt"] = (now - timedelta(seconds=1)).isoformat()
    answer = httpx.post(f"{am_url}/api/v2/alerts", json=[alert], timeout=10)
    assert answer.status_code == 200, answer.text


def _texts(emulator: Emulator, number: str, needle: str) -> list[str]:
    return [m["text"] for m in emulator.messages if m["to"] == number and needle in m["text"]]


def _notified(proc: Process) -> int:
    """Notifications Alertmanager has finished (its debug log says "Notify success" once a
    notification, retries included, is done): after that it will not send that one again."""
    return proc.log.read_text(errors="replace").count("Notify success")


def _settled(am_proc: Process, notifications: int) -> None:
    """Alertmanager has finished `notifications` (retries included): none of them is sent
    again. _marker then shows that the path through serve has carried a later alert too."""
    wait_until(
        lambda: _notified(am_proc) >= notifications,
        DELIVERY_TIMEOUT,
        f"Alertmanager to finish {notifications} notification(s)",
        am_proc.log,
    )


def _marker(emulator: Emulator, am_url: str, am_proc: Process) -> None:
    _post_alert(am_url, "E2eMarker")
    wait_until(
        lambda: all(_texts(emulator, n, "E2eMarker") for n in (ALICE, BOB)),
        DELIVERY_TIMEOUT,
        "the marker alert's text",
        am_proc.log,
    )


def test_alert_and_resolution_arrive_as_sms(
    emulator: Emulator, alertmanager: tuple[str, Process], kpn_serve: tuple[str, Process]
) -> None:
    am_url, am_proc = alertmanager
    _post_alert(am_url, "E2eDiskFull")
    wait_until(
        lambda: all(_texts(emulator, n, "FIRING") for n in (ALICE, BOB)),
        DELIVERY_TIMEOUT,
        "the firing text",
        am_proc.log,
    )
    _post_alert(am_url, "E2eDiskFull", resolved=True)
    wait_until(
        lambda: all(_texts(emulator, n, "RESOLVED") for n in (ALICE, BOB)),
        DELIVERY_TIMEOUT,
        "the resolved text",
        am_proc.log,
    )
    _settled(am_proc, 2)  # the firing and the resolved notification
    serve_url, _ = kpn_serve
    metrics = httpx.get(serve_url + "/metrics").text
    assert 'kpn_sms_texts_sent_total{endpoint="alertmanager"} 4' in metrics
    _marker(emulator, am_url, am_proc)  # a later alert arrived: nothing further may follow
    for number in (ALICE, BOB):
        texts = [
            m["text"]
            for m in emulator.messages
            if m["to"] == number and "E2eMarker" not in m["text"]
        ]
        assert texts == [
            "[FIRING] E2eDiskFull (critical): E2eDiskFull on web1",
            "[RESOLVED] E2eDiskFull (critical): E2eDiskFull on web1",
        ], texts


def test_alertmanager_retry_delivers_exactly_one_text_per_recipient(
    emulator: Emulator, alertmanager: tuple[str, Process], kpn_serve: tuple[str, Process]
) -> None:
    am_url, am_proc = alertmanager
    # The gateway fails the next three sends with a 503 (nothing accepted): whichever
    # recipients they hit are owed a text, and Alertmanager's retry must bring it.
    emulator.configure(script=[{"http": 503, "count": 3}])
    _post_alert(am_url, "E2eRetry")
    wait_until(
        lambda: all(_texts(emulator, n, "E2eRetry") for n in (ALICE, BOB)),
        DELIVERY_TIMEOUT,
        "delivery after Alertmanager's retries",
        am_proc.log,
    )
    _settled(am_proc, 1)  # the retried notification is done: no retry follows
    assert emulator.counters["send_requests"] == 2 + 3  # two texts, three refused attempts
    _marker(emulator, am_url, am_proc)  # a later alert arrived: nothing further may follow
    for number in (ALICE, BOB):
        assert len(_texts(emulator, number, "E2eRetry")) == 1, number
    serve_url, serve_proc = kpn_serve
    metrics = httpx.get(serve_url + "/metrics").text
    answers = prometheus_samples(metrics)
    assert answers['kpn_sms_notifications_total{answer="retry",endpoint="alertmanager"}'] >= 1
    assert answers['kpn_sms_texts_failed_total{endpoint="alertmanager",kind="transient"}'] == 3
    log = serve_proc.log.read_text()
    assert EMU_CLIENT_SECRET not in log and TOKEN not in log and ALICE not in log
    am_log = am_proc.log.read_text()
    assert "503" in am_log or "retry" in am_log.lower()  # Alertmanager saw the failure
