"""The aiohttp application: routes plus the gateway middleware (latency, forced HTTP
codes per path, in-flight counting, KPN-shaped 404/405/500 answers, dropped connections)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import control, faults, keys, kpn_routes, numbers_routes, responses, vonage_routes
from .knobs import SEND_PATHS, TOKEN_PATH
from .state import EmulatorState
from .webhooks import Deliverer

_LOG = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL_PREFIX = "/_emulator"


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
        return await handler(request)
    state: EmulatorState = request.app[keys.STATE]
    is_send = request.path in SEND_PATHS
    if is_send:
        state.count("send_requests")
        state.enter()
    try:
        with state.lock:
            latency = float(state.knobs["latency"])
            forced = state.knobs["forced_http"].get(request.path)
        if latency:
            await asyncio.sleep(latency)
        if forced is not None:
            state.count("http_429" if forced == 429 else "http_errors")
            if request.path == TOKEN_PATH:
                state.count("token_requests")
                state.count("token_failures")
                if forced == 401:
                    body = {"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"}
                    return responses.kpn_json(state, body, status=401)
            return faults.scripted_http(state, forced, "kpn")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return responses.kpn_error(
                state,
                404,
                f"Unable to identify proxy for host: emulator and url: {request.path}",
                "ApplicationNotFound",
            )
        except web.HTTPMethodNotAllowed:
            return responses.kpn_error(state, 405, f"Method {request.method} not allowed")
        except faults.BadRequest as err:
            return responses.kpn_error(state, 400, str(err))
        except faults.DropConnection:
            # Read the body first: closing with unread bytes makes the kernel answer with a
            # reset (a ReadError) instead of a plain close, at random under load. A dropped
            # connection is always "closed without an answer".
            with contextlib.suppress(Exception):
                await request.read()
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError() from None
        except web.HTTPException:
            raise
        except Exception:  # never crash: answer 500 like the gateway would
            _LOG.exception("emulator: unexpected error answering %s", request.path)
            return responses.kpn_error(state, 500, "Internal error in the emulator")
    finally:
        if is_send:
            state.leave()


def build_app(
    state: EmulatorState, deliverer: Deliverer, emulator: keys.Controls
) -> web.Application:
    app = web.Application(middlewares=[gateway], client_max_size=1024**2)
    app[keys.STATE] = state
    app[keys.DELIVERER] = deliverer
    app[keys.EMULATOR] = emulator
    kpn_routes.add_routes(app)
    numbers_routes.add_routes(app)
    vonage_routes.add_routes(app)
    control.add_routes(app)
    return app
