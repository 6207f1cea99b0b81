"""Append-only files with group commit: every writer waits until its bytes are fsynced, and
writers that arrive while a flush is on the disk share the next flush (one fsync for all).

Under a burst of inbound webhooks this turns one fsync per text into one per batch, without
ever answering before the data is durable.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from .files import open_private


def append_sync(path: Path, data: bytes) -> None:
    """Append and fsync (blocking); the file is created 0600 (it holds phone numbers) and
    a symlink in its place is refused, not followed."""
    fd = open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class GroupAppender:
    """`await append(data)` returns once `data` is on disk, or raises the OSError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._waiting: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0  # how many fsyncs it took (for tests and curiosity)

    async def append(self, data: bytes) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((data, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)  # a cancelled caller must not cancel others' flush

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(append_sync, self.path, b"".join(d for d, _ in batch))
            except OSError as err:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.flushes += 1
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
