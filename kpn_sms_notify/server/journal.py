"""What inbound state survives a restart.

Two sources, either enough on its own:
- the JSONL sink, when configured: every inbound text and receipt handed out is in it, so
  its message ids and receipt keys are read back as "seen";
- the journal in `state_dir` (`inbound-journal.jsonl`): parts of long texts still waiting
  for the rest (answered 200, so KPN will not send them again), plus the ids handed out.

The journal is bounded: it is rewritten with only what is still live (the waiting parts,
the last `keep_ids` ids and receipts) at start and whenever it grows past twice that size
(and past `min_compact_bytes`). At start it is read back line by line, never whole: a line
longer than `max_line_bytes` or unreadable is skipped with a warning, and at most
`max_part_bytes` of waiting parts are kept (the newest; the reassembler's byte bound), so a
restart never loads more than that, whatever the file holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inbound import InboundPart
from ..inbound.assembler import DEFAULT_MAX_BYTES, part_size
from ..textclean import escape_surrogates
from .appendlog import GroupAppender
from .files import ensure_private_dir, read_private, replace_private
from .sinks import read_jsonl

JOURNAL_NAME = "inbound-journal.jsonl"
MAX_LINE_BYTES = 1024 * 1024  # one part is at most ~50 KB; a longer line is not ours
MIN_COMPACT_BYTES = 1024 * 1024

_LOGGER = logging.getLogger("kpn_sms_notify.server")


def receipt_key(record: dict[str, Any]) -> str:
    """The identity of one receipt: a part's id and the status it reports."""
    return f"{record.get('message_id')}:{record.get('status')}:{record.get('err_code')}"


@dataclass
class Recovered:
    seen_ids: list[str] = field(default_factory=list)
    pending_parts: list[InboundPart] = field(default_factory=list)
    receipt_keys: list[str] = field(default_factory=list)


def recover_from_sink(path: Path, into: Recovered, *, keep: int = 10_000) -> None:
    """The last ``keep`` inbound ids and receipt keys in the JSONL sink (read streaming)."""
    ids: OrderedDict[str, None] = OrderedDict()
    receipts: OrderedDict[str, None] = OrderedDict()
    for record in read_jsonl(path):
        if record.get("kind") == "inbound":
            for i in record.get("message_ids") or []:
                if isinstance(i, str | int):
                    _push(ids, str(i), keep)
        elif record.get("kind") == "delivery":
            _push(receipts, receipt_key(record), keep)
    into.seen_ids.extend(ids)
    into.receipt_keys.extend(receipts)


def _push(window: OrderedDict[str, None], key: str, keep: int) -> None:
    window[key] = None
    window.move_to_end(key)
    if len(window) > keep:
        window.popitem(last=False)


_TEXT_FIELDS = ("msisdn", "to", "message_id", "text", "type")
_INT_FIELDS = ("timestamp", "concat_total", "concat_part")


def _well_typed(part: InboundPart) -> bool:
    """A part as this module writes them (a hand-edited or foreign line may not be)."""
    values = part.to_dict()
    return (
        all(isinstance(values[k], str) for k in _TEXT_FIELDS)
        and all(
            values[k] is None or isinstance(values[k], str)
            for k in values
            if k not in _TEXT_FIELDS and k not in _INT_FIELDS and k != "concat"
        )
        and all(
            values[k] is None or (isinstance(values[k], int) and not isinstance(values[k], bool))
            for k in _INT_FIELDS
        )
        and isinstance(part.concat, bool)
    )


def _line(record: dict[str, Any]) -> bytes:
    # Lone surrogates (a split emoji waiting for its other half) become \\udXXX escapes.
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return (escape_surrogates(text) + "\n").encode("utf-8")


class Journal:
    """Append-only, fsynced journal of inbound state; None path means memory only.

    ``live_parts`` gives the parts still waiting (the reassembler's), for compaction.
    """

    def __init__(
        self,
        state_dir: Path | None,
        *,
        live_parts: Callable[[], list[InboundPart]] = list,
        keep_ids: int = 10_000,
        max_part_bytes: int = DEFAULT_MAX_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
        min_compact_bytes: int = MIN_COMPACT_BYTES,
    ) -> None:
        self.path: Path | None = None
        self.keep_ids = keep_ids
        self.max_part_bytes = max_part_bytes
        self.max_line_bytes = max_line_bytes
        self.min_compact_bytes = min_compact_bytes
        self.compactions = 0
        self._live_parts = live_parts
        self._log: GroupAppender | None = None
        self._done: OrderedDict[str, None] = OrderedDict()
        self._receipts: OrderedDict[str, None] = OrderedDict()
        self._size = 0  # bytes in the file now
        self._live_size = 0  # bytes after the last rewrite
        self._writers = 0
        self._idle = asyncio.Event()
        self._compacting: asyncio.Event | None = None
        self._kept: dict[int, Iterable[InboundPart]] = {}
        if state_dir is not None:
            ensure_private_dir(state_dir)
            self.path = state_dir / JOURNAL_NAME
            self._log = GroupAppender(self.path)

    @property
    def size(self) -> int:
        """Bytes in the journal file (as written by this process)."""
        return self._size

    # -- start

    def recover(self, into: Recovered) -> None:
        """Read the journal back (streaming, bounded), then rewrite it holding only what is
        still needed. Ids already in ``into.seen_ids`` (from the sink) count as handed out."""
        if self.path is None:
            return
        for record in self._records():
            if "done" in record and isinstance(record["done"], list):
                for i in record["done"]:
                    _push(self._done, str(i), self.keep_ids)
            elif "receipt" in record:
                _push(self._receipts, str(record["receipt"]), self.keep_ids)
        handed_out = set(self._done) | set(into.seen_ids)
        parts: OrderedDict[str, InboundPart] = OrderedDict()
        held = dropped = 0
        for record in self._records():
            if "part" not in record:
                continue
            try:
                part = InboundPart.from_dict(record["part"])
            except (TypeError, ValueError, KeyError):
                continue  # a record from a newer or broken writer: skip it, keep the rest
            if not _well_typed(part):
                continue
            if part.message_id in handed_out or part.message_id in parts:
                continue
            parts[part.message_id] = part
            held += part_size(part)
            while held > self.max_part_bytes:
                _, oldest = parts.popitem(last=False)
                held -= part_size(oldest)
                dropped += 1
        if dropped:
            _LOGGER.warning(
                "inbound journal: %d waiting part(s) over the %d-byte bound dropped at start "
                "(the oldest)",
                dropped,
                self.max_part_bytes,
            )
        into.seen_ids.extend(self._done)
        into.receipt_keys.extend(self._receipts)
        into.pending_parts.extend(parts.values())
        self._rewrite(self._snapshot(list(parts.values())))

    def _records(self) -> Iterator[dict[str, Any]]:
        """The journal's records, one line at a time; bad or oversized lines skipped."""
        assert self.path is not None
        fd = read_private(self.path)  # a symlink is refused, not followed
        if fd is None:
            return
        skipped = 0
        with os.fdopen(fd, "rb") as handle:
            while True:
                raw = handle.readline(self.max_line_bytes + 1)
                if not raw:
                    break
                if len(raw) > self.max_line_bytes:
                    skipped += 1
                    while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                        raw = handle.readline(self.max_line_bytes)
                    continue
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError):  # torn after a crash, not UTF-8, junk
                    skipped += 1
                    continue
                if isinstance(record, dict):
                    yield record
        if skipped:
            _LOGGER.warning("inbound journal: %d unreadable or oversized line(s) skipped", skipped)

    @contextmanager
    def keeping(self, parts: Iterable[InboundPart]) -> Iterator[None]:
        """Keep ``parts`` in any rewrite meanwhile: they left the reassembler, but their text
        is not stored yet (a host wraps the hand-out to its sinks in this)."""
        token = object()
        self._kept[id(token)] = parts
        try:
            yield
        finally:
            del self._kept[id(token)]

    # -- appends

    async def part(self, part: InboundPart) -> None:
        await self._append({"part": part.to_dict()})

    async def done(self, message_ids: Iterable[str]) -> None:
        ids = list(message_ids)
        for message_id in ids:
            _push(self._done, message_id, self.keep_ids)
        await self._append({"done": ids})

    async def receipt(self, key: str) -> None:
        _push(self._receipts, key, self.keep_ids)
        await self._append({"receipt": key})

    async def _append(self, record: dict[str, Any]) -> None:
        if self._log is None:
            return
        while self._compacting is not None:  # a rewrite is replacing the file: wait for it
            await self._compacting.wait()
        data = _line(record)
        self._writers += 1
        try:
            await self._log.append(data)
        finally:
            self._writers -= 1
            if not self._writers:
                self._idle.set()
        self._size += len(data)
        if self._size > max(2 * self._live_size, self.min_compact_bytes):
            await self.compact()

    async def compact(self) -> None:
        """Rewrite the file with only what is live, once the appends in flight are on disk.

        Appends arriving meanwhile wait; what they record is already in the snapshot (the
        state changed before they appended), so at worst a line is written twice.
        """
        if self._log is None or self._compacting is not None:
            return
        done = self._compacting = asyncio.Event()
        try:
            while self._writers:
                self._idle.clear()
                await self._idle.wait()
            live = {p.message_id: p for p in self._live_parts()}
            for parts in self._kept.values():
                live.update((p.message_id, p) for p in parts)
            lines = self._snapshot(list(live.values()))
            await asyncio.to_thread(self._rewrite, lines)
            self.compactions += 1
        finally:
            self._compacting = None
            done.set()

    # -- internals

    def _snapshot(self, parts: list[InboundPart]) -> list[bytes]:
        lines = [_line({"part": p.to_dict()}) for p in parts]
        done = list(self._done)
        lines += [_line({"done": done[i : i + 1000]}) for i in range(0, len(done), 1000)]
        lines += [_line({"receipt": k}) for k in self._receipts]
        return lines

    def _rewrite(self, lines: list[bytes]) -> None:
        """Replace the file atomically (a fresh 0600 file, not followed through a link)."""
        assert self.path is not None
        replace_private(self.path, b"".join(lines))
        self._size = self._live_size = sum(len(line) for line in lines)
