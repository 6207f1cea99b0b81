"""Pace requests: at most `rate` a second, evenly spaced, shared by every concurrent send.

Spacing (rather than bursts) keeps any one-second window under the account's limit, which
Vonage enforces per second. A throttle answer pauses everyone, not just the task that saw it.
"""

from __future__ import annotations

import asyncio
import threading
import time


class _Schedule:
    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = 0.0

    def claim(self, now: float) -> float:
        """Reserve the next free slot; return how long to wait for it."""
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        return slot - now

    def pause(self, now: float, seconds: float) -> None:
        self.next_slot = max(self.next_slot, now + seconds)


class AsyncRateLimiter:
    def __init__(self, rate: float) -> None:
        self._schedule = _Schedule(rate)

    async def acquire(self) -> None:
        # No await between reading and claiming the slot, so no lock is needed.
        delay = self._schedule.claim(time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        self._schedule.pause(time.monotonic(), seconds)


class SyncRateLimiter:
    def __init__(self, rate: float) -> None:
        self._schedule = _Schedule(rate)
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            delay = self._schedule.claim(time.monotonic())
        if delay > 0:
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._schedule.pause(time.monotonic(), seconds)
