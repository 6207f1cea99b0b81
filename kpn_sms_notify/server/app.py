"""The aiohttp application of `kpn-sms serve`: state, routes, error handling, start/stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .. import __version__
from ..errors import KpnValidationError
from ..inbound import InboundAssembler
from ..paging.routes import route_yaml
from ..schema import is_loopback_host
from . import alert_routes, inbound_routes, paging_routes
from .alert_routes import NotAllowed
from .auth import check_credentials, unauthorized
from .config import ServeConfig, load_config, warn_if_readable
from .dedupe import SentLog
from .guard import GUARD, BodyTimeout, ConnectionGuard, Limits, guard_middleware
from .journal import Journal, Recovered, recover_from_sink
from .metrics import CONTENT_TYPE, Metrics
from .requestlog import ACCESS_LOGGER, SafeAccessLogger, install_log_filter, route_of
from .sinks import SinkSet, build_sinks
from .state import STATE, ServerState, bad_request, state_of

_LOGGER = logging.getLogger("kpn_sms_notify.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bad input is a 400 with the reason; an unexpected failure is a retryable 503, never
    a 500 page, and never with a stack trace in the answer. Lines name the route pattern
    (`/inbound/{secret}`), never the path: it may hold the path secret."""
    route = route_of(request)
    try:
        return await handler(request)
    except KpnValidationError as err:
        status = 403 if isinstance(err, NotAllowed) else 400
        _LOGGER.info("%s %s: %d %s", request.method, route, status, err)
        if route in ("/alertmanager", "/grafana", "/notify"):
            request.app[STATE].metrics.inc(
                "kpn_sms_notifications_total", endpoint=route.strip("/"), answer="rejected"
            )
        return bad_request(str(err), status=status)
    except web.HTTPRequestEntityTooLarge:
        return bad_request(
            f"body: larger than the {request.app[STATE].config.max_body} byte limit", status=413
        )
    except BodyTimeout as err:
        _LOGGER.info("%s %s: 408 %s", request.method, route, err)
        answer = bad_request(str(err), status=408)
        answer.force_close()
        return answer
    except (web.RequestPayloadError, ConnectionResetError) as err:
        # A torn chunked body or a caller gone mid-body: theirs, not ours; one line.
        _LOGGER.info("%s %s: 400 body unreadable (%s)", request.method, route, type(err).__name__)
        answer = bad_request("body: unreadable or cut short")
        answer.force_close()
        return answer
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        _LOGGER.exception("unexpected error on %s %s", request.method, route)
        return web.json_response(
            {"error": "internal error", "reason": "unexpected failure; try again"}, status=503
        )


async def healthz(request: web.Request) -> web.Response:
    state = state_of(request)
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "uptime": round(time.time() - state.started, 1),
            "inbound": state.config.inbound_enabled,
        }
    )


async def metrics(request: web.Request) -> web.Response:
    state = state_of(request)
    if state.config.metrics_auth and not check_credentials(request, state.config):
        return unauthorized(state.config)
    client: dict[str, float] = {}
    if state.sms is not None:
        client["kpn_sms_token_requests_total"] = state.sms.token_requests
        client["kpn_sms_send_retries_total"] = state.sms.session.retries
        state.metrics.saw_quota(state.sms.session.quota)
    # The guard's figures, also before the first text (the day's spending from state_dir).
    state.metrics.saw_guard(state.client().guard.stats())
    text = state.metrics.render(client)
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


def build_app(client_config: dict[str, Any], config: ServeConfig) -> web.Application:
    """The application, state recovered from disk; the client is made on first use."""
    recovered = Recovered()
    sinks = SinkSet(build_sinks(config))
    if config.jsonl is not None:
        recover_from_sink(config.jsonl, recovered)
    assembler = InboundAssembler(
        ttl=config.concat_ttl,
        seen_for=config.signature_max_skew,
        max_bytes=config.inbound_max_bytes,
        max_parts_per_sender=config.inbound_max_parts_per_sender,
    )
    journal = Journal(
        config.state_dir,
        live_parts=assembler.pending_parts,
        max_part_bytes=config.inbound_max_bytes,
    )
    journal.recover(recovered)
    assembler.mark_seen(recovered.seen_ids)
    for part in recovered.pending_parts:
        assembler.feed(part)
    state = ServerState(
        client_config=client_config,
        config=config,
        metrics=Metrics(),
        sent_log=SentLog(
            config.dedupe_window,
            max_entries=config.dedupe_max_entries,
            path=config.state_dir / "sent.jsonl" if config.state_dir else None,
        ),
        assembler=assembler,
        sinks=sinks,
        journal=journal,
    )
    for key in recovered.receipt_keys:
        state.remember_receipt(key)
    if recovered.seen_ids or recovered.pending_parts:
        _LOGGER.info(
            "recovered %d inbound ids and %d waiting parts",
            len(recovered.seen_ids),
            len(recovered.pending_parts),
        )

    app = web.Application(
        client_max_size=config.max_body, middlewares=[guard_middleware, error_middleware]
    )
    app[STATE] = state
    app[GUARD] = ConnectionGuard(
        Limits(
            header_timeout=config.header_timeout,
            body_timeout=config.body_timeout,
            max_connections=config.max_connections,
            max_in_flight=config.max_in_flight,
            busy_wait=config.busy_wait,
        )
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    alert_routes.add_routes(app)
    if config.inbound_enabled:
        inbound_routes.add_routes(app)
    if config.inbound_enabled:
        app.cleanup_ctx.append(_expiry_sweeper)
    app.cleanup_ctx.append(_guard_timer)
    if config.paging is not None:
        state.paging = paging_routes.make_engine(state)
        paging_routes.add_routes(app)
    app.on_cleanup.append(_close)
    return app


async def _expiry_sweeper(app: web.Application) -> AsyncIterator[None]:
    """Hand out long texts whose missing parts never came, even when no new text arrives."""
    state = app[STATE]
    interval = min(30.0, state.config.concat_ttl / 2)

    async def sweep() -> None:
        while True:
            await asyncio.sleep(interval)
            await inbound_routes.flush_expired(state)

    task = asyncio.create_task(sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


GUARD_TICK = 1.0  # seconds: the longest a due digest waits for the timer


async def _guard_timer(app: web.Application) -> AsyncIterator[None]:
    """Send each storm digest when its window ends (and admin notices), even when no new
    alert comes: the client's send guard says what is due."""
    state = app[STATE]

    async def run() -> None:
        while True:
            sms = state.sms
            due = sms.guard.next_due() if sms is not None else None
            if sms is not None and due == 0:
                try:
                    await sms.send_due()
                    continue
                except Exception:  # never stop the timer; say why once per failure
                    _LOGGER.exception("sending what the send guard has due failed")
            await asyncio.sleep(GUARD_TICK if due is None else min(due, GUARD_TICK))

    task = asyncio.create_task(run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close(app: web.Application) -> None:
    state = app[STATE]
    if state.sms is not None:
        await state.sms.close()
    await state.sinks.close()


@dataclass
class RunningServer:
    runner: web.AppRunner
    url: str

    async def stop(self) -> None:
        await self.runner.cleanup()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through the app's ConnectionGuard (read timeouts
    and the connection cap, see guard.py)."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(self, runner: web.AppRunner, host: str, port: int, guard: ConnectionGuard):
        super().__init__(runner)
        self._host = host
        self._port = port
        self._guard = guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard.factory(server), self._host, self._port, backlog=self._backlog
        )


async def start(client_config: dict[str, Any], config: ServeConfig) -> RunningServer:
    """Start listening (port 0 picks a free port); returns the base URL."""
    app = build_app(client_config, config)
    install_log_filter()
    runner = web.AppRunner(
        app,
        access_log=ACCESS_LOGGER,
        access_log_class=SafeAccessLogger,
        handle_signals=False,
        shutdown_timeout=5.0,
    )
    await runner.setup()
    site = GuardedSite(runner, config.host, config.port, app[GUARD])
    await site.start()
    host, port = runner.addresses[0][:2]
    shown = f"[{host}]" if ":" in host else host
    return RunningServer(runner, f"http://{shown}:{port}")


async def _run(client_config: dict[str, Any], config: ServeConfig) -> None:
    server = await start(client_config, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _LOGGER.info("kpn-sms serve %s listening on %s", __version__, server.url)
    if not is_loopback_host(config.host):
        _LOGGER.warning("listening beyond loopback over plain HTTP: put a TLS proxy in front")
    if config.inbound_enabled:
        _LOGGER.info("inbound and delivery endpoints enabled (path secret set)")
    try:
        await stop.wait()
    finally:
        _LOGGER.info("stopping")
        await server.stop()


def _print_paging_routes(config: ServeConfig) -> int:
    if config.paging is None:
        print("kpn-sms serve: serve.paging is not configured", file=sys.stderr)
        return 2
    host = f"[{config.host}]" if ":" in config.host else config.host
    url = config.paging.url or f"http://{host}:{config.port}"
    print(route_yaml(config.paging, serve_url=url, bearer=config.token is not None), end="")
    return 0


def serve(config_file: str, *, debug: bool = False, paging_routes: bool = False) -> int:
    """`kpn-sms serve --config FILE`: run until SIGINT/SIGTERM. Returns the exit code.
    `paging_routes`: print the Alertmanager routes of the paging chains instead."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The CLI may have configured logging already (at WARNING): the server's own lines
    # (what was sent, to whom masked) are the service's log, so show them at INFO.
    for name in ("kpn_sms_notify.server", "kpn_sms_notify.guard"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        client_config, config = load_config(config_file)
    except KpnValidationError as err:
        print(f"kpn-sms serve: {err}", file=sys.stderr)
        return 2
    warn_if_readable(config_file)
    if paging_routes:
        return _print_paging_routes(config)
    try:
        asyncio.run(_run(client_config, config))
    except OSError as err:
        if err.filename:  # a state or sink file (a symlink in its place, no permission)
            where = f"cannot use {err.filename}"
        else:
            where = f"cannot listen on {config.host}:{config.port}"
        print(f"kpn-sms serve: {where}: {err.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
