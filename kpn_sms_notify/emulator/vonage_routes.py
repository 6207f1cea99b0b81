"""Vonage-direct `POST /sms/json` (https://rest.nexmo.com/sms/json), for benchmarking
Apprise's built-in vonage:// plugin and other Vonage clients against the same emulator.

Credentials are `api_key` / `api_secret` in the form, the query string or a JSON body, or
HTTP Basic auth (key:secret), which the Vonage SDK v4 sends.
Bad credentials are status 4 inside an HTTP 200, as Vonage answers.
"""

from __future__ import annotations

import base64
import binascii
import json

from aiohttp import web

from . import keys, sending
from .kpn_routes import FORM, handle_send, parse_form
from .state import EmulatorState


async def read_params(request: web.Request) -> dict[str, str] | None:
    params = {k: v for k, v in request.query.items()}
    if request.content_type == FORM:
        params.update(parse_form(await request.read()))
    elif request.content_type == "application/json":
        try:
            body = json.loads((await request.read()).decode("utf-8") or "{}")
        except ValueError:  # includes UnicodeDecodeError
            return None
        if not isinstance(body, dict):
            return None
        params.update(
            {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in body.items()}
        )
    elif request.can_read_body:
        return None
    if "api_key" not in params:
        params.update(_basic_auth(request.headers.get("Authorization", "")))
    return params


def _basic_auth(header: str) -> dict[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        key, sep, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return {}
    return {"api_key": key, "api_secret": secret} if sep else {}


def check_credentials(state: EmulatorState, params: dict[str, str]) -> sending.Refused | None:
    key, secret = params.get("api_key", ""), params.get("api_secret", "")
    if not key:
        return sending.Refused("2", "Missing api_key")
    if not secret and not params.get("sig"):
        return sending.Refused("2", "Missing api_secret")
    with state.lock:
        good = key == state.knobs["api_key"] and secret == state.knobs["api_secret"]
    return None if good else sending.Refused("4", "Bad Credentials")


async def sms_json(request: web.Request) -> web.Response:
    request.app[keys.STATE].count("vonage_requests")
    # Vonage sends a DLR to the account's URL by default (status-report-req defaults to true).
    return await handle_send(
        request, read_params, "vonage", default_dlr=True, pre_check=check_credentials
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/sms/json", sms_json)
