"""KPN's Phone Numbers API (kpn-vonage-phone-numbers-openapi.yml, facts §2.5):
list owned numbers, search, buy, cancel, and update (moHttpUrl, checked with a GET)."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from . import responses
from .kpn_routes import FORM, api_problem, read_form, state_of
from .state import EmulatorState
from .webhooks import is_loopback_url

BASE = "/communication/nexmo/phone-numbers"
NUMBER_TYPES = ("landline", "landline-toll-free", "mobile-lvn")


def _ok(state: EmulatorState) -> web.Response:
    return responses.kpn_json(state, {"error-code": "200", "error-code-label": "success"})


def _failed(state: EmulatorState, label: str) -> web.Response:
    # Vonage's Numbers API answers a refused change with HTTP 420 "method failed".
    return responses.kpn_json(
        state, {"error-code": "420", "error-code-label": f"method failed: {label}"}, status=420
    )


def _number(state: EmulatorState, msisdn: str, kind: str = "mobile-lvn") -> dict[str, Any]:
    out: dict[str, Any] = {
        "country": "NL",
        "msisdn": msisdn,
        "type": kind,
        "features": ["SMS", "VOICE"],
    }
    url = state.number_urls.get(msisdn)
    if url:
        out["moHttpUrl"] = url
    return out


def _page(request: web.Request, numbers: list[str]) -> tuple[list[str], int, web.Response | None]:
    """Filter by pattern/search_pattern and cut the page given by index/size (1-based)."""
    state = state_of(request)
    q = request.query
    try:
        index = int(q.get("index", "1"))
        size = int(q.get("size", "10"))
        mode = int(q.get("search_pattern", "0"))
    except ValueError:
        return (
            [],
            0,
            responses.kpn_error(state, 400, "index, size and search_pattern must be integers"),
        )
    if not 1 <= size <= 100 or index < 0 or mode not in (0, 1, 2):
        return (
            [],
            0,
            responses.kpn_error(state, 400, "size must be 1..100, index >= 0, search_pattern 0..2"),
        )
    pattern = q.get("pattern", "")
    if pattern:
        test = {0: str.startswith, 1: str.__contains__, 2: str.endswith}[mode]
        numbers = [n for n in numbers if test(n, pattern)]
    start = max(index - 1, 0) * size
    return numbers[start : start + size], len(numbers), None


def _guard(request: web.Request) -> web.Response | None:
    state = state_of(request)
    state.count("number_requests")
    return api_problem(request, state)


async def account_numbers(request: web.Request) -> web.Response:
    problem = _guard(request)
    if problem is not None:
        return problem
    state = state_of(request)
    with state.lock:
        owned = list(state.owned)
    page, count, err = _page(request, owned)
    if err is not None:
        return err
    with state.lock:
        numbers = [_number(state, n) for n in page]
    return responses.kpn_json(state, {"count": count, "numbers": numbers})


def _available(country: str) -> list[str]:
    """Twenty numbers for sale, valid in their country (other countries get the Dutch ones)."""
    prefix = {"NL": "3197010900", "GB": "447400900"}.get(country.upper(), "3197010900")
    return [f"{prefix}{i:03d}" for i in range(20)]


async def number_search(request: web.Request) -> web.Response:
    problem = _guard(request)
    if problem is not None:
        return problem
    state = state_of(request)
    country = request.query.get("country", "")
    if len(country) != 2 or not country.isalpha():
        return responses.kpn_error(state, 400, f"Invalid or missing parameter country: {country!r}")
    kind = request.query.get("type", "landline")
    if kind not in NUMBER_TYPES:
        return responses.kpn_error(state, 400, f"Invalid parameter type: {kind!r}")
    with state.lock:
        owned = set(state.owned)
    page, count, err = _page(request, [n for n in _available(country) if n not in owned])
    if err is not None:
        return err
    numbers = [
        {"country": country.upper(), "msisdn": n, "type": kind, "features": ["SMS", "VOICE"]}
        for n in page
    ]
    return responses.kpn_json(state, {"count": count, "numbers": numbers})


async def _form_with(
    request: web.Request, *required: str
) -> tuple[dict[str, str], web.Response | None]:
    state = state_of(request)
    form = await read_form(request)
    if form is None:
        return {}, responses.kpn_error(state, 400, f"Content-Type must be {FORM}")
    for name in required:
        if not form.get(name):
            return form, responses.kpn_error(state, 400, f"Missing required parameter: {name}")
    msisdn = form["msisdn"]
    if not msisdn.isdigit() or not 7 <= len(msisdn) <= 15:
        return form, responses.kpn_error(state, 400, f"Invalid parameter msisdn: {msisdn!r}")
    return form, None


async def _change_request(
    request: web.Request,
) -> tuple[EmulatorState, dict[str, str]] | web.Response:
    """The bearer/quota guard and the form (country, msisdn) every number change needs."""
    problem = _guard(request)
    if problem is not None:
        return problem
    form, err = await _form_with(request, "country", "msisdn")
    return err if err is not None else (state_of(request), form)


async def number_buy(request: web.Request) -> web.Response:
    checked = await _change_request(request)
    if isinstance(checked, web.Response):
        return checked
    state, form = checked
    # Only what number/search offers. Decide under the lock, answer outside it: the answer's
    # quota headers take the lock too.
    for_sale = form["msisdn"] in _available(form["country"])
    with state.lock:
        owned = form["msisdn"] in state.owned
        if for_sale and not owned:
            state.owned.append(form["msisdn"])
    if owned:
        return _failed(state, "number already owned")
    return _ok(state) if for_sale else _failed(state, "number not available for purchase")


async def number_cancel(request: web.Request) -> web.Response:
    checked = await _change_request(request)
    if isinstance(checked, web.Response):
        return checked
    state, form = checked
    with state.lock:
        owned = form["msisdn"] in state.owned
        if owned:
            state.owned.remove(form["msisdn"])
            state.number_urls.pop(form["msisdn"], None)
    return _ok(state) if owned else _failed(state, "number not owned by this account")


async def number_update(request: web.Request) -> web.Response:
    checked = await _change_request(request)
    if isinstance(checked, web.Response):
        return checked
    state, form = checked
    msisdn = form["msisdn"]
    with state.lock:
        owned = msisdn in state.owned
        timeout = float(state.knobs["number_check_timeout"])
    if not owned:
        return _failed(state, "number not owned by this account")
    url = form.get("moHttpUrl")
    if url is None:  # nothing to change for SMS
        return _ok(state)
    if url == "":  # "Set to empty string to clear."
        with state.lock:
            state.number_urls.pop(msisdn, None)
        return _ok(state)
    verdict = await check_webhook(url, timeout)
    if verdict is not None:
        return _failed(state, verdict)
    with state.lock:
        state.number_urls[msisdn] = url
    return _ok(state)


async def check_webhook(url: str, timeout: float) -> str | None:
    """Vonage GETs moHttpUrl and wants 200 OK; None when it did, else why not."""
    if not url.startswith(("http://", "https://")):
        return f"moHttpUrl is not an http(s) URL: {url!r}"
    if not is_loopback_url(url):
        return "the emulator can only check loopback webhooks"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp,
        ):
            await resp.read()
            if resp.status != 200:
                return f"moHttpUrl answered {resp.status} to GET, expected 200"
    except (aiohttp.ClientError, TimeoutError) as err:
        return f"moHttpUrl could not be reached ({type(err).__name__})"
    return None


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{BASE}/account/numbers", account_numbers)
    app.router.add_get(f"{BASE}/number/search", number_search)
    app.router.add_post(f"{BASE}/number/buy", number_buy)
    app.router.add_post(f"{BASE}/number/cancel", number_cancel)
    app.router.add_post(f"{BASE}/number/update", number_update)
