"""The emulator's shared state: knobs, counters, messages, tokens, webhooks, deliveries.

Handlers run on the emulator's event loop while tests read and configure from their own
thread, so every access goes through one `threading.Lock`.
"""

from __future__ import annotations

import copy
import random
import secrets
import string
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from . import knobs as knobs_mod

COUNTER_NAMES = (
    "token_requests",  # every call to the token endpoint
    "tokens_issued",
    "token_failures",  # token calls answered with an error
    "auth_failures",  # API calls refused for a missing, unknown or expired bearer
    "send_requests",  # calls to KPN /send and Vonage /sms/json
    "vonage_requests",  # of which /sms/json
    "accepted",  # messages accepted (status 0)
    "parts",  # SMS parts billed
    "rejected",  # send answers with a non-zero status
    "partial",  # send answers with some parts accepted and the rest refused (partial_status)
    "in_flight",  # send calls being answered now
    "peak_in_flight",
    "http_429",
    "status_1",
    "http_errors",  # injected 4xx/5xx answers
    "throttle_faults",  # throttles answered with Apigee's rate-limit fault (500 or 429)
    "product_refusals",  # API calls outside the app's api_products (401)
    "dropped",
    "slow",
    "bad_bodies",
    "register_requests",
    "number_requests",
    "dlr_attempts",
    "dlr_delivered",
    "inbound_attempts",
    "inbound_delivered",
)

_TOKEN_ALPHABET = string.ascii_letters + string.digits


class EmulatorState:
    def __init__(self, initial_knobs: dict[str, Any]) -> None:
        self.lock = threading.Lock()
        self._initial = knobs_mod.check(initial_knobs)
        self._run_id = secrets.randbelow(0xFFFF)
        self._seq = 0  # message-id sequence; survives reset() so ids stay unique
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.knobs: dict[str, Any] = knobs_mod.check(knobs_mod.defaults())
            self.knobs.update(copy.deepcopy(self._initial))
            self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
            self.messages: list[dict[str, Any]] = []
            self.tokens: dict[str, float] = {}  # access token -> monotonic expiry
            self.expired: set[str] = set()
            self.registered: dict[str, str] = {}  # /register: to -> callback_url
            self.number_urls: dict[str, str] = {}  # number/update: msisdn -> moHttpUrl
            self.owned: list[str] = list(self.knobs["virtual_numbers"])
            self.inbound: list[dict[str, Any]] = []  # injected MO messages with attempts
            self.dlrs: list[dict[str, Any]] = []  # DLRs with attempts
            self.script: deque[dict[str, Any]] = deque(self.knobs["script"])
            self.balance = Decimal(self.knobs["balance"])
            self.rng = random.Random(self.knobs["seed"])
            self._bucket: tuple[float, float] | None = None  # (tokens, last monotonic)
            self._quota_window = self._window_start()
            self.quota_used = 0

    def configure(self, **new: Any) -> None:
        checked = knobs_mod.check(new)
        with self.lock:
            self.knobs.update(checked)
            if "script" in checked:
                self.script = deque(checked["script"])
            if "balance" in checked:
                self.balance = Decimal(checked["balance"])
            if "seed" in checked:
                self.rng = random.Random(checked["seed"])
            if "virtual_numbers" in checked:
                self.owned = list(checked["virtual_numbers"])
            if "rate_limit" in checked or "rate_limit_burst" in checked:
                self._bucket = None

    def knob(self, name: str) -> Any:
        with self.lock:
            return self.knobs[name]

    def count(self, name: str, by: int = 1) -> None:
        with self.lock:
            self.counters[name] += by

    # tokens ------------------------------------------------------------------
    def issue_token(self) -> tuple[str, float]:
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(28))
        with self.lock:
            ttl = float(self.knobs["token_ttl"])
            self.tokens[token] = time.monotonic() + ttl
            self.counters["tokens_issued"] += 1
        return token, ttl

    def check_token(self, token: str) -> str | None:
        """None when valid, else "invalid" or "expired"."""
        with self.lock:
            expiry = self.tokens.get(token)
            if expiry is None:
                return "expired" if token in self.expired else "invalid"
            if time.monotonic() >= expiry:
                del self.tokens[token]
                self.expired.add(token)
                return "expired"
            return None

    def expire_tokens(self) -> int:
        with self.lock:
            n = len(self.tokens)
            self.expired.update(self.tokens)
            self.tokens.clear()
            return n

    # ids and money -------------------------------------------------------------
    def new_message_id(self) -> str:
        with self.lock:
            if self.knobs["message_id_format"] == "uuid":
                return str(uuid.uuid4())  # as Vonage now also issues: 36 characters
            self._seq += 1
            # 16 hex characters, like Vonage's "13000000..." ids, unique per emulator.
            return f"1{self._run_id:04X}{self._seq:011X}"

    def charge(self, parts: int) -> tuple[str, str] | None:
        """Charge `parts` SMS; (price per part, remaining balance), or None if too poor."""
        with self.lock:
            price = Decimal(self.knobs["price_per_part"])
            if self.balance < price * parts:
                return None
            self.balance -= price * parts
            return f"{price:.8f}", f"{self.balance:.8f}"

    # in-flight -----------------------------------------------------------------
    def enter(self) -> None:
        with self.lock:
            self.counters["in_flight"] += 1
            self.counters["peak_in_flight"] = max(
                self.counters["peak_in_flight"], self.counters["in_flight"]
            )

    def leave(self) -> None:
        with self.lock:
            self.counters["in_flight"] -= 1

    # rate limit and quota --------------------------------------------------------
    def take_rate_token(self) -> float | None:
        """None if the send may pass; else seconds until it could (token bucket)."""
        with self.lock:
            rate: float | None = self.knobs["rate_limit"]
            if rate is None:
                return None
            burst = float(self.knobs["rate_limit_burst"] or rate)
            now = time.monotonic()
            tokens, last = self._bucket if self._bucket else (burst, now)
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._bucket = (tokens - 1.0, now)
                return None
            self._bucket = (tokens, now)
            return (1.0 - tokens) / rate

    def _window_length(self) -> timedelta:
        unit = self.knobs["quota_time_unit"]
        n = self.knobs["quota_interval"]
        if unit == "second":
            return timedelta(seconds=n)
        days = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "month": 30}[unit]
        return timedelta(days=days * n)

    def _window_start(self) -> datetime:
        now = datetime.now(UTC).replace(microsecond=0)
        return now if self.knobs["quota_time_unit"] == "second" else now.replace(second=0)

    def use_quota(self) -> bool:
        """Count one API call against the quota; False when over the limit."""
        with self.lock:
            if datetime.now(UTC) >= self._quota_window + self._window_length():
                self._quota_window = self._window_start()
                self.quota_used = 0
            self.quota_used += 1
            limit: int = self.knobs["quota_limit"]
            return self.quota_used <= limit

    def quota_headers(self) -> dict[str, str]:
        with self.lock:
            reset = self._quota_window + self._window_length()
            return {
                "quota-limit": str(self.knobs["quota_limit"]),
                "quota-used": str(min(self.quota_used, self.knobs["quota_limit"])),
                "quota-interval": str(self.knobs["quota_interval"]),
                "quota-time-unit": self.knobs["quota_time_unit"],
                # Format UNCONFIRMED (facts §2.4): ISO 8601 UTC.
                "quota-reset-UTC": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "sunset": self.knobs["sunset"],
                "api-version": self.knobs["api_version"],
            }

    def seconds_to_quota_reset(self) -> float:
        with self.lock:
            reset = self._quota_window + self._window_length()
            return max(0.0, (reset - datetime.now(UTC)).total_seconds())

    # scripted answers --------------------------------------------------------------
    def next_script(self, path: str) -> dict[str, Any] | None:
        """Pop the next scripted answer that applies to `path` (counts down `count`)."""
        with self.lock:
            for entry in self.script:
                if knobs_mod.script_applies(entry, path):
                    entry["count"] -= 1
                    if entry["count"] <= 0:
                        self.script.remove(entry)
                    return dict(entry)
            return None

    def roll(self, rate_knob: str) -> bool:
        with self.lock:
            rate = float(self.knobs[rate_knob])
            return rate > 0 and self.rng.random() < rate

    def pick_error_status(self) -> int:
        with self.lock:
            return int(self.rng.choice(self.knobs["error_status"]))

    # snapshots for the public API ------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counters": dict(self.counters),
                "messages": copy.deepcopy(self.messages),
                "webhooks": {
                    "registered": dict(self.registered),
                    "numbers": dict(self.number_urls),
                },
                "inbound": copy.deepcopy(self.inbound),
                "dlrs": copy.deepcopy(self.dlrs),
                "balance": f"{self.balance:.8f}",
                "quota_used": self.quota_used,
                "script_left": len(self.script),
                "knobs": knobs_mod.public(self.knobs),
            }
