"""`kpn-sms numbers list | search | buy | cancel` in a subprocess, against the emulator over
127.0.0.1: plain and --json output, the confirmation of buy and cancel (on a real pseudo
terminal), --yes, refusals in plain words and bad input as one line."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import httpx
import pytest
from conftest import WebhookReceiver  # type: ignore[import-not-found]
from test_cli import kpn_env, run  # type: ignore[import-not-found]

from kpn_sms_notify.emulator import DEFAULT_VIRTUAL_NUMBER, Emulator

OWNED = "+" + DEFAULT_VIRTUAL_NUMBER
FOR_SALE = "+3197010900003"


def run_on_terminal(
    *args: str, env: dict[str, str], typed: str
) -> subprocess.CompletedProcess[str]:
    """`kpn-sms ARGS` with stdin on a pseudo terminal, where `typed` is typed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KPN_SMS_")}
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kpn_sms_notify", *args],
            env={**base, **env},
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(terminal)
        os.write(controller, typed.encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(controller)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_list_plain_and_json(emulator: Emulator, emulator_url: str) -> None:
    plain = run("numbers", "list", env=kpn_env(emulator_url))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == [
        f"{OWNED}  NL  mobile-lvn  SMS,VOICE",
        "1 shown of 1 rented",
    ]
    as_json = run("numbers", "list", "--json", env=kpn_env(emulator_url))
    assert json.loads(as_json.stdout) == {
        "count": 1,
        "numbers": [
            {
                "number": OWNED,
                "country": "NL",
                "type": "mobile-lvn",
                "features": ["SMS", "VOICE"],
                "inbound_url": None,
            }
        ],
    }


def test_search_plain_and_json(emulator: Emulator, emulator_url: str) -> None:
    plain = run(
        "numbers", "search", "--pattern", "3197010900", "--size", "3", env=kpn_env(emulator_url)
    )
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[:3] == [f"+319701090000{i}  NL  landline  SMS,VOICE" for i in range(3)]
    assert lines[3] == "3 shown of 20 for sale (--index for the next page)"
    gb = run(
        "numbers",
        "search",
        "--country",
        "gb",
        "--features",
        "SMS,VOICE",
        "--type",
        "mobile-lvn",
        "--size",
        "2",
        "--index",
        "10",
        "--json",
        env=kpn_env(emulator_url),
    )
    assert gb.returncode == 0, gb.stderr
    data = json.loads(gb.stdout)
    assert data["count"] == 20
    assert [(n["number"], n["country"], n["type"]) for n in data["numbers"]] == [
        ("+447400900018", "GB", "mobile-lvn"),
        ("+447400900019", "GB", "mobile-lvn"),
    ]


def test_buy_and_cancel_with_yes(emulator: Emulator, emulator_url: str) -> None:
    env = kpn_env(emulator_url)
    bought = run("numbers", "buy", FOR_SALE, "--yes", env=env)
    assert bought.returncode == 0, bought.stderr
    assert bought.stdout.splitlines()[0] == f"bought {FOR_SALE} (NL)"
    assert f"kpn-sms register-webhook URL --number {FOR_SALE}" in bought.stdout
    assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER, FOR_SALE[1:]]
    again = run("numbers", "buy", FOR_SALE, "--yes", env=env)
    assert again.returncode == 1
    assert again.stderr == (
        "kpn-sms: error: buy +319********03: KPN refused: method failed: number already owned "
        "(error-code 420, HTTP 420)\n"
    )
    cancelled = run("numbers", "cancel", "097010900003", "--yes", "--json", env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout) == {
        "ok": True,
        "action": "cancel",
        "number": FOR_SALE,
        "country": "NL",
    }
    assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER]


@pytest.mark.parametrize("action", ["buy", "cancel"])
def test_without_a_terminal_and_without_yes_nothing_happens(
    emulator: Emulator, emulator_url: str, action: str
) -> None:
    number = FOR_SALE if action == "buy" else OWNED
    proc = run("numbers", action, number, env=kpn_env(emulator_url), stdin="y\n")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"kpn-sms: error: numbers {action}: stdin is not a terminal, so there is nobody to "
        f"confirm with: add --yes to {action} +319********{number[-2:]}\n"
    )
    assert emulator.counters.get("token_requests", 0) == 0
    assert emulator.counters.get("number_requests", 0) == 0
    assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER]


@pytest.mark.parametrize("typed", ["n\n", "\n", "maybe\n", "\x04"])
def test_a_buy_not_confirmed_on_the_terminal_buys_nothing(
    emulator: Emulator, emulator_url: str, typed: str
) -> None:
    proc = run_on_terminal("numbers", "buy", FOR_SALE, env=kpn_env(emulator_url), typed=typed)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Rent {FOR_SALE} (NL)? It is billed to your KPN account. [y/N] ")
    assert proc.stderr.endswith("kpn-sms: numbers buy: not confirmed; nothing changed\n")
    assert proc.stdout == ""
    assert emulator.counters.get("number_requests", 0) == 0
    assert emulator.state.owned == [DEFAULT_VIRTUAL_NUMBER]


@pytest.mark.parametrize(("action", "typed"), [("buy", "y\n"), ("cancel", "YES\n")])
def test_confirmed_on_the_terminal(
    emulator: Emulator, emulator_url: str, action: str, typed: str
) -> None:
    if action == "cancel":
        emulator.configure(virtual_numbers=[DEFAULT_VIRTUAL_NUMBER, FOR_SALE[1:]])
    proc = run_on_terminal("numbers", action, FOR_SALE, env=kpn_env(emulator_url), typed=typed)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.endswith("[y/N] ")
    question = "Rent" if action == "buy" else "Cancel the rental of"
    assert proc.stderr.startswith(f"{question} {FOR_SALE} (NL)? ")
    done = "bought" if action == "buy" else "cancelled"
    assert proc.stdout.startswith(f"{done} {FOR_SALE} (NL)\n")
    owned = [DEFAULT_VIRTUAL_NUMBER, FOR_SALE[1:]] if action == "buy" else [DEFAULT_VIRTUAL_NUMBER]
    assert emulator.state.owned == owned


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("search", "--country", "XX"),
            "country: 'XX' is not a two-letter ISO country code such as NL",
        ),
        (
            ("search", "--pattern", "31-97"),
            "pattern: '31-97' is not a number pattern: use 1 to 15 digits, such as 3197",
        ),
        (
            ("list", "--match", "middle"),
            "match: 'middle' is not one of start, anywhere, end",
        ),
        (("search", "--features", "MMS"), "features: 'MMS' is not one of SMS, VOICE"),
        (("list", "--size", "500"), "size: 500 is not a page size from 1 to 100"),
        (
            ("buy", "06123", "--yes"),
            "number: '*****' is not a valid phone number (default region NL)",
        ),
        (
            ("cancel", FOR_SALE, "--country", "Holland", "--yes"),
            "country: 'Holland' is not a two-letter ISO country code such as NL",
        ),
    ],
)
def test_bad_input_is_one_line_naming_field_and_value(
    emulator: Emulator, emulator_url: str, args: tuple[str, ...], line: str
) -> None:
    proc = run("numbers", *args, env=kpn_env(emulator_url))
    assert proc.returncode == 2
    assert proc.stderr == f"kpn-sms: error: {line}\n"
    assert emulator.counters.get("number_requests", 0) == 0


def test_an_app_not_in_production_exits_3_in_plain_words(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(api_products=["sms-nexmo"])
    proc = run("numbers", "list", env=kpn_env(emulator_url))
    assert proc.returncode == 3
    assert proc.stderr.startswith(
        "kpn-sms: error: this app is not in production for the Phone Numbers API: "
    )
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_the_gateway_unreachable_exits_4() -> None:
    proc = run("numbers", "list", env=kpn_env("http://127.0.0.1:9"))
    assert proc.returncode == 4 and "could not connect" in proc.stderr


def test_a_bought_number_receives_replies_at_its_webhook(
    emulator: Emulator, emulator_url: str, receiver: WebhookReceiver, http: httpx.Client
) -> None:
    """Buy, point it at a URL with register-webhook --number, and a phone's reply arrives."""
    env = kpn_env(emulator_url)
    assert run("numbers", "buy", FOR_SALE, "--yes", env=env).returncode == 0
    url = receiver.url + "/inbound"
    pointed = run("register-webhook", url, "--number", FOR_SALE, env=env)
    assert pointed.returncode == 0, pointed.stderr
    assert pointed.stdout == f"inbound texts to {FOR_SALE} now go to {url}\n"
    assert emulator.webhooks["numbers"] == {FOR_SALE[1:]: url}
    listed = json.loads(run("numbers", "list", "--json", env=env).stdout)
    assert [n["inbound_url"] for n in listed["numbers"]] == [None, url]
    answer = http.post(
        emulator_url + "/_emulator/inbound",
        json={"msisdn": "31612345678", "text": "ACK 7K2", "to": FOR_SALE[1:]},
    )
    assert answer.status_code == 200
    posts = [r for r in receiver.wait_for(2, "/inbound") if r["method"] == "POST"]
    assert [(p["json"]["to"], p["json"]["msisdn"], p["json"]["text"]) for p in posts] == [
        (FOR_SALE[1:], "31612345678", "ACK 7K2")
    ]
