"""Outgoing webhooks: delivery receipts and inbound SMS, with Vonage's retry behaviour.

Vonage wants 200 or 204 within 15 s (3 s to connect); otherwise it tries again 60 s later,
for 24 h (inbound) or 72 h (DLRs) (facts §4, V-TO). The emulator only calls loopback
hosts: a webhook elsewhere is recorded as skipped, never contacted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .state import EmulatorState

_LOG = logging.getLogger(__name__)
OK_STATUSES = (200, 204)
DLR_ERR_CODES = {
    "delivered": "0",
    "accepted": "0",
    "buffered": "0",
    "expired": "1",
    "unknown": "1",
    "rejected": "6",
    "failed": "99",
}


def sign(params: dict[str, str], secret: str, method: str) -> str:
    """Vonage's signature (facts §4.3): sorted params with & and = in values made _."""
    joined = "".join(
        f"&{k}={str(v).replace('&', '_').replace('=', '_')}"
        for k, v in sorted(params.items())
        if k != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((joined + secret).encode()).hexdigest()
    digest = {
        "md5": hashlib.md5,
        "sha1": hashlib.sha1,
        "sha256": hashlib.sha256,
        "sha512": hashlib.sha512,
    }[method]
    return hmac.new(secret.encode(), joined.encode(), digest).hexdigest()


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Deliverer:
    """Runs on the emulator's loop; owns one aiohttp session and the delivery tasks."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # delivery receipts -------------------------------------------------------------------
    def schedule_dlrs(self, message: dict[str, Any]) -> None:
        with self.state.lock:
            knobs = self.state.knobs
            url = message["callback"] or knobs["default_callback"]
            if not message["status_report_req"] or not url:
                return
            status = knobs["dlr_status"].get(message["to"], "delivered")
            err = knobs["dlr_err_code"].get(message["to"], DLR_ERR_CODES.get(status, "99"))
        scts = datetime.now(UTC).strftime("%y%m%d%H%M")
        for mid in message["message_ids"]:
            payload = {
                "msisdn": message["to"],
                "to": message["from"],
                "network-code": message["network"],
                "messageId": mid,
                "price": message["price"],
                "status": status,
                "scts": scts,
                "err-code": err,
            }
            if knobs["dlr_api_key"]:  # Vonage's DLRs name the sending account's key
                payload["api-key"] = knobs["api_key"]
            if message["client_ref"] is not None:
                payload["client-ref"] = message["client_ref"]
            record: dict[str, Any] = {
                "url": url,
                "messageId": mid,
                "payload": payload,
                "attempts": [],
                "state": "pending",
            }
            with self.state.lock:
                self.state.dlrs.append(record)
            self._spawn(self._deliver(record, "dlr"))

    # inbound -------------------------------------------------------------------------------
    def webhook_for(self, to: str) -> str | None:
        """Where a text to `to` goes: the URL registered for it (/register, or number/update's
        moHttpUrl), else for a number the account owns the account's default inbound URL."""
        with self.state.lock:
            url = self.state.registered.get(to) or self.state.number_urls.get(to)
            if url is None and to in self.state.owned:
                url = self.state.knobs["default_inbound_url"] or None
            return url

    def schedule_inbound(self, record: dict[str, Any]) -> None:
        for part in record["parts"]:
            if part["url"]:  # no webhook registered for that number: nothing to call
                self._spawn(self._deliver(part, "inbound"))

    # the retry loop ----------------------------------------------------------------------------
    async def _deliver(self, record: dict[str, Any], kind: str) -> None:
        with self.state.lock:
            knobs = dict(self.state.knobs)
        if kind == "dlr" and knobs["dlr_delay"]:
            await asyncio.sleep(knobs["dlr_delay"])
        url = record["url"]
        if not is_loopback_url(url):
            self._set(record, state="skipped", note="the emulator only calls loopback webhooks")
            return
        window = knobs["dlr_retry_window" if kind == "dlr" else "inbound_retry_window"]
        fmt = knobs["dlr_format" if kind == "dlr" else "inbound_format"]
        max_attempts = knobs["webhook_max_attempts"]
        deadline = time.monotonic() + window
        attempt = 0
        while True:
            attempt += 1
            self.state.count(f"{kind}_attempts")
            payload = dict(record["payload"])
            payload["message-timestamp"] = _now_stamp()
            if kind == "inbound" and knobs["inbound_timestamp"]:
                payload["timestamp"] = str(int(time.time()))
            if knobs["signature_secret"]:
                payload["timestamp"] = str(int(time.time()))
                payload["nonce"] = str(uuid.uuid4())
                payload["sig"] = sign(payload, knobs["signature_secret"], knobs["signature_method"])
            outcome = await self._attempt(url, fmt, payload, knobs)
            with self.state.lock:
                record["attempts"].append({"at": time.time(), **outcome})
                record["sent_payload"] = payload
            if outcome.get("status") in OK_STATUSES:
                self._set(record, state="delivered")
                self.state.count(f"{kind}_delivered")
                return
            if (max_attempts is not None and attempt >= max_attempts) or time.monotonic() + knobs[
                "webhook_retry_interval"
            ] > deadline:
                self._set(record, state="failed")
                return
            self._set(record, state="retrying")
            await asyncio.sleep(knobs["webhook_retry_interval"])
            with self.state.lock:  # pick up knob changes (e.g. a faster retry) between tries
                knobs = dict(self.state.knobs)

    async def _attempt(
        self, url: str, fmt: str, payload: dict[str, str], knobs: dict[str, Any]
    ) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(
            total=knobs["webhook_timeout"], connect=knobs["webhook_connect_timeout"]
        )
        try:
            if fmt == "get":
                call = self.session().get(url, params=payload, timeout=timeout)
            elif fmt == "json":
                call = self.session().post(url, json=payload, timeout=timeout)
            else:
                call = self.session().post(url, data=payload, timeout=timeout)
            async with call as resp:
                await resp.read()
                return {"status": resp.status}
        except (aiohttp.ClientError, TimeoutError) as err:
            return {"error": type(err).__name__}

    def _set(self, record: dict[str, Any], **changes: Any) -> None:
        with self.state.lock:
            record.update(changes)


def new_inbound(
    state: EmulatorState,
    msisdn: str,
    text: str,
    to: str,
    url: str | None,
    texts: list[str],
    kind: str,
) -> dict[str, Any]:
    """Build (and store) an inbound record with one delivery per part."""
    keyword = (text.split() or [""])[0].upper()
    ref = f"{secrets.randbelow(256):02X}"
    parts: list[dict[str, Any]] = []
    for i, part_text in enumerate(texts, start=1):
        payload = {
            "msisdn": msisdn,
            "to": to,
            "messageId": state.new_message_id(),
            "text": part_text,
            "type": kind,
            "keyword": keyword,
        }
        if len(texts) > 1:
            payload.update(
                {
                    "concat": "true",
                    "concat-ref": ref,
                    "concat-total": str(len(texts)),
                    "concat-part": str(i),
                }
            )
        parts.append(
            {
                "url": url,
                "messageId": payload["messageId"],
                "payload": payload,
                "attempts": [],
                "state": "pending" if url else "no_webhook",
            }
        )
    record = {
        "msisdn": msisdn,
        "to": to,
        "text": text,
        "type": kind,
        "url": url,
        "parts": parts,
        "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    with state.lock:
        state.inbound.append(record)
    return record
