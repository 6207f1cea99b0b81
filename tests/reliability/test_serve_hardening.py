"""Regression suite for issue 13 (`kpn-sms serve` hardening), findings 2, 5, 7-13 and 15;
the secret-in-log checks of finding 1 are in test_secrets.py.

Every server listens on 127.0.0.1; timeouts are small so each case is bounded in seconds,
and every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.server import RunningServer, split_config, start
from kpn_sms_notify.server.config import ForwardSinkConfig, warn_if_readable
from kpn_sms_notify.server.guard import GUARD
from kpn_sms_notify.server.sinks import ForwardSink, SinkError

TOKEN = "hardening-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PATH_SECRET = "hardening-path-secret-0123456789"
ALICE, BOB = "31612345678", "31687654321"


def config(url: str, serve: dict[str, Any] | None = None, **client: Any) -> dict[str, Any]:
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": "KPNAlert",
        "recipients": ["0612345678"],
        "base_url": url,
        "retries": 0,
        **client,
        "serve": {"listen": "127.0.0.1:0", "token": TOKEN, **(serve or {})},
    }


@asynccontextmanager
async def running(cfg: dict[str, Any]) -> AsyncIterator[tuple[RunningServer, httpx.AsyncClient]]:
    client_cfg, serve_cfg = split_config(copy.deepcopy(cfg))
    server = await start(client_cfg, serve_cfg)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as http:
            yield server, http
    finally:
        await server.stop()


def port_of(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Read until the server closes the connection; fail after `seconds`."""
    data = b""
    async with asyncio.timeout(seconds):
        while True:
            try:
                chunk = await reader.read(4096)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk


# ------------------------------------------------------------------ 2, 13: slowloris and caps


async def test_idle_and_trickling_connections_are_closed(emulator_url: str) -> None:
    cfg = config(emulator_url, {"header_timeout": 0.5, "body_timeout": 0.8})
    async with running(cfg) as (server, http):
        port = port_of(server)
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        trickle_r, trickle_w = await asyncio.open_connection("127.0.0.1", port)
        body_r, body_w = await asyncio.open_connection("127.0.0.1", port)
        body_w.write(
            b"POST /notify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + TOKEN.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        started = time.monotonic()

        async def trickle() -> None:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":
                if trickle_w.is_closing():
                    return
                trickle_w.write(bytes([byte]))
                await asyncio.sleep(0.1)  # pacing the attacker's bytes, not waiting for a result

        task = asyncio.create_task(trickle())
        for reader, _writer in idle:
            assert await closed_within(reader, 5) == b""
        assert await closed_within(trickle_r, 5) == b""
        answer = await closed_within(body_r, 5)
        elapsed = time.monotonic() - started
        task.cancel()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"not received within 0.8 s" in answer
        assert 0.4 < elapsed < 5
        # The server is still fine.
        assert (await http.get("/healthz")).status_code == 200
        for _reader, writer in [*idle, (trickle_r, trickle_w), (body_r, body_w)]:
            writer.close()


async def test_healthz_reachable_while_idle_sockets_fill_the_cap(emulator_url: str) -> None:
    cfg = config(emulator_url, {"header_timeout": 60, "max_connections": 8})
    async with running(cfg) as (server, _http):
        port = port_of(server)
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        for _ in range(3):
            async with httpx.AsyncClient(timeout=5, trust_env=False) as fresh:
                probe = await fresh.get(server.url + "/healthz")
            assert probe.status_code == 200
        # The oldest idle sockets made room: they were closed, not the probes refused.
        assert await closed_within(idle[0][0], 5) == b""
        for _reader, writer in idle:
            writer.close()


async def test_connection_cap_with_every_connection_busy_answers_503(
    emulator: Emulator, emulator_url: str
) -> None:
    cfg = config(emulator_url, {"max_connections": 2, "notify": {"allow": "any"}})
    emulator.configure(latency=1.0)
    async with (
        running(cfg) as (server, _http),
        httpx.AsyncClient(
            base_url=server.url,
            timeout=30,
            trust_env=False,
            limits=httpx.Limits(max_connections=2),
        ) as busy,
    ):
        sends = [
            asyncio.create_task(
                busy.post(
                    "/notify",
                    json={"message": f"m{i}"},
                    headers={**AUTH, "Idempotency-Key": f"c{i}"},
                )
            )
            for i in range(2)
        ]
        deadline = time.monotonic() + 10
        guard = server.runner.app[GUARD]
        while len(guard.busy) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)  # poll until both requests are being handled
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        refused = await closed_within(reader, 5)
        writer.close()
        answers = await asyncio.gather(*sends)
    assert refused.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in refused, refused
    assert [a.status_code for a in answers] == [200, 200]


async def test_requests_in_flight_are_capped(emulator: Emulator, emulator_url: str) -> None:
    cfg = config(emulator_url, {"max_in_flight": 2, "busy_wait": 0.3, "notify": {"allow": "any"}})
    emulator.configure(latency=1.0)
    async with running(cfg) as (_server, http):
        sends = [
            asyncio.create_task(
                http.post(
                    "/notify",
                    json={"message": f"m{i}"},
                    headers={**AUTH, "Idempotency-Key": f"k{i}"},
                )
            )
            for i in range(5)
        ]
        answers = await asyncio.gather(*sends)
        health = await http.get("/healthz")
        metrics = (await http.get("/metrics")).text
    busy = [a for a in answers if a.status_code == 503]
    assert sorted(a.status_code for a in answers) == [200, 200, 503, 503, 503], answers
    assert all(a.headers["Retry-After"] == "1" and a.json()["error"] == "busy" for a in busy)
    assert health.status_code == 200
    assert 'kpn_sms_webhook_rejected_total{reason="busy"} 3' in metrics
    assert len(emulator.messages) == 2


# ------------------------------------------------------------------ 5, 15: malformed requests


async def test_bad_bytes_in_bearer_is_401_and_malformed_http_is_quiet(
    emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(config(emulator_url)) as (server, http):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(
            b"POST /notify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x80\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        answer = await closed_within(reader, 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(300))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        answer = await closed_within(reader, 5)
        writer.close()
        assert answer.split(b" ", 2)[1] == b"400", answer
        metrics = (await http.get("/metrics")).text
    assert 'kpn_sms_webhook_rejected_total{reason="unauthorized"} 1' in metrics
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert "malformed HTTP request refused (400)" in caplog.text


async def test_deeply_nested_json_is_400(emulator_url: str) -> None:
    async with running(config(emulator_url)) as (_server, http):
        deep = await http.post("/alertmanager", content=b"[" * 200_000, headers=AUTH)
        nested = await http.post("/alertmanager", content=b"[" * 40 + b"]" * 40, headers=AUTH)
    assert deep.status_code == 400 and "nested deeper" in deep.json()["reason"]
    assert nested.status_code == 400 and "nested deeper than 32" in nested.json()["reason"]


# ------------------------------------------------------------------ 7, 8: files


def inbound_config(url: str, tmp: Path, **serve: Any) -> dict[str, Any]:
    return config(
        url,
        {
            "path_secret": PATH_SECRET,
            "state_dir": str(tmp / "state"),
            "sinks": {"jsonl": str(tmp / "out" / "in.jsonl")},
            **serve,
        },
    )


def part(ref: str, n: int, text: str) -> dict[str, str]:
    return {
        "msisdn": ALICE,
        "to": "3197010000000",
        "messageId": f"id-{ref}-{n}",
        "text": text,
        "type": "text",
        "concat": "true",
        "concat-ref": ref,
        "concat-total": "2",
        "concat-part": str(n),
    }


async def test_state_files_are_private(emulator_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    cfg = inbound_config(emulator_url, tmp_path)
    async with running(cfg) as (_server, http):
        waiting = await http.post(f"/inbound/{PATH_SECRET}", json=part("r1", 1, "half"))
        assert waiting.status_code == 200
        whole = await http.post(
            f"/inbound/{PATH_SECRET}", json={**part("r0", 1, "whole"), "concat": "false"}
        )
        assert whole.status_code == 200
        sent = await http.post("/notify", json={"message": "x"}, headers=AUTH)
        assert sent.status_code == 200
    async with running(cfg):  # a restart rewrites the journal
        pass
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = sorted(p.name for p in state.iterdir())
    assert files == ["budget.json", "inbound-journal.jsonl", "sent.jsonl"]
    for path in [*state.iterdir(), tmp_path / "out" / "in.jsonl"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700


async def test_a_sink_file_readable_by_all_is_a_warning(
    emulator_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = tmp_path / "out" / "in.jsonl"
    sink.parent.mkdir()
    sink.write_text("")
    sink.chmod(0o644)  # made by someone else; serve does not change a file it did not create
    async with running(inbound_config(emulator_url, tmp_path)):
        pass
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        f"jsonl sink {sink} is readable by every user (mode 0644) and holds phone numbers "
        "and texts: chmod 600 it"
    ]


def test_world_readable_config_warns_once_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kpn.yaml"
    path.write_text("client_secret: hush-hush-secret\n")
    os.chmod(path, 0o644)
    assert warn_if_readable(path)
    os.chmod(path, 0o640)
    assert not warn_if_readable(path)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and str(path) in lines[0] and "0644" in lines[0]
    assert "hush" not in caplog.text


async def test_symlinks_are_not_followed(emulator_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (state / "sent.jsonl.tmp").symlink_to(victim)  # the dedupe rewrite's tmp path
    cfg = inbound_config(emulator_url, tmp_path)
    async with running(cfg) as (_server, http):
        answer = await http.post(
            f"/inbound/{PATH_SECRET}", json={**part("r2", 1, "x"), "concat": "false"}
        )
        assert answer.status_code == 200
    assert victim.read_text() == "precious\n"
    assert not (state / "sent.jsonl").is_symlink()
    assert not (state / "sent.jsonl.tmp").exists()
    # A symlink in place of a state or sink file stops the start (the CLI names the file).
    for planted in (state / "inbound-journal.jsonl", tmp_path / "out" / "in.jsonl"):
        saved = planted.with_name("saved")
        planted.rename(saved)
        planted.symlink_to(victim)
        with pytest.raises(OSError) as info:
            async with running(cfg):
                pass
        assert info.value.filename == str(planted)
        planted.unlink()
        saved.rename(planted)
    assert victim.read_text() == "precious\n"
    # Were one planted while running, the append refuses it: the gateway is asked to retry.
    async with running(cfg) as (_server, http):
        sink = tmp_path / "out" / "in.jsonl"
        sink.unlink()
        sink.symlink_to(victim)
        answer = await http.post(
            f"/inbound/{PATH_SECRET}", json={**part("r3", 1, "y"), "concat": "false"}
        )
    assert answer.status_code == 503
    assert victim.read_text() == "precious\n"


# ------------------------------------------------------------------ 9: the forward sink


async def test_forward_sink_refuses_redirects_and_caps_the_answer() -> None:
    got: list[str] = []

    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        got.append(await request.text())
        return web.Response(text="ok")

    async def huge(_request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(_request)
        for _ in range(64):  # 4 MB, more than the sink reads
            try:
                await response.write(b"x" * 65536)
            except ConnectionResetError:
                break
        return response

    app = web.Application()
    app.router.add_post("/hook", redirect)
    app.router.add_post("/elsewhere", elsewhere)
    app.router.add_post("/huge", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        sink = ForwardSink(ForwardSinkConfig(f"http://127.0.0.1:{port}/hook", 5.0, {"X-K": "v"}))
        with pytest.raises(SinkError, match=r"HTTP 307 \(redirects are not followed"):
            await sink.write({"kind": "inbound", "text": "hi"})
        await sink.close()
        big = ForwardSink(ForwardSinkConfig(f"http://127.0.0.1:{port}/huge", 5.0, {}))
        await big.write({"kind": "inbound"})
        await big.close()
    finally:
        await runner.cleanup()
    assert got == []


def test_forward_sink_needs_https_beyond_loopback() -> None:
    cfg = config(
        "https://api.example",
        {"path_secret": PATH_SECRET, "sinks": {"forward": "http://ha.example/api/hook-x"}},
    )
    with pytest.raises(KpnValidationError) as info:
        split_config(cfg)
    assert "https" in str(info.value) and "hook-x" not in str(info.value)


# ------------------------------------------------------------------ 10, 11: config


@pytest.mark.parametrize(
    ("change", "secret"),
    [
        ({"client_sercet": "TYPO-SECRET-LEAK"}, "TYPO-SECRET-LEAK"),
        ({"serve": {"tokn": "TYPO-SECRET-LEAK"}}, "TYPO-SECRET-LEAK"),
        ({"serve": {"api_key": "TYPO-SECRET-LEAK"}}, "TYPO-SECRET-LEAK"),
        ({"base_url": "http://admin:PW-LEAK@kpn.example"}, "PW-LEAK"),
        ({"callback": "http://ha.example/api/webhook/HOOK-LEAK"}, "HOOK-LEAK"),
        (
            {
                "serve": {
                    "path_secret": PATH_SECRET,
                    "sinks": {"forward": "ftp://ha.example/api/webhook/HOOK-LEAK"},
                }
            },
            "HOOK-LEAK",
        ),
    ],
)
def test_config_errors_mask_secrets(change: dict[str, Any], secret: str) -> None:
    cfg = config("https://api.example")
    serve = change.pop("serve", {})
    cfg.update(change)
    cfg["serve"].update(serve)
    with pytest.raises(KpnValidationError) as info:
        split_config(cfg)
    text = str(info.value)
    assert secret not in text and secret not in repr(info.value.value), text
    assert text.startswith("config: ") and "\n" not in text


@pytest.mark.parametrize(
    "template",
    [
        "{summary[0]}",
        "{labels[x][0]}",
        "{summary:{labels[w]}}",
        "{count:{summary}}",
        "{summary:>50000000}",
    ],
)
def test_fragile_templates_are_refused_at_load(template: str) -> None:
    with pytest.raises(KpnValidationError, match=r"serve\.template: bad template"):
        split_config(config("https://api.example", {"template": template}))


# ------------------------------------------------------------------ 12: /notify


async def test_notify_allow_list_cap_and_switch(emulator: Emulator, emulator_url: str) -> None:
    labelled = {"alice": "0612345678", "bob": "0687654321"}
    async with running(config(emulator_url, recipients=labelled)) as (_server, http):
        by_label = await http.post(
            "/notify", json={"message": "a", "recipients": ["bob"]}, headers=AUTH
        )
        outsider = await http.post(
            "/notify", headers=AUTH, json={"message": "b", "recipients": ["bob", "0611111111"]}
        )
    assert by_label.status_code == 200, by_label.text
    assert outsider.status_code == 403
    assert outsider.json()["reason"] == "recipients[1]: +316******11 is not in serve.notify.allow"
    assert [m["to"] for m in emulator.messages] == [BOB]  # nothing half-sent
    capped = config(emulator_url, {"notify": {"allow": "any", "max_recipients": 2}})
    off = config(emulator_url, {"notify": {"enabled": False}})
    async with running(capped) as (_server, http):
        many = await http.post(
            "/notify",
            headers=AUTH,
            json={"message": "c", "recipients": ["0611111111", "0611111112", "0611111113"]},
        )
        two = await http.post(
            "/notify",
            headers=AUTH,
            json={"message": "d", "recipients": ["0611111111", "0611111112"]},
        )
    async with running(off) as (_server, http):
        refused = await http.post("/notify", json={"message": "e"}, headers=AUTH)
        anonymous = await http.post("/notify", json={"message": "e"})
    assert many.status_code == 400 and "at most 2 per request" in many.json()["reason"]
    assert two.status_code == 200
    assert refused.status_code == 403 and "turned off" in refused.json()["reason"]
    assert anonymous.status_code == 401
    assert len(emulator.messages) == 3
    assert json.dumps(refused.json())  # a JSON answer, not an HTML page
