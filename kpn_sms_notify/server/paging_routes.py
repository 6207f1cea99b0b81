"""`POST /paging/{chain}/{step}`: one escalation step's notification from Alertmanager,
and the paging engine's life in the application (its sending, the keep-alive loop).

The step's page goes out unless the incident is acknowledged; the answer follows
`/alertmanager`'s rules (200 done, 503 try again), and a retried notification texts only
those still owed, also after a restart (the sent log in `state_dir`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from ..errors import KpnSmsError, KpnValidationError
from ..paging.alertmanager import AlertmanagerError
from ..paging.engine import PagingEngine
from ..paging.incidents import AlertLabels
from .alert_routes import Outcome, deliver
from .alerts import parse_alert_payload
from .auth import check_credentials, unauthorized
from .state import STATE, ServerState, read_json, state_of
from .text import render

_LOGGER = logging.getLogger("kpn_sms_notify.server")


def _not_found(reason: str) -> web.Response:
    return web.json_response({"error": "not found", "reason": reason}, status=404)


async def step(request: web.Request) -> web.Response:
    state = state_of(request)
    if not check_credentials(request, state.config):
        state.metrics.inc("kpn_sms_webhook_rejected_total", reason="unauthorized")
        return unauthorized(state.config)
    engine = state.paging
    assert engine is not None  # the route exists only with paging configured
    name, index = request.match_info["chain"], request.match_info["step"]
    chain = engine.config.chains.get(name)
    if chain is None:
        return _not_found(f"chain {name[:40]!r} is not in serve.paging.chains")
    if not index.isdigit() or int(index) >= len(chain.steps):
        return _not_found(f"chain {name!r} has steps 0 to {len(chain.steps) - 1}")
    notification = parse_alert_payload(await read_json(request), "paging")
    firing = notification.status == "firing"
    shown = tuple(a for a in notification.alerts if a.status == "firing") or notification.alerts
    outcome = Outcome()
    async with state.sent_log.lock(notification.identity):
        page = await engine.page(
            chain=chain,
            step=int(index),
            group_labels=notification.group_labels,
            alerts=[AlertLabels(a.labels, a.starts_at) for a in notification.alerts],
            rendered=render(notification, shown, state.config.template),
            firing=firing,
        )
        if page is not None:
            await deliver(
                state,
                notification.identity,
                page.text,
                page.recipients,
                outcome,
                endpoint="paging",
                sender=engine.config.sender,
            )
    return outcome.response("paging", state)


def make_engine(state: ServerState) -> PagingEngine:
    """The engine, sending through serve's own path (sender, sent log, metrics)."""
    config = state.config.paging
    assert config is not None

    async def send(text: str, numbers: Sequence[str], key: str) -> None:
        outcome = Outcome()
        async with state.sent_log.lock(key):
            try:
                await deliver(
                    state,
                    key,
                    text,
                    list(numbers),
                    outcome,
                    endpoint="paging",
                    sender=config.sender,
                )
            except KpnValidationError as err:
                _LOGGER.error("paging: text not sent: %s", err)

    return PagingEngine(config, send=send, metrics=state.metrics)


async def paging_context(app: web.Application) -> AsyncIterator[None]:
    """The keep-alive loop while the application runs; the engine closed after it."""
    state = app[STATE]
    engine = state.paging
    assert engine is not None

    async def loop() -> None:
        while True:
            await asyncio.sleep(engine.config.poll_interval)
            try:
                await engine.sweep()
            except AlertmanagerError as err:
                state.metrics.inc("kpn_sms_paging_errors_total", call="sweep")
                _LOGGER.warning("paging: keep-alive round failed: %s", err)
            except (KpnSmsError, OSError) as err:
                _LOGGER.error("paging: keep-alive round failed: %s", err)

    sweeper = asyncio.create_task(loop())
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    await engine.close()


def add_routes(app: web.Application) -> None:
    app.router.add_post("/paging/{chain}/{step}", step)
    app.cleanup_ctx.append(paging_context)
