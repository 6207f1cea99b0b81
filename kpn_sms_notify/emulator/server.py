"""`Emulator`: the KPN gateway emulator as an object (own thread, or inside a running loop),
and `serve()`, the blocking command-line entry point."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from types import TracebackType
from typing import Any

from aiohttp import web

from . import segments
from .app import build_app
from .state import EmulatorState
from .webhooks import Deliverer, new_inbound

_LOG = logging.getLogger(__name__)
HOST = "127.0.0.1"


async def _nothing() -> None:
    return None


class _Later:
    """Awaitable that creates its coroutine only when awaited (no "never awaited" warning
    when a threaded emulator's stop() is called without await)."""

    def __init__(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._factory = factory

    def __await__(self) -> Generator[Any, None, None]:
        return self._factory().__await__()


class Emulator:
    """The KPN SMS gateway on 127.0.0.1. Knobs: see `kpn_sms_notify.emulator.knobs`."""

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        host: str = HOST,
        port: int = 0,
        **knobs: Any,
    ) -> None:
        if client_id is not None:
            knobs["client_id"] = client_id
        if client_secret is not None:
            knobs["client_secret"] = client_secret
        self.state = EmulatorState(knobs)
        self.deliverer = Deliverer(self.state)
        self.host, self.port = host, port
        self.url: str | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never shows credentials
        return f"<Emulator url={self.url!r}>"

    # running inside an existing loop ----------------------------------------------------
    async def start(self) -> str:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        self._loop = asyncio.get_running_loop()
        app = build_app(self.state, self.deliverer, self)
        # No access log: /sms/json may carry api_secret in its query string.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}"
        _LOG.debug("KPN emulator listening on %s", self.url)
        return self.url

    async def _astop(self) -> None:
        if self._runner is None:
            return
        await self.deliverer.close()
        await self._runner.cleanup()
        self._runner = None

    def stop(self) -> _Later:
        """Stop the emulator. Started with start_in_thread(): stops now (blocking) and the
        result need not be awaited. Started with `await start()`: `await emu.stop()`."""
        if self._thread is not None:
            self.stop_thread()
            return _Later(_nothing)
        return _Later(self._astop)

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._astop()

    # running in its own thread ----------------------------------------------------------
    def start_in_thread(self) -> str:
        """Start on a new thread with its own event loop; return the base URL."""
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as err:  # report to the starting thread
                failure.append(err)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._astop())
            loop.close()

        self._thread = threading.Thread(target=run, name="kpn-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        assert self.url is not None
        return self.url

    def stop_thread(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Emulator:
        self.start_in_thread()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_thread()

    def close(self) -> None:
        """Stop a threaded emulator (same as leaving the `with` block)."""
        self.stop_thread()

    # control -------------------------------------------------------------------------------
    def configure(self, **knobs: Any) -> None:
        """Change knobs at run time (thread-safe). Unknown names or bad values: ValueError."""
        self.state.configure(**knobs)

    def reset(self) -> None:
        """Forget counters, messages, tokens, webhooks and deliveries; knobs back to the
        constructor's. Pending webhook retries are cancelled."""
        self._call_in_loop(self.deliverer.cancel_all)
        self.state.reset()

    def expire_tokens(self) -> int:
        """Make every issued token expired now (the next API call gets the expired fault)."""
        return self.state.expire_tokens()

    @property
    def counters(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.counters)

    @property
    def messages(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.state.snapshot()["messages"]
        return value

    @property
    def inbound(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.state.snapshot()["inbound"]
        return value

    @property
    def dlrs(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.state.snapshot()["dlrs"]
        return value

    @property
    def webhooks(self) -> dict[str, dict[str, str]]:
        value: dict[str, dict[str, str]] = self.state.snapshot()["webhooks"]
        return value

    def snapshot(self) -> dict[str, Any]:
        """Everything `GET /_emulator/state` shows."""
        return self.state.snapshot()

    def inbox(self, number: str) -> list[dict[str, Any]]:
        """Accepted messages sent to `number`."""
        return [m for m in self.messages if m["to"] == number]

    def inject_inbound(
        self,
        msisdn: str,
        text: str,
        to: str | None = None,
        *,
        concat_parts: int | None = None,
        duplicate: bool = False,
        reverse_parts: bool = False,
    ) -> dict[str, Any]:
        """A phone texts `to` (default: the one registered number, else the first virtual
        number). Delivered to the webhook for `to` (registered, its moHttpUrl, else the
        `default_inbound_url` knob for an owned number) as KPN delivers it: the
        `inbound_format` knob's method, signed with `signature_secret` when set. With
        retries; returns the inbound record
        (`parts[*].messageId`). `concat_parts` forces a split into that many parts;
        `duplicate` delivers every part twice (Vonage is at-least-once);
        `reverse_parts` delivers the parts last first."""
        record = self._build_inbound(msisdn, text, to, concat_parts, duplicate, reverse_parts)
        self._call_in_loop(lambda: self.deliverer.schedule_inbound(record))
        return record

    def _build_inbound(
        self,
        msisdn: str,
        text: str,
        to: str | None,
        concat_parts: int | None,
        duplicate: bool,
        reverse: bool,
    ) -> dict[str, Any]:
        if not msisdn.isdigit():
            raise ValueError(f"inject_inbound: msisdn must be digits, got {msisdn!r}")
        if to is not None and not to.isdigit():
            raise ValueError(f"inject_inbound: to must be digits, got {to!r}")
        with self.state.lock:
            if to is None:
                registered = list(self.state.registered)
                to = registered[0] if len(registered) == 1 else (self.state.owned or [""])[0]
        url = self.deliverer.webhook_for(to)
        unicode = not segments.is_gsm7(text)
        if concat_parts is not None and concat_parts > 1:
            size = -(-len(text) // concat_parts)
            texts = [text[i : i + size] for i in range(0, len(text), size)] or [text]
        else:
            texts = list(segments.split(text, unicode=unicode).parts)
        record = new_inbound(
            self.state, msisdn, text, to, url, texts, "unicode" if unicode else "text"
        )
        parts = record["parts"]
        if reverse:
            parts.reverse()
        if duplicate:
            copies = [{**p, "attempts": [], "duplicate": True} for p in parts]
            with self.state.lock:
                parts.extend(copies)
        return record

    def wait_for(self, condition: Callable[[Emulator], bool], timeout: float = 10.0) -> bool:
        """Poll `condition(self)` until true or `timeout` seconds pass; returns the last value."""
        deadline = time.monotonic() + timeout
        while True:
            if condition(self):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _call_in_loop(self, fn: Callable[[], Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn()
        else:
            loop.call_soon_threadsafe(fn)


def serve(host: str = HOST, port: int = 0, **knobs: Any) -> None:
    """Run the emulator until interrupted, printing its URL (`kpn-sms emulator`)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"emulator host must be loopback, got {host!r}")

    async def main() -> None:
        emulator = Emulator(host=host, port=port, **knobs)
        try:
            url = await emulator.start()
        except OSError as err:
            raise OSError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        print(f"KPN emulator listening on {url}", flush=True)
        print(f"  inboxes: {url}/_emulator/   state: {url}/_emulator/state", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await emulator._astop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
