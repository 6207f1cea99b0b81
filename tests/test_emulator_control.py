"""Emulator: the control API over HTTP, the inboxes page, threading, serve()."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import WebhookReceiver  # type: ignore[import-not-found]

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

SEND = "/communication/nexmo/sms/send"
TOKEN = "/oauth/client_credential/accesstoken?grant_type=client_credentials"
HTTP = httpx.Client(timeout=30, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
FORM = {"from": "KPNAlert", "to": "31612345678", "text": "Disk <b>full</b>"}


def test_state_shape(emulator_url: str, emulator_auth: dict[str, str]) -> None:
    HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth)
    state = HTTP.get(emulator_url + "/_emulator/state").json()
    assert set(state) >= {"counters", "messages", "webhooks", "inbound", "dlrs", "knobs", "balance"}
    assert state["counters"]["accepted"] == 1 and state["counters"]["token_requests"] == 1
    assert state["messages"][0]["to"] == "31612345678"
    assert state["webhooks"] == {"registered": {}, "numbers": {}}
    assert state["knobs"]["client_secret"] == "***" and state["knobs"]["api_secret"] == "***"


def test_state_never_shows_secrets_or_tokens(
    emulator_url: str, emulator_token: str, emulator_auth: dict[str, str]
) -> None:
    HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth)
    text = (
        HTTP.get(emulator_url + "/_emulator/state").text
        + HTTP.get(emulator_url + "/_emulator/").text
    )
    assert EMU_CLIENT_SECRET not in text and emulator_token not in text


def test_configure_over_http(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    answer = HTTP.post(
        emulator_url + "/_emulator/configure",
        json={"forced_status": {"31612345678": "29"}, "sunset": "soon"},
    )
    assert answer.status_code == 200 and answer.json()["knobs"]["sunset"] == "soon"
    sent = HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth)
    assert sent.json()["messages"][0]["status"] == "29" and sent.headers["sunset"] == "soon"
    bad = HTTP.post(emulator_url + "/_emulator/configure", json={"error_rate": 5})
    assert bad.status_code == 400 and "error_rate" in bad.json()["error"]
    assert HTTP.post(emulator_url + "/_emulator/configure", content=b"{nope").status_code == 400
    assert HTTP.post(emulator_url + "/_emulator/configure", json=[1]).status_code == 400


def test_control_is_not_affected_by_faults(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(
        error_rate=1.0, drop_rate=1.0, latency=2.0, forced_http={"/_emulator/state": 500}
    )
    start = time.perf_counter()
    assert HTTP.get(emulator_url + "/_emulator/state").status_code == 200
    assert time.perf_counter() - start < 1.5


def test_reset_over_http(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    HTTP.post(emulator_url + "/_emulator/configure", json={"sunset": "x"})
    HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth)
    assert HTTP.post(emulator_url + "/_emulator/reset").json() == {"reset": True}
    state = HTTP.get(emulator_url + "/_emulator/state").json()
    assert state["messages"] == [] and state["counters"]["accepted"] == 0
    assert state["knobs"]["sunset"] == "n/a"
    # tokens are forgotten too
    assert HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth).status_code == 401


def test_reset_keeps_constructor_knobs() -> None:
    with Emulator(sunset="2030-01-01", client_id="c1") as emu:
        emu.configure(sunset="x")
        emu.reset()
        assert emu.snapshot()["knobs"]["sunset"] == "2030-01-01"
        assert emu.snapshot()["knobs"]["client_id"] == "c1"


def test_expire_tokens_over_http(emulator_url: str, emulator_auth: dict[str, str]) -> None:
    assert HTTP.post(emulator_url + "/_emulator/expire-tokens").json() == {"expired": 1}
    assert HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth).status_code == 401


def test_inbound_over_http(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    HTTP.post(
        emulator_url + "/communication/nexmo/sms/register",
        headers=emulator_auth,
        data={"to": "31612345678", "callback_url": receiver.url + "/in"},
    )
    answer = HTTP.post(
        emulator_url + "/_emulator/inbound",
        json={"msisdn": "31687654321", "text": "ACK", "concat_parts": 1},
    )
    assert answer.status_code == 200
    record = answer.json()
    assert record["to"] == "31612345678" and record["parts"][0]["messageId"]
    (req,) = receiver.wait_for(1, "/in")
    assert req["json"]["messageId"] == record["parts"][0]["messageId"]
    for bad in (
        {"text": "x"},
        {"msisdn": "31687654321"},
        {"msisdn": "+316", "text": "x"},
        {"msisdn": "316", "text": "x", "concat_parts": 0},
        {"msisdn": "316", "text": "x", "x": 1},
    ):
        assert HTTP.post(emulator_url + "/_emulator/inbound", json=bad).status_code == 400


def test_inbox_page(emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]) -> None:
    HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth)
    HTTP.post(
        emulator_url + SEND,
        data={**FORM, "to": "31687654321", "text": "second"},
        headers=emulator_auth,
    )
    emulator.inject_inbound("31687654321", "reply")
    page = HTTP.get(emulator_url + "/_emulator/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert (
        "+31612345678" in html and "+31687654321" in html and "reply" in html and "second" in html
    )
    assert "Disk &lt;b&gt;full&lt;/b&gt;" in html  # escaped
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # no external assets


def test_inbox_page_shows_receipts(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    emulator.configure(dlr_status={"31687654321": "failed"})
    for to in ("31612345678", "31687654321"):
        HTTP.post(
            emulator_url + SEND,
            data={**FORM, "to": to, "status-report-req": "true", "callback": receiver.url + "/d"},
            headers=emulator_auth,
        )
    receiver.wait_for(2, "/d")
    html = HTTP.get(emulator_url + "/_emulator/").text
    first, second = html.split("<h2>+31687654321</h2>")  # the phones, sorted by number
    assert "receipt: delivered" in first and "receipt: failed" in second


def test_inbox_page_reply_form(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    emulator.configure(virtual_numbers=["3197010000001"])
    page = HTTP.get(emulator_url + "/_emulator/").text
    assert "location.reload" in page  # refreshes by itself
    HTTP.post(emulator_url + SEND, data=FORM, headers=emulator_auth)
    page = HTTP.get(emulator_url + "/_emulator/").text
    form = re.search(r'<form class="reply" method="post" action="([^"]+)">(.*?)</form>', page)
    assert form and form[1] == "/_emulator/inbound"
    assert re.search(r'name="msisdn" value="31612345678"', form[2]) and 'name="text"' in form[2]
    answer = HTTP.post(
        emulator_url + form[1], data={"msisdn": "31612345678", "text": "On my <way> & soon"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/_emulator/"
    (record,) = emulator.inbound
    assert (record["msisdn"], record["to"], record["text"]) == (
        "31612345678",
        "3197010000001",
        "On my <way> & soon",
    )
    page = HTTP.get(emulator_url + "/_emulator/").text
    assert '<div class="msg out">On my &lt;way&gt; &amp; soon' in page
    for bad in ({"msisdn": "31612345678", "text": " "}, {"msisdn": "x1", "text": "hi"}):
        refused = HTTP.post(emulator_url + "/_emulator/inbound", data=bad)
        assert refused.status_code == 400 and refused.text.startswith("reply: ")
    assert len(emulator.inbound) == 1


def test_inbox_page_escapes_texts(
    emulator: Emulator, emulator_url: str, emulator_auth: dict[str, str]
) -> None:
    evil = "<script>alert(1)</script>"
    HTTP.post(emulator_url + SEND, data={**FORM, "text": evil}, headers=emulator_auth)
    emulator.inject_inbound("31612345678", evil)
    page = HTTP.get(emulator_url + "/_emulator/").text
    assert evil not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2


def test_unknown_knob_in_constructor() -> None:
    with pytest.raises(ValueError, match="unknown emulator knob 'latencyy'"):
        Emulator(latencyy=1)


def test_repr_hides_credentials() -> None:
    emu = Emulator(client_secret="very-secret-value")
    assert "very-secret-value" not in repr(emu)


async def test_start_inside_a_running_loop() -> None:
    emu = Emulator()
    url = await emu.start()
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.post(
                url + TOKEN, data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET}
            )
            assert answer.status_code == 200
        record = emu.inject_inbound("31687654321", "hello")  # from the emulator's own loop
        await asyncio.sleep(0)
        assert record["parts"][0]["state"] == "no_webhook"
        assert emu.counters["token_requests"] == 1
    finally:
        await emu.stop()
    with pytest.raises(httpx.ConnectError):
        HTTP.get(url + "/_emulator/state")


async def test_async_context_manager() -> None:
    async with Emulator() as emu:
        assert emu.url and emu.url.startswith("http://127.0.0.1:")


def test_thread_start_stop_frees_the_port() -> None:
    emu = Emulator()
    url = emu.start_in_thread()
    assert HTTP.get(url + "/_emulator/state").status_code == 200
    emu.stop()
    with pytest.raises(httpx.ConnectError):
        HTTP.get(url + "/_emulator/state")


def test_python_m_serve_prints_its_url() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kpn_sms_notify.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.fullmatch(r"KPN emulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert found, line
        url = found.group(1)
        token = HTTP.post(
            url + TOKEN, data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET}
        )
        assert token.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_no_secret_in_debug_logs(
    caplog: pytest.LogCaptureFixture, receiver: WebhookReceiver
) -> None:
    secret, api_secret = "Sup3r-Secret-Value", "apisecretvalue77"
    caplog.set_level(logging.DEBUG)
    with Emulator(
        client_secret=secret,
        api_secret=api_secret,
        webhook_retry_interval=0.05,
        webhook_max_attempts=2,
        dlr_delay=0,
    ) as emu:
        assert emu.url
        token = HTTP.post(
            emu.url + TOKEN, data={"client_id": EMU_CLIENT_ID, "client_secret": secret}
        )
        access = token.json()["access_token"]
        HTTP.post(emu.url + TOKEN, data={"client_id": EMU_CLIENT_ID, "client_secret": secret + "x"})
        auth = {"Authorization": f"Bearer {access}"}
        receiver.answers["/dlr"] = [500, 500]
        HTTP.post(
            emu.url + SEND,
            headers=auth,
            data={**FORM, "status-report-req": "true", "callback": receiver.url + "/dlr"},
        )
        HTTP.post(
            emu.url + "/sms/json",
            params={"api_key": "demokey1", "api_secret": api_secret},
            data={"from": "123456", "to": "31612345678", "text": "x"},
        )
        emu.configure(error_rate=1.0)  # and an unexpected path through the fault code
        HTTP.post(emu.url + SEND, headers=auth, data=FORM)
        assert emu.wait_for(lambda e: bool(e.dlrs) and e.dlrs[0]["state"] == "failed")
    # The test's own httpx client logs its URLs (query included); the server side must not.
    server_side = "\n".join(
        r.getMessage() + str(r.exc_info or "")
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert any(r.name.startswith("kpn_sms_notify.emulator") for r in caplog.records)
    for value in (secret, api_secret, access):
        assert value not in server_side


def test_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "kpn_sms_notify.emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        emu = Emulator(port=port)
        with pytest.raises(OSError):
            emu.start_in_thread()
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert emu.start_in_thread().startswith("http://127.0.0.1:")  # the port is free again
    emu.stop()
