"""Where inbound texts and delivery receipts go: a JSONL file, stdout, a forward URL.

Every sink either stores the record or raises SinkError; the inbound endpoint answers 200
only after all of them succeeded, so KPN's redelivery covers a failed sink. A record that a
sink already took is not given to it again on that redelivery (per-record bookkeeping).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from .appendlog import GroupAppender
from .config import ForwardSinkConfig, ServeConfig
from .files import ensure_parent, open_private, read_private, readable_by_all

_LOGGER = logging.getLogger(__name__)


class SinkError(Exception):
    """A sink could not take a record; the message says which and why (one line)."""


class Sink(Protocol):
    name: str

    async def write(self, record: Mapping[str, Any]) -> None: ...

    async def close(self) -> None: ...


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


class JsonlSink:
    """Append-only JSON Lines file; each record is fsynced before write() returns."""

    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_parent(path)
        mode = readable_by_all(path)
        if mode is not None:  # made so by someone else: new files are created 0600
            _LOGGER.warning(
                "jsonl sink %s is readable by every user (mode %04o) and holds phone numbers "
                "and texts: chmod 600 it",
                path,
                mode,
            )
        _repair_tail(path)
        self._log = GroupAppender(path)

    async def write(self, record: Mapping[str, Any]) -> None:
        try:
            await self._log.append(_line(record).encode("utf-8"))
        except OSError as err:
            raise SinkError(f"jsonl sink {self.path}: {err.strerror or err}") from None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first (for recovery after a restart)."""
        return read_jsonl(self.path)

    async def close(self) -> None:
        return None


class StdoutSink:
    """One JSON line per record on standard output (for journald or a pipe)."""

    name = "stdout"

    async def write(self, record: Mapping[str, Any]) -> None:
        try:
            sys.stdout.write(_line(record))
            sys.stdout.flush()
        except (OSError, ValueError) as err:
            raise SinkError(f"stdout sink: {err}") from None

    async def close(self) -> None:
        return None


MAX_FORWARD_ANSWER = 64 * 1024  # bytes of the forward URL's answer read at most


class ForwardSink:
    """POST each record as JSON to a URL (e.g. a Home Assistant webhook); 2xx is success."""

    name = "forward"

    def __init__(self, config: ForwardSinkConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def write(self, record: Mapping[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout)
            )
        where = _safe_url(self.config.url)
        try:
            # No redirects: a 3xx must not carry the record (and the headers) elsewhere.
            async with self._session.post(
                self.config.url,
                json=dict(record),
                headers=dict(self.config.headers),
                allow_redirects=False,
            ) as response:
                await response.content.read(MAX_FORWARD_ANSWER)  # the rest is not read
                if 300 <= response.status < 400:
                    raise SinkError(
                        f"forward sink {where}: HTTP {response.status} (redirects are not "
                        "followed; set the final URL)"
                    )
                if not 200 <= response.status < 300:
                    raise SinkError(f"forward sink {where}: HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as err:
            raise SinkError(f"forward sink {where}: {type(err).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _safe_url(url: str) -> str:
    """Scheme, host and port only: a webhook path is often itself a secret."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/..."


def build_sinks(config: ServeConfig) -> list[Sink]:
    sinks: list[Sink] = []
    if config.jsonl is not None:
        sinks.append(JsonlSink(config.jsonl))
    if config.stdout:
        sinks.append(StdoutSink())
    if config.forward is not None:
        sinks.append(ForwardSink(config.forward))
    return sinks


class SinkSet:
    """Hand a record to every sink, skipping sinks that already took it (by record key)."""

    def __init__(self, sinks: list[Sink], *, remember: int = 10_000) -> None:
        self.sinks = sinks
        self._done: OrderedDict[str, set[str]] = OrderedDict()
        self._remember = remember

    async def deliver(self, key: str, record: Mapping[str, Any]) -> None:
        done = self._done.setdefault(key, set())
        self._done.move_to_end(key)
        while len(self._done) > self._remember:
            self._done.popitem(last=False)
        for sink in self.sinks:
            if sink.name in done:
                continue
            await sink.write(record)
            done.add(sink.name)
        self._done.pop(key, None)  # all took it; the assembler remembers the id from now on

    def jsonl(self) -> JsonlSink | None:
        return next((s for s in self.sinks if isinstance(s, JsonlSink)), None)

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    fd = read_private(path)  # a symlink is refused (OSError), not read through
    if fd is None:
        return
    with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn line from a crash mid-write
            if isinstance(record, dict):
                yield record


def _repair_tail(path: Path) -> None:
    """After a crash mid-write the file may end without a newline; end it, so the next
    record starts on a line of its own (the torn line is skipped when read back)."""
    try:
        with os.fdopen(open_private(path, os.O_RDWR), "rb+") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
                handle.flush()
                os.fsync(handle.fileno())
    except FileNotFoundError:
        return
    except OSError as err:
        _LOGGER.warning("jsonl sink %s: cannot check the file's end: %s", path, err.strerror)
