"""The `kpn-sms` command in a subprocess, against the emulator over 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

A, B = "31612345678", "31687654321"


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KPN_SMS_")}
    return subprocess.run(
        [sys.executable, "-m", "kpn_sms_notify", *args],
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kpn_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "KPN_SMS_CLIENT_ID": EMU_CLIENT_ID,
        "KPN_SMS_CLIENT_SECRET": EMU_CLIENT_SECRET,
        "KPN_SMS_SENDER": "KPNAlert",
        "KPN_SMS_BASE_URL": url,
        **extra,
    }


def test_send_done_when(emulator: Emulator, emulator_url: str) -> None:
    """The issue's acceptance command: both numbers texted, one token request."""
    proc = run(
        "send",
        "--to",
        "0612345678",
        "--to",
        "+31687654321",
        "Disk full on web1",
        env=kpn_env(emulator_url),
    )
    assert proc.returncode == 0, proc.stderr
    assert {m["to"] for m in emulator.messages} == {A, B}
    assert all(m["text"] == "Disk full on web1" for m in emulator.messages)
    assert emulator.counters["token_requests"] == 1
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("ok ") for line in lines) == 2
    assert "2/2 accepted, 1 token request(s)" in proc.stdout
    assert A not in proc.stdout  # numbers are masked in the human output


def test_configured_recipients_stdin_and_json(emulator: Emulator, emulator_url: str) -> None:
    env = kpn_env(emulator_url, KPN_SMS_RECIPIENTS="0612345678, 0687654321")
    proc = run("send", "--json", "-", env=env, stdin="from stdin\n")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["token_requests"] == 1
    assert [r["recipient"] for r in data["results"]] == [f"+{A}", f"+{B}"]  # E.164 with "+"
    assert all(len(r["message_ids"]) == 1 for r in data["results"])
    assert emulator.messages[0]["text"] == "from stdin"


def test_json_names_a_foreign_number_with_its_country(
    emulator: Emulator, emulator_url: str
) -> None:
    proc = run("send", "--json", "--to", "+49 201 0000", "Hallo", env=kpn_env(emulator_url))
    assert proc.returncode == 0, proc.stderr
    assert [r["recipient"] for r in json.loads(proc.stdout)["results"]] == ["+492010000"]
    assert [m["to"] for m in emulator.messages] == ["492010000"]  # the wire has no "+"


def test_more_than_15_digits_exits_2(emulator: Emulator, emulator_url: str) -> None:
    # phonenumbers accepts this German number: 16 digits with the country code.
    env = kpn_env(emulator_url, KPN_SMS_RECIPIENTS="+49 20100000000000")
    proc = run("send", "hello", env=env)
    assert proc.returncode == 2
    assert "15 digits" in proc.stderr and "20100000000000" not in proc.stderr
    assert emulator.counters.get("send_requests", 0) == 0


def test_bad_number_exits_2_and_sends_nothing(emulator: Emulator, emulator_url: str) -> None:
    proc = run("send", "--to", "0612345678", "--to", "06123", "hello", env=kpn_env(emulator_url))
    assert proc.returncode == 2
    assert proc.stderr.startswith("kpn-sms: error: recipients[1]:")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert emulator.counters.get("send_requests", 0) == 0


def test_bad_credentials_exit_3(emulator: Emulator, emulator_url: str) -> None:
    env = kpn_env(emulator_url, KPN_SMS_CLIENT_SECRET="Wr0ngSecretValue")
    proc = run("send", "--to", "0612345678", "hello", env=env)
    assert proc.returncode == 3 and "invalid_client" in proc.stderr
    assert "Wr0ngSecretValue" not in proc.stderr + proc.stdout
    assert emulator.counters.get("send_requests", 0) == 0


def test_unreachable_gateway_exits_4() -> None:
    proc = run("send", "--to", "0612345678", "hello", env=kpn_env("http://127.0.0.1:9"))
    assert proc.returncode == 4 and "could not connect" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_gateway_says_why() -> None:
    proc = run("send", "--to", "0612345678", "hello", env=kpn_env("http://127.0.0.1:9"))
    assert proc.returncode == 4
    assert proc.stderr.strip().endswith(
        "could not connect to the gateway: connection refused by 127.0.0.1:9"
    )


def test_failed_recipient_exits_1(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(forced_status={B: "29"})
    proc = run("send", "--to", A, "--to", B, "hello", env=kpn_env(emulator_url))
    assert proc.returncode == 1
    assert "FAILED +316******21: failed: status 29" in proc.stdout
    assert "1/2 accepted" in proc.stdout


def test_flags_over_environment_over_file(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "kpn.yaml"
    config.write_text(
        f"client_id: {EMU_CLIENT_ID}\nclient_secret: {EMU_CLIENT_SECRET}\n"
        f"sender: FileSender\nrecipients: ['0612345678']\nbase_url: http://127.0.0.1:9\n"
        "serve:\n  listen: 127.0.0.1:9478\n"
    )
    env = {"KPN_SMS_BASE_URL": emulator_url, "KPN_SMS_SENDER": "EnvSender"}
    assert run("--config", str(config), "send", "one", env=env).returncode == 0
    assert (
        run("--config", str(config), "send", "--sender", "FlagSender", "two", env=env).returncode
        == 0
    )
    assert [m["from"] for m in emulator.messages] == ["EnvSender", "FlagSender"]


def test_bad_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "kpn.yaml"
    config.write_text("client_id: x\nclient_secret: SuperSecret99\nmax_parts: lots\n")
    proc = run("--config", str(config), "token")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("kpn-sms: error: config: max_parts: expected int (got 'lots')")
    config.write_text("client_id: [unclosed\n")
    proc = run("--config", str(config), "token")
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr


def test_missing_credentials_say_how(tmp_path: Path) -> None:
    proc = run("token")
    assert proc.returncode == 2 and "KPN_SMS_CLIENT_ID" in proc.stderr


def test_token_and_debug_logs_mask_secrets(emulator: Emulator, emulator_url: str) -> None:
    proc = run("--debug", "token", env=kpn_env(emulator_url))
    assert proc.returncode == 0 and "credentials OK" in proc.stdout
    assert "accesstoken" in proc.stderr  # the request was logged
    assert EMU_CLIENT_SECRET not in proc.stderr
    issued = list(emulator.state.tokens)  # the access tokens the emulator handed out
    assert len(issued) == 1 and issued[0] not in proc.stderr + proc.stdout


def test_register_webhook(emulator: Emulator, emulator_url: str) -> None:
    proc = run(
        "register-webhook",
        "--to",
        "0612345678",
        "https://example.org/hook",
        env=kpn_env(emulator_url),
    )
    assert proc.returncode == 0 and "registered" in proc.stdout
    assert any("https://example.org/hook" in str(v) for v in emulator.webhooks.values())


def test_emulator_command_prints_its_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kpn_sms_notify", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.post(
            url + "/oauth/client_credential/accesstoken",
            params={"grant_type": "client_credentials"},
            data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
        )
        assert answer.status_code == 200 and answer.json()["expires_in"] == "3599"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_runs_end_to_end() -> None:
    proc = run("demo", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "token requests: client 1, emulator 1" in proc.stdout
    assert proc.stdout.count(": delivered") == 3
    assert "'ACK'" in proc.stdout
