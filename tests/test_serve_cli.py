"""`kpn-sms serve --config FILE` as a process: the issue's minimal file, a bad file, SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

MINIMAL = """\
client_id: {client_id}
client_secret: {client_secret}
sender: KPNAlert
recipients: ["0612345678"]
base_url: {base_url}
serve:
  listen: 127.0.0.1:{port}
  token: change-me        # bearer token required on the alert endpoints
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_minimal_file_serves_until_sigterm(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    config = tmp_path / "serve.yaml"
    config.write_text(
        MINIMAL.format(
            client_id=EMU_CLIENT_ID,
            client_secret=EMU_CLIENT_SECRET,
            base_url=emulator_url,
            port=port,
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kpn_sms_notify", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        answer = httpx.post(
            url + "/notify",
            json={"message": "Disk full", "title": "web1"},
            headers={"Authorization": "Bearer change-me"},
        )
        assert answer.status_code == 200, answer.text
        assert [m["text"] for m in emulator.messages] == ["web1\nDisk full"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert EMU_CLIENT_SECRET not in err + out
    assert "change-me" not in err + out
    assert "31612345678" not in err  # numbers are masked in the log
    assert "316******78" in err


def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text(
        MINIMAL.format(
            client_id="id",
            client_secret="top-secret-value",
            base_url="https://api-prd.kpn.com",
            port=9478,
        ).replace("token: change-me", "token: 'has spaces in it'")
    )
    done = subprocess.run(
        [sys.executable, "-m", "kpn_sms_notify", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "serve.token" in lines[0]
    assert "top-secret-value" not in done.stderr and "has spaces in it" not in done.stderr
