"""End to end, two-way: a real `hass` process with a KPN SMS entry made through the REST config
flow, its virtual number pointed at Home Assistant's webhook (on 127.0.0.1), and
`POST /api/services/kpn_sms_notify/ask?return_response` answered by the emulator's phone."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from ha_common import ALICE
from test_e2e_hass import PASSWORD, USER, free_port, hass_command, login, running_hass

from kpn_sms_notify.emulator import (
    DEFAULT_VIRTUAL_NUMBER,
    EMU_CLIENT_ID,
    EMU_CLIENT_SECRET,
    Emulator,
)
from kpn_sms_notify.ha_install import install_homeassistant
from kpn_sms_notify.numbers import mask_number

DEADLINE = 60.0  # seconds for each step; a cold hass start takes a few

CONFIGURATION = """\
homeassistant:
  name: KPN e2e ask
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
  currency: EUR
  internal_url: http://127.0.0.1:{port}
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
logger:
  default: warning
  logs:
    custom_components.kpn_sms_notify: debug
    kpn_sms_notify: debug
"""


def until(check: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE} s: {what}\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def hass_process(tmp_path: Path, emu: Emulator) -> Iterator[tuple[str, Path]]:
    port = free_port()
    install_homeassistant(tmp_path)
    (tmp_path / "configuration.yaml").write_text(CONFIGURATION.format(port=port))
    subprocess.run(
        hass_command("--script", "auth", "-c", str(tmp_path), "add", USER, PASSWORD),
        check=True,
        capture_output=True,
        timeout=120,
    )
    with running_hass(tmp_path, port) as started:
        yield started


def add_entry(client: httpx.Client, base: str, headers: dict[str, str], emu: Emulator) -> None:
    """The UI's config flow, over REST: credentials and the virtual number for replies."""
    flows = f"{base}/api/config/config_entries/flow"
    form = client.post(flows, headers=headers, json={"handler": "kpn_sms_notify"})
    assert form.status_code == 200, form.text
    done = client.post(
        f"{flows}/{form.json()['flow_id']}",
        headers=headers,
        json={
            "client_id": EMU_CLIENT_ID,
            "client_secret": EMU_CLIENT_SECRET,
            "sender": "HomeAlert",
            "base_url": emu.url,
            "region": "NL",
            "inbound_mode": "number_update",
            "inbound_number": "+" + DEFAULT_VIRTUAL_NUMBER,
        },
    )
    assert done.status_code == 200 and done.json()["type"] == "create_entry", done.text


def test_real_hass_returns_the_reply_to_ask_over_rest(
    emu: Emulator, hass_process: tuple[str, Path]
) -> None:
    base, log = hass_process
    with httpx.Client(trust_env=False, timeout=DEADLINE) as client:
        headers = {"Authorization": f"Bearer {login(client, base)}"}
        add_entry(client, base, headers, emu)
        until(lambda: DEFAULT_VIRTUAL_NUMBER in emu.webhooks["numbers"], "webhook registered", log)

        with ThreadPoolExecutor(1) as pool:  # the REST call returns once the phone answers
            call = pool.submit(
                client.post,
                f"{base}/api/services/kpn_sms_notify/ask?return_response",
                headers=headers,
                json={
                    "message": "Garage open. Close it?",
                    "target": "+" + ALICE,
                    "options": ["YES", "NO"],
                    "timeout": 120,
                },
            )
            until(lambda: len(emu.messages) == 1, "the question texted", log)
            [question] = emu.messages
            assert question["text"] == "Garage open. Close it?\nReply YES or NO"
            emu.inject_inbound(ALICE, "yes", to=DEFAULT_VIRTUAL_NUMBER)
            answer = call.result(timeout=DEADLINE)

    assert answer.status_code == 200, answer.text
    response = answer.json()["service_response"]
    assert response["answered"] is True
    assert (response["reply"], response["text"]) == ("YES", "yes")
    assert response["from"] == mask_number("+" + ALICE)
    assert response["message_id"] == question["message_ids"][0]
    output = log.read_text()
    assert "Detected blocking call" not in output
    assert EMU_CLIENT_SECRET not in output
    assert ALICE not in output  # numbers masked in the log, DEBUG included
