"""The storm cap: at most `cap` texts per recipient per window; the rest is held back and
summed up in one digest text when the window ends.

A recipient's window opens with its first text and lasts `window` seconds. No I/O and no
waiting: the caller asks `admit()` before each text and `due()` for the digests to send. Not
thread-safe on its own: `SendGuard` holds the lock around it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

DIGEST_LAST_MAX = 100  # characters of the last held-back text quoted in a digest


@dataclass(slots=True)
class _Window:
    start: float
    sent: int = 0
    held: int = 0
    held_since: float = 0.0
    last: str = ""
    last_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Digest:
    """The one text that stands for those held back from `recipient` in one window."""

    recipient: str
    held: int
    since: float  # when the first of them was held back (epoch seconds)
    last: str
    fields: dict[str, Any] = field(repr=False)  # the send fields of the last one (its sender)

    @property
    def text(self) -> str:
        since = time.strftime("%H:%M", time.localtime(self.since))
        last = (
            self.last if len(self.last) <= DIGEST_LAST_MAX else self.last[:DIGEST_LAST_MAX] + "..."
        )
        word = "alert" if self.held == 1 else "alerts"
        return f"{self.held} more {word} since {since}, last: {last}"


class StormCap:
    """Per-recipient windows. `cap` 0 lets everything through."""

    def __init__(self, *, cap: int, window: float) -> None:
        self.cap = cap
        self.window = window
        self._windows: dict[str, _Window] = {}
        self._ready: list[Digest] = []

    def admit(self, recipient: str, text: str, fields: dict[str, Any], now: float) -> bool:
        """True: send it (counted). False: held back for the window's digest."""
        if self.cap <= 0:
            return True
        win = self._windows.get(recipient)
        if win is None or now >= win.start + self.window:
            if win is not None:
                self._close(recipient, win)
            win = self._windows[recipient] = _Window(start=now)
        if win.sent < self.cap:
            win.sent += 1
            return True
        if not win.held:
            win.held_since = now
        win.held += 1
        win.last, win.last_fields = text, fields
        return False

    def due(self, now: float) -> list[Digest]:
        """The digests of windows that have ended; forgets those windows."""
        for recipient, win in list(self._windows.items()):
            if now >= win.start + self.window:
                self._close(recipient, win)
        ready, self._ready = self._ready, []
        return ready

    def next_due(self, now: float) -> float | None:
        """Seconds until the first window with held-back texts ends, or None."""
        ends = [w.start + self.window for w in self._windows.values() if w.held]
        if self._ready:
            return 0.0
        return max(0.0, min(ends) - now) if ends else None

    def _close(self, recipient: str, win: _Window) -> None:
        del self._windows[recipient]
        if win.held:
            self._ready.append(
                Digest(recipient, win.held, win.held_since, win.last, win.last_fields)
            )
