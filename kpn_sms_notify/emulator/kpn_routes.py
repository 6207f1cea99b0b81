"""KPN's gateway: the OAuth token endpoint, /send and /register (facts §1, §2)."""

from __future__ import annotations

import math
import time
import urllib.parse
from typing import Any

from aiohttp import web

from . import faults, keys, responses, sending
from .knobs import APIGEE_THROTTLES, TOKEN_PATH
from .state import EmulatorState

FORM = "application/x-www-form-urlencoded"
SMS_BASE = "/communication/nexmo/sms"


def state_of(request: web.Request) -> EmulatorState:
    state: EmulatorState = request.app[keys.STATE]
    return state


async def read_form(request: web.Request) -> dict[str, str] | None:
    """The form fields (first of repeated names), or None when the body is not
    application/x-www-form-urlencoded. Undecodable bodies raise faults.BadRequest."""
    if request.content_type != FORM:
        return None
    return parse_form(await request.read())


def parse_form(raw: bytes) -> dict[str, str]:
    try:
        text = raw.decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise faults.BadRequest("the form body is not valid UTF-8 form data") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


# token ---------------------------------------------------------------------------------
def _token_error(state: EmulatorState, status: int, code: str, text: str) -> web.Response:
    state.count("token_failures")
    return responses.kpn_json(state, {"ErrorCode": code, "Error": text}, status=status)


def _bad_client(
    state: EmulatorState, client_id: str | None, *, forced: bool = False
) -> web.Response:
    """Refused credentials, in the token_error_code knob's form: KPN's observed
    `invalid_client`, or Apigee's documented `invalid_request` (400 when client_id is missing,
    else 401 naming the client id). A forced refusal is always the 401."""
    if state.knob("token_error_code") == "invalid_client":
        return _token_error(state, 401, "invalid_client", "ClientId is Invalid")
    if not client_id and not forced:
        return _token_error(
            state, 400, "invalid_request", "The request is missing a required parameter : client_id"
        )
    return _token_error(
        state, 401, "invalid_request", f"Invalid client id : {client_id or ''}. ClientId is Invalid"
    )


async def _client_id(request: web.Request) -> str | None:
    form = await read_form(request)
    return form.get("client_id") if form else None


async def token(request: web.Request) -> web.Response:
    state = state_of(request)
    state.count("token_requests")
    with state.lock:
        down = state.knobs["token_endpoint_down"]
        forced = state.knobs["token_endpoint_status"]
    entry = state.next_script(TOKEN_PATH)
    if entry is not None and "http" in entry:
        if entry["http"] == 401:
            return _bad_client(state, await _client_id(request), forced=True)
        state.count("token_failures")
        return faults.scripted_http(state, entry["http"], entry.get("body", "kpn"))
    if entry is not None and "drop" in entry:
        state.count("token_failures")
        raise faults.DropConnection()
    if down or forced:
        code = 503 if down and not forced else int(forced)
        state.count("token_failures")
        if code == 401:
            return _bad_client(state, await _client_id(request), forced=True)
        return responses.kpn_error(state, code, "The token service is not available")
    if request.method != "POST":
        return responses.kpn_error(state, 405, f"Method {request.method} not allowed")
    grant = request.query.get("grant_type")
    if grant is None:
        return _token_error(state, 400, "invalid_request", "Required param : grant_type")
    if grant != "client_credentials":
        return _token_error(
            state, 400, "unsupported_grant_type", f"Unsupported grant type : {grant}"
        )
    form = await read_form(request)
    if form is None:
        return _token_error(state, 400, "invalid_request", f"Content-Type must be {FORM}")
    with state.lock:
        good = (
            form.get("client_id") == state.knobs["client_id"]
            and form.get("client_secret") == state.knobs["client_secret"]
        )
        level = state.knobs["token_level"]
        products = list(state.knobs["api_products"])
    if not good:
        return _bad_client(state, form.get("client_id"))
    access, ttl = state.issue_token()
    body = {
        "refresh_token_expires_in": "0",
        "api_product_list": f"[{', '.join(products)}]",
        "api_product_list_json": products,
        "organization_name": "kpn",
        "developer_email": "demo@example.com",
        "token_type": "Bearer",
        "issued_at": str(int(time.time() * 1000)),
        "client_id": form["client_id"],
        "access_token": access,
        "application_name": "kpn-sms-notify-emulator",
        "level": level,
        "scope": "",
        "expires_in": str(int(ttl)),
        "refresh_token": "",
        "refresh_count": "0",
        "status": "approved",
    }
    return responses.kpn_json(state, body)


def api_problem(request: web.Request, state: EmulatorState) -> web.Response | None:
    """The bearer check, the app's API products, then the quota (Apigee's order). Compared
    with None on purpose: some aiohttp releases make a web.Response falsy, so `a or b` would
    let a refusal through."""
    problem = bearer_problem(request)
    if problem is None:
        problem = product_problem(request, state)
    return problem if problem is not None else quota_problem(state)


def product_problem(request: web.Request, state: EmulatorState) -> web.Response | None:
    """Apigee's 401 for a resource in none of the app's API products."""
    product = "sms-nexmo" if request.path.startswith(SMS_BASE) else "phone-numbers-nexmo"
    if product in state.knob("api_products"):
        return None
    state.count("product_refusals")
    return responses.product_fault(state)


def bearer_problem(request: web.Request) -> web.Response | None:
    """None when the Authorization header holds a live token; else the Apigee fault."""
    state = state_of(request)
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    verdict = (
        state.check_token(value.strip())
        if scheme.lower() == "bearer" and value.strip()
        else "invalid"
    )
    if verdict is None:
        return None
    state.count("auth_failures")
    with state.lock:
        status = state.knobs["auth_fault_status"]
        body_kind = state.knobs["auth_error_body"]
    if verdict == "expired":
        text, code = "Access Token expired", "keymanagement.service.access_token_expired"
    else:
        text, code = "Invalid Access Token", "keymanagement.service.invalid_access_token"
    if body_kind == "kpn":
        return responses.kpn_error(state, status, text, code)
    return responses.apigee_fault(state, status, text, code)


def quota_problem(state: EmulatorState) -> web.Response | None:
    if state.use_quota():
        return None
    mode = state.knob("quota_mode")
    if mode in APIGEE_THROTTLES:  # Apigee's QuotaViolation fault; the quota-* headers say when
        kind, status = APIGEE_THROTTLES[mode]
        return throttle_fault(state, status, kind)
    state.count("http_429")
    wait = math.ceil(state.seconds_to_quota_reset())
    return responses.kpn_error(
        state,
        429,
        "Rate limit quota violation. Quota limit exceeded.",
        extra_headers={"Retry-After": str(wait)},
    )


def throttle_fault(state: EmulatorState, status: int, kind: str) -> web.Response:
    state.count("throttle_faults")
    if status == 429:
        state.count("http_429")
    return responses.ratelimit_fault(state, status, kind)


# send ----------------------------------------------------------------------------------
async def handle_send(
    request: web.Request, params_reader: Any, api: str, default_dlr: bool, pre_check: Any = None
) -> web.Response:
    """The shared send pipeline: faults, rate limit, validation, acceptance, DLRs."""
    state = state_of(request)
    plan = faults.plan_send(state, request.path)
    if plan.drop_before:
        raise faults.DropConnection()
    if plan.before is not None:
        return plan.before
    params = await params_reader(request)
    if params is None:
        return responses.kpn_error(state, 400, f"Content-Type must be {FORM}")
    wait = state.take_rate_token()
    if wait is not None:
        with state.lock:
            mode = state.knobs["rate_limit_mode"]
        if mode in APIGEE_THROTTLES:
            kind, status = APIGEE_THROTTLES[mode]
            return throttle_fault(state, status, kind)
        if mode == "http429":
            state.count("http_429")
            return responses.kpn_error(
                state,
                429,
                "Too many requests, please slow down",
                extra_headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        state.count("status_1")
        state.count("rejected")
        text = sending.throttle_text(wait, state.knob("throttle_text"))
        refused = sending.Refused("1", text, params.get("to") or None)
        return responses.kpn_json(
            state, sending.refused_answer(refused, state.knob("message_count_int"))
        )
    if pre_check is not None:
        problem = pre_check(state, params)
        if problem is not None:
            return answer_refused(state, problem)
    try:
        req = sending.validate(state, params, default_dlr)
        if plan.status is not None and plan.status != "0":
            raise sending.Refused(plan.status, None, req.to)
        extra = {"inbound_header": request.headers.get("inbound")}
        body, record = sending.accept(state, req, api, extra)
    except sending.Refused as refused:
        return answer_refused(state, refused)
    request.app[keys.DELIVERER].schedule_dlrs(record)
    return await faults.finish(state, plan, responses.kpn_json(state, body))


def answer_refused(state: EmulatorState, refused: sending.Refused) -> web.Response:
    state.count("rejected")
    if refused.status == "1":
        state.count("status_1")
        if refused.default_text:  # forced or scripted: in the throttle_text knob's form
            refused.text = sending.throttle_text(1.0, state.knob("throttle_text"))
    return responses.kpn_json(
        state, sending.refused_answer(refused, state.knob("message_count_int"))
    )


async def send(request: web.Request) -> web.Response:
    state = state_of(request)
    problem = api_problem(request, state)
    if problem is not None:
        return problem
    return await handle_send(request, read_form, "kpn", default_dlr=False)


async def register(request: web.Request) -> web.Response:
    state = state_of(request)
    state.count("register_requests")
    problem = api_problem(request, state)
    if problem is not None:
        return problem
    form = await read_form(request)
    if form is None:
        return responses.kpn_error(state, 400, f"Content-Type must be {FORM}")
    to, url = form.get("to", ""), form.get("callback_url", "")
    if not to or not url:
        missing = "to" if not to else "callback_url"
        return responses.kpn_error(state, 400, f"Missing required parameter: {missing}")
    if not to.isdigit() or not 7 <= len(to) <= 15:
        return responses.kpn_error(state, 400, f"Invalid parameter to: {to!r}")
    if not sending.check_callback(url, allow_loopback_http=True):
        return responses.kpn_error(state, 400, f"Invalid parameter callback_url: {url!r}")
    with state.lock:
        state.registered[to] = url
    return responses.kpn_json(state, {"message": "Your callback url is registered."})


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", TOKEN_PATH, token)
    app.router.add_post(f"{SMS_BASE}/send", send)
    app.router.add_post(f"{SMS_BASE}/register", register)
