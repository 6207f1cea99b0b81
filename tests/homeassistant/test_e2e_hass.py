"""End to end: a real `hass` process (subprocess, 127.0.0.1, a free port) with a
configuration.yaml that uses the YAML platform, and the notify service called over Home
Assistant's REST API. The emulator must receive the texts; three notifications, one token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from ha_common import ALICE, BOB, SENDER

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.ha_install import install_homeassistant

USER, PASSWORD = "e2e", "e2e-password-1"
BOOT_TIMEOUT = 120.0  # seconds; a cold start takes about 3 s, CI machines can be busy
FAILING = "31611111111"

CONFIGURATION = """\
homeassistant:
  name: KPN e2e
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
logger:
  default: warning
  logs:
    custom_components.kpn_sms_notify: debug
    kpn_sms_notify: debug
    homeassistant.components.notify: info
notify:
  - platform: kpn_sms_notify
    name: kpn_sms
    client_id: !secret kpn_client_id
    client_secret: !secret kpn_client_secret
    sender: {sender}
    base_url: {base_url}
    recipients: ["0612345678", "+31687654321"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hass_command(*args: str) -> list[str]:
    # `python -m homeassistant` is the `hass` entry point, from whatever venv runs the tests.
    return [sys.executable, "-m", "homeassistant", *args]


@pytest.fixture
def config_dir(tmp_path: Path, emu: Emulator) -> tuple[Path, int]:
    port = free_port()
    install_homeassistant(tmp_path)
    (tmp_path / "configuration.yaml").write_text(
        CONFIGURATION.format(port=port, sender=SENDER, base_url=emu.url)
    )
    (tmp_path / "secrets.yaml").write_text(
        f"kpn_client_id: {EMU_CLIENT_ID}\nkpn_client_secret: {EMU_CLIENT_SECRET}\n"
    )
    subprocess.run(
        hass_command("--script", "auth", "-c", str(tmp_path), "add", USER, PASSWORD),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return tmp_path, port


@pytest.fixture
def hass_process(config_dir: tuple[Path, int]) -> Iterator[tuple[str, Path]]:
    with running_hass(*config_dir) as started:
        yield started


@contextmanager
def running_hass(path: Path, port: int) -> Iterator[tuple[str, Path]]:
    """`hass -c path` on 127.0.0.1:`port`, up (its API answers), stopped on the way out;
    yields its base URL and the log file its output goes to."""
    log = path / "hass-output.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            hass_command("-c", str(path), "--skip-pip"),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield base, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"hass exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if client.get(f"{base}/api/").status_code == 401:  # up; wants a token
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(f"hass did not answer within {BOOT_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def login(client: httpx.Client, base: str) -> str:
    """The login flow of the homeassistant auth provider (no onboarding needed)."""
    client_id = f"{base}/"
    flow = client.post(
        f"{base}/auth/login_flow",
        json={
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": client_id,
        },
    ).json()
    result = client.post(
        f"{base}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": client_id, "username": USER, "password": PASSWORD},
    ).json()
    assert result.get("type") == "create_entry", result
    token = client.post(
        f"{base}/auth/token",
        data={"grant_type": "authorization_code", "code": result["result"], "client_id": client_id},
    )
    token.raise_for_status()
    return str(token.json()["access_token"])


def wait_for_service(client: httpx.Client, base: str, headers: dict[str, str], log: Path) -> None:
    """The API answers before every platform is set up: wait for notify.kpn_sms."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        services = client.get(f"{base}/api/services", headers=headers).json()
        if any(s["domain"] == "notify" and "kpn_sms" in s["services"] for s in services):
            return
        time.sleep(0.2)
    pytest.fail(f"notify.kpn_sms did not appear:\n{log.read_text()[-3000:]}")


def test_real_hass_sends_three_notifications_with_one_token(
    emu: Emulator, hass_process: tuple[str, Path]
) -> None:
    base, log = hass_process
    with httpx.Client(trust_env=False, timeout=60) as client:
        headers = {"Authorization": f"Bearer {login(client, base)}"}
        wait_for_service(client, base, headers, log)

        for n in range(3):
            answer = client.post(
                f"{base}/api/services/notify/kpn_sms",
                headers=headers,
                json={"message": f"Disk full {n}", "title": "web1"},
            )
            assert answer.status_code == 200, answer.text

        assert sorted((m["to"], m["text"]) for m in emu.messages) == sorted(
            (to, f"web1\nDisk full {n}") for n in range(3) for to in (ALICE, BOB)
        )
        assert emu.counters["token_requests"] == 1

        # A failure is not swallowed: the REST call fails and the log names the number masked.
        emu.configure(forced_status={FAILING: "29"})
        answer = client.post(
            f"{base}/api/services/notify/kpn_sms",
            headers=headers,
            json={"message": "x", "target": [FAILING]},
        )
        assert answer.status_code >= 400

    output = log.read_text()
    assert "Setting up notify.kpn_sms_notify" in output
    # Real hass watches the event loop (open, sleep, imports, SSL...): nothing of ours blocks it.
    assert "Detected blocking call" not in output
    assert EMU_CLIENT_SECRET not in output  # DEBUG logging included
    for message in emu.messages:
        assert message["to"] not in output  # numbers are masked in logs
    assert FAILING not in output
