"""Fault injection: what the knobs and the one-shot script do to an API answer.

A script entry is a dict, consumed by the next request it applies to:

    {"http": 503}                       answer HTTP 503 (body "kpn" unless "body" says
                                        kpn / apigee / html / empty / malformed, or
                                        quota / spike: Apigee's rate-limit fault)
    {"status": "1"}                     answer HTTP 200 with this Vonage status
    {"drop": true}                      close the connection without answering
    {"slow": 5}                         accept, then answer 5 s later
    {"bad_body": "html"}                accept, then answer 200 with a broken body
    {"ok": true}                        answer normally (keeps a place in the queue)
    "count": N                          the entry applies to the next N requests (default 1)
    "after_send": true                  http/drop happen after the message was accepted
    "path": "send"                      which requests: "send" (KPN /send and Vonage
                                        /sms/json, the default), "token", "*", or a path
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from . import responses
from .knobs import ERROR_BODIES
from .state import EmulatorState

SEND_PATHS = ("/communication/nexmo/sms/send", "/sms/json")
TOKEN_PATH = "/oauth/client_credential/accesstoken"
_ACTIONS = ("http", "status", "drop", "slow", "bad_body", "ok")


class DropConnection(Exception):
    """Raised inside a handler: close the socket without an answer."""


class BadRequest(Exception):
    """Raised inside a handler: answer 400 with a KPN ErrorResponse carrying this text."""


def check_script(entries: Any) -> list[dict[str, Any]]:
    """Validate script entries; raise ValueError naming the bad entry."""
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise ValueError(f"emulator knob 'script'[{i}]: {raw!r} is not an object")
        entry = dict(raw)
        actions = [a for a in _ACTIONS if a in entry]
        if len(actions) != 1:
            raise ValueError(
                f"emulator knob 'script'[{i}]: needs exactly one of {', '.join(_ACTIONS)}"
            )
        unknown = set(entry) - {*_ACTIONS, "count", "after_send", "path", "body"}
        if unknown:
            raise ValueError(f"emulator knob 'script'[{i}]: unknown key {sorted(unknown)[0]!r}")
        if "http" in entry and not (isinstance(entry["http"], int) and 100 <= entry["http"] <= 599):
            raise ValueError(f"emulator knob 'script'[{i}]: bad http status {entry['http']!r}")
        if entry.get("body", "kpn") not in ERROR_BODIES:
            raise ValueError(f"emulator knob 'script'[{i}]: bad body {entry['body']!r}")
        if "bad_body" in entry and entry["bad_body"] not in ("malformed", "html", "empty"):
            raise ValueError(f"emulator knob 'script'[{i}]: bad bad_body {entry['bad_body']!r}")
        if "status" in entry:
            entry["status"] = str(entry["status"])
        count = entry.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"emulator knob 'script'[{i}]: bad count {count!r}")
        entry["count"] = count
        entry.setdefault("path", "send")
        entry.setdefault("after_send", False)
        out.append(entry)
    return out


def script_applies(entry: dict[str, Any], path: str) -> bool:
    where = entry["path"]
    if where == "*":
        return True
    if where == "send":
        return path in SEND_PATHS
    if where == "token":
        return path == TOKEN_PATH
    return bool(where == path)


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
