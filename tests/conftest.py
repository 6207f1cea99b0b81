"""Shared fixtures: a fresh KPN emulator per test, on 127.0.0.1 in its own thread.

Importable in any venv that has kpn_sms_notify installed (Home Assistant's included):
no Home Assistant imports here.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

try:  # the hypothesis profile, loaded before any test module is imported
    import hypothesis_profiles  # noqa: F401
except ModuleNotFoundError as err:  # Home Assistant's venvs: no hypothesis, no property tests
    if err.name != "hypothesis":
        raise

__all__ = ["EMU_CLIENT_ID", "EMU_CLIENT_SECRET"]


@pytest.fixture(autouse=True)
def _private_cache_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI caches its token under XDG_CACHE_HOME: every test (and every `kpn-sms` it
    starts) gets its own, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A started emulator (default knobs); stopped after the test."""
    emu = Emulator()
    emu.start_in_thread()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator_url(emulator: Emulator) -> str:
    """Base URL of the test's emulator, e.g. "http://127.0.0.1:40123"."""
    assert emulator.url is not None
    return emulator.url


TOKEN_PATH = "/oauth/client_credential/accesstoken?grant_type=client_credentials"
SEND_PATH = "/communication/nexmo/sms/send"


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One plain httpx client for raw calls to loopback servers (no proxies from the env;
    a client per call would cost ~0.1 s building an SSL context)."""
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def emulator_token(emulator_url: str, http: httpx.Client) -> str:
    """An access token fetched from the test's emulator with raw httpx."""
    answer = http.post(
        emulator_url + TOKEN_PATH,
        data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture
def emulator_auth(emulator_token: str) -> dict[str, str]:
    """Authorization header for raw API calls to the test's emulator."""
    return {"Authorization": f"Bearer {emulator_token}"}


class WebhookReceiver:
    """A tiny aiohttp server on 127.0.0.1 (own thread) that records every request.

    `answers[path]` is a list of HTTP statuses to give, first to last (then 200);
    `delays[path]` makes it answer that many seconds late.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        self.url = ""
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        record: dict[str, Any] = {
            "path": request.path,
            "method": request.method,
            "query": dict(request.query),
            "content_type": request.content_type,
            "body": raw.decode("utf-8", "replace"),
        }
        if request.content_type == "application/x-www-form-urlencoded":
            record["form"] = dict(urllib.parse.parse_qsl(record["body"], keep_blank_values=True))
        elif request.content_type == "application/json":
            record["json"] = json.loads(record["body"] or "null")
        record["params"] = record.get("form") or record.get("json") or record["query"]
        delay = self.delays.get(request.path, 0.0)
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            self.requests.append(record)
            queue = self.answers.get(request.path) or []
            status = queue.pop(0) if queue else 200
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    def start(self) -> str:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="webhook-receiver", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def received(self, path: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def wait_for(
        self, count: int, path: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until at least `count` requests (to `path`) arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self.received(path)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received(path)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A recording webhook server on 127.0.0.1 (for DLRs, inbound SMS, moHttpUrl checks)."""
    hook = WebhookReceiver()
    hook.start()
    try:
        yield hook
    finally:
        hook.stop()


def prometheus_samples(text: str) -> dict[str, float]:
    """A /metrics answer (Prometheus text format) as {sample name with labels: value}."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out
