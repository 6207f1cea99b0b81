"""Who was already texted for which notification: the de-duplication window.

Keyed on (notification identity, recipient). A recipient is marked once KPN accepted the
text or refused it for good; a transient failure is not marked, so the sender's retry
texts exactly those still owed. Entries live for `window` seconds; memory is bounded.

With a state file the marks survive a restart: one JSON line per mark, fsynced, holding
only a hash of identity and number (no phone numbers on disk), compacted on start and
whenever dead lines pile up.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from ..numbers import wire_number
from .files import ensure_private_dir, open_private, read_private, replace_private

_LOGGER = logging.getLogger(__name__)


def _key(identity: str, recipient: str) -> str:
    # The number's digits without "+": state files written before numbers carried a "+"
    # still match.
    number = wire_number(recipient)
    return hashlib.sha256(f"{identity}\0{number}".encode()).hexdigest()[:32]


class SentLog:
    """The window of (identity, recipient) pairs already dealt with."""

    def __init__(
        self,
        window: float,
        *,
        max_entries: int = 100_000,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window = window
        self.max_entries = max_entries
        self.path = path
        self._clock = clock
        self._marks: OrderedDict[str, float] = OrderedDict()  # key -> when, oldest first
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._lines = 0
        self._file_lock = asyncio.Lock()
        if path is not None:
            self._load(path)

    # -- queries and marks

    def done(self, identity: str, recipient: str) -> bool:
        self._expire()
        return _key(identity, recipient) in self._marks

    def pending(self, identity: str, recipients: Iterable[str]) -> list[str]:
        """The recipients not yet texted for this notification, in order."""
        return [r for r in recipients if not self.done(identity, r)]

    async def mark(self, identity: str, recipients: Iterable[str]) -> None:
        """Mark recipients as dealt with; with a state file, returns once it is on disk."""
        now = self._clock()
        keys = [_key(identity, r) for r in recipients]
        for key in keys:
            self._marks[key] = now
            self._marks.move_to_end(key)
        while len(self._marks) > self.max_entries:
            self._marks.popitem(last=False)
        if self.path is not None and keys:
            self._lines += len(keys)
            snapshot = None
            if self._lines > max(1000, 4 * len(self._marks)):
                self._expire()
                snapshot = list(self._marks.items())  # taken on the loop: no race with marks
                self._lines = len(snapshot)
            async with self._file_lock:  # fsync off the event loop, one writer at a time
                await asyncio.to_thread(self._write, keys, now, snapshot)

    def __len__(self) -> int:
        self._expire()
        return len(self._marks)

    @asynccontextmanager
    async def lock(self, identity: str) -> AsyncIterator[None]:
        """Serialise concurrent deliveries of one notification (a retry racing the first)."""
        lock = self._locks.setdefault(identity, asyncio.Lock())
        self._users[identity] = self._users.get(identity, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[identity] -= 1
            if not self._users[identity]:
                del self._users[identity]
                del self._locks[identity]

    # -- internals

    def _expire(self) -> None:
        if self.window <= 0:
            self._marks.clear()
            return
        limit = self._clock() - self.window
        while self._marks:
            key, when = next(iter(self._marks.items()))
            if when >= limit:
                break
            del self._marks[key]

    def _write(self, keys: list[str], now: float, snapshot: list[tuple[str, float]] | None) -> None:
        assert self.path is not None
        if snapshot is not None:
            _rewrite(self.path, snapshot)
            return
        lines = "".join(json.dumps({"k": k, "t": round(now, 3)}) + "\n" for k in keys)
        fd = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def _load(self, path: Path) -> None:
        ensure_private_dir(path.parent)
        fd = read_private(path)
        if fd is not None:
            with os.fdopen(fd, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                        self._marks[str(record["k"])] = float(record["t"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line after a crash
            # Lines were appended in time order; restore that order for expiry.
            self._marks = OrderedDict(sorted(self._marks.items(), key=lambda kv: kv[1]))
        self._expire()
        self._compact()
        _LOGGER.info("de-duplication state: %d live entries from %s", len(self._marks), path)

    def _compact(self) -> None:
        assert self.path is not None
        self._expire()
        _rewrite(self.path, list(self._marks.items()))
        self._lines = len(self._marks)


def _rewrite(path: Path, items: list[tuple[str, float]]) -> None:
    """Replace the file atomically with these entries."""
    text = "".join(json.dumps({"k": key, "t": round(when, 3)}) + "\n" for key, when in items)
    replace_private(path, text.encode("utf-8"))
