"""Token reuse: the token requests made by 100 concurrent notifications on one fresh client
(async: 100 `send()` tasks at once; sync: 100 threads), counted by the emulator and the
client. The naive script's figure is one token per message by construction; it is measured
in the fan-out (token_requests at N=100)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import peers
from .emulator_proc import EmulatorProcess, delta

COUNTERS = ("token_requests", "send_requests", "accepted", "http_429", "status_1")


def run_tokens(emu: EmulatorProcess, notifications: int) -> dict[str, Any]:
    from kpn_sms_notify import KpnSms, KpnSmsSync, validate_config

    config = validate_config(peers.ours_config(emu.url))
    recipients = peers.numbers(notifications)
    out: dict[str, Any] = {"notifications": notifications}

    async def async_case() -> int:
        async with KpnSms.from_config(config) as sms:
            reports = await asyncio.gather(
                *(sms.send(peers.TEXT, [n], title=peers.TITLE) for n in recipients)
            )
            if not all(r.ok for r in reports):
                raise RuntimeError("token bench: a notification failed")
            return sms.token_requests

    def sync_case() -> int:
        with KpnSmsSync.from_config(config) as sms, ThreadPoolExecutor(notifications) as pool:
            reports = list(
                pool.map(lambda n: sms.send(peers.TEXT, [n], title=peers.TITLE), recipients)
            )
            if not all(r.ok for r in reports):
                raise RuntimeError("token bench: a notification failed")
            return sms.token_requests

    def run_async() -> int:
        return asyncio.run(async_case())

    cases: tuple[tuple[str, Callable[[], int]], ...] = (("async", run_async), ("sync", sync_case))
    for name, case in cases:
        emu.reset()
        before = emu.counters()
        started = time.perf_counter()
        client_count = case()
        elapsed = time.perf_counter() - started
        counts = delta(before, emu.counters(), *COUNTERS)
        out[name] = {
            "token_requests": counts["token_requests"],
            "client_token_requests": client_count,
            "accepted": counts["accepted"],
            "throttled": counts["http_429"] + counts["status_1"],
            "elapsed": round(elapsed, 3),
        }
        time.sleep(1.1)
    return out
