"""Fault injection: what the knobs and the one-shot script (its format: knobs.py) do to an
API answer."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from . import responses
from .state import EmulatorState


class DropConnection(Exception):
    """Raised inside a handler: close the socket without an answer."""


class BadRequest(Exception):
    """Raised inside a handler: answer 400 with a KPN ErrorResponse carrying this text."""


class Plan:
    """What faults to apply to one send: decided up front, applied around the processing."""

    def __init__(self) -> None:
        self.before: web.Response | None = None  # answer instead of processing
        self.drop_before = False
        self.status: str | None = None  # forced Vonage status (200 answer)
        self.after_http: tuple[int, str] | None = None  # (status, body kind) after accepting
        self.drop_after = False
        self.slow: float = 0.0
        self.bad_body: str | None = None


def plan_send(state: EmulatorState, path: str) -> Plan:
    """Roll the dice and read the script for one send request."""
    plan = Plan()
    entry = state.next_script(path)
    if entry is not None:
        _plan_entry(state, plan, entry)
        return plan
    after = bool(state.knob("fault_after_send"))
    if state.roll("drop_rate"):
        state.count("dropped")
        if after:
            plan.drop_after = True
        else:
            plan.drop_before = True
        return plan
    if state.roll("error_rate"):
        code = state.pick_error_status()
        kind = state.knob("error_body")
        state.count("http_errors")
        if after:
            plan.after_http = (code, kind)
        else:
            plan.before = responses.error_of_kind(state, code, kind)
        return plan
    if state.roll("slow_rate"):
        state.count("slow")
        plan.slow = float(state.knob("slow_seconds"))
    if state.roll("bad_body_rate"):
        state.count("bad_bodies")
        plan.bad_body = state.knob("bad_body")
    return plan


def _plan_entry(state: EmulatorState, plan: Plan, entry: dict[str, Any]) -> None:
    after = entry["after_send"]
    if "http" in entry:
        state.count("http_429" if entry["http"] == 429 else "http_errors")
        if after:
            plan.after_http = (entry["http"], entry.get("body", "kpn"))
        else:
            plan.before = scripted_http(state, entry["http"], entry.get("body", "kpn"))
    elif "status" in entry:
        plan.status = entry["status"]
    elif "drop" in entry:
        state.count("dropped")
        plan.drop_after, plan.drop_before = after, not after
    elif "slow" in entry:
        state.count("slow")
        plan.slow = float(entry["slow"])
    elif "bad_body" in entry:
        state.count("bad_bodies")
        plan.bad_body = entry["bad_body"]


def scripted_http(state: EmulatorState, code: int, kind: str) -> web.Response:
    """A scripted or forced HTTP error, shaped as the gateway would send that code."""
    if code == 401 and kind == "kpn":
        return responses.apigee_fault(
            state, 401, "Invalid Access Token", "keymanagement.service.invalid_access_token"
        )
    extra = {"Retry-After": "1"} if code == 429 else None
    if kind == "kpn":
        return responses.kpn_error(state, code, extra_headers=extra)
    return responses.error_of_kind(state, code, kind)


async def finish(state: EmulatorState, plan: Plan, answer: web.Response) -> web.Response:
    """Apply the after-processing faults to a normal answer."""
    if plan.drop_after:
        raise DropConnection()
    if plan.after_http is not None:
        code, kind = plan.after_http
        return scripted_http(state, code, kind)
    if plan.slow:
        await asyncio.sleep(plan.slow)
    if plan.bad_body:
        return responses.broken(state, 200, plan.bad_body)
    return answer
