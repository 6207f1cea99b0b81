"""What the handlers share: the server state and reading a request's payload."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import hdrs, web

from ..client import KpnSms
from ..errors import KpnValidationError
from ..inbound import (
    InboundAssembler,
    SeenReceipts,
    decode_json,
    query_params,
    webhook_params,
)
from ..paging.engine import PagingEngine
from ..schema import recipient_numbers
from .config import ServeConfig
from .dedupe import SentLog
from .journal import Journal
from .metrics import Metrics
from .sinks import SinkSet
from .spend import FileBudgetStore


@dataclass
class ServerState:
    """Everything the handlers share; one per application."""

    client_config: dict[str, Any] = field(repr=False)
    config: ServeConfig = field(repr=False)
    metrics: Metrics
    sent_log: SentLog
    assembler: InboundAssembler
    sinks: SinkSet
    journal: Journal
    receipts: SeenReceipts = field(default_factory=SeenReceipts)
    sms: KpnSms | None = None
    paging: PagingEngine | None = None
    started: float = field(default_factory=time.time)

    @property
    def fallback(self) -> list[str]:
        return recipient_numbers(self.client_config)

    def client(self) -> KpnSms:
        if self.sms is None:
            state_dir = self.config.state_dir
            store = FileBudgetStore(state_dir) if state_dir is not None else None
            self.sms = KpnSms.from_config(self.client_config, budget_store=store)
        return self.sms

    def remember_receipt(self, key: str) -> None:
        self.receipts.remember(key)


STATE: web.AppKey[ServerState] = web.AppKey("kpn_sms_state", ServerState)


def state_of(request: web.Request) -> ServerState:
    return request.app[STATE]


def bad_request(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": "bad request", "reason": reason}, status=status)


async def read_json(request: web.Request) -> Any:
    body = await request.read()
    if not body.strip():
        raise KpnValidationError("body: empty; expected a JSON object", field="body")
    try:
        data = decode_json(body)
    except RecursionError:
        raise KpnValidationError(
            f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels", field="body"
        ) from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise KpnValidationError(
            f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels", field="body"
        )
    return data


MAX_JSON_DEPTH = 32  # an alert is 4 levels deep; more is a mistake or an attack


def _depth(data: Any) -> int:
    """How deeply lists and objects nest (iterative: no recursion to exhaust)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


async def read_params(request: web.Request) -> dict[str, Any]:
    """Webhook parameters from the query and the body, told apart by the body's content
    (`kpn_sms_notify.inbound.body`); serve also reads a multipart form."""
    query = list(request.query.items())
    if request.method != "POST" or not request.can_read_body:
        return query_params(query)
    if request.content_type == "multipart/form-data":
        params = query_params(query)
        try:
            form = await request.post()
        except (ValueError, AssertionError, aiohttp.ClientError) as err:
            # A missing boundary or a torn part: the sender's mistake, not ours.
            raise KpnValidationError(
                f"body: unreadable multipart form ({str(err).splitlines()[0][:80]})",
                field="body",
            ) from None
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params
    body = await request.read()
    return webhook_params(
        query=query, body=body, content_type=request.headers.get(hdrs.CONTENT_TYPE)
    )
