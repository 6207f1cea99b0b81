"""What inbound state survives a restart.

Two sources, either enough on its own:
- the JSONL sink, when configured: every inbound text and receipt handed out is in it, so
  its message ids and receipt keys are read back as "seen";
- the journal in `state_dir` (`inbound-journal.jsonl`): parts of long texts still waiting
  for the rest (answered 200, so KPN will not send them again), plus the ids handed out.

The journal is rewritten at start with only what is still needed, so it stays small.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inbound import InboundPart
from .appendlog import GroupAppender
from .files import ensure_private_dir, replace_private
from .sinks import read_jsonl

JOURNAL_NAME = "inbound-journal.jsonl"


def receipt_key(record: dict[str, Any]) -> str:
    """The identity of one receipt: a part's id and the status it reports."""
    return f"{record.get('message_id')}:{record.get('status')}:{record.get('err_code')}"


@dataclass
class Recovered:
    seen_ids: list[str] = field(default_factory=list)
    pending_parts: list[InboundPart] = field(default_factory=list)
    receipt_keys: list[str] = field(default_factory=list)


def recover_from_sink(path: Path, into: Recovered) -> None:
    for record in read_jsonl(path):
        if record.get("kind") == "inbound":
            ids = record.get("message_ids") or []
            into.seen_ids.extend(str(i) for i in ids if isinstance(i, str | int))
        elif record.get("kind") == "delivery":
            into.receipt_keys.append(receipt_key(record))


class Journal:
    """Append-only, fsynced journal of inbound state; None path means memory only."""

    def __init__(self, state_dir: Path | None, *, keep_ids: int = 10_000) -> None:
        self.path: Path | None = None
        self.keep_ids = keep_ids
        self._log: GroupAppender | None = None
        if state_dir is not None:
            ensure_private_dir(state_dir)
            self.path = state_dir / JOURNAL_NAME
            self._log = GroupAppender(self.path)

    def recover(self, into: Recovered) -> None:
        """Read the journal back, then rewrite it holding only what is still needed."""
        if self.path is None:
            return
        done: dict[str, None] = {}
        receipts: dict[str, None] = {}
        parts: dict[str, InboundPart] = {}
        for record in read_jsonl(self.path):
            try:
                if "part" in record:
                    part = InboundPart.from_dict(record["part"])
                    parts[part.message_id] = part
                elif "done" in record:
                    done.update(dict.fromkeys(str(i) for i in record["done"]))
                elif "receipt" in record:
                    receipts[str(record["receipt"])] = None
            except (TypeError, ValueError, KeyError):
                continue  # a record from a newer or broken writer: skip it, keep the rest
        # Ids read from the JSONL sink count as handed out too (serve then skips "done" lines).
        handed_out = done.keys() | set(into.seen_ids)
        pending = [p for p in parts.values() if p.message_id not in handed_out]
        into.seen_ids.extend(done)
        into.receipt_keys.extend(receipts)
        into.pending_parts.extend(pending)
        kept_done = list(done)[-self.keep_ids :]
        kept_receipts = list(receipts)[-self.keep_ids :]
        lines: list[dict[str, Any]] = [{"part": p.to_dict()} for p in pending]
        lines += [{"done": kept_done}] if kept_done else []
        lines += [{"receipt": k} for k in kept_receipts]
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        replace_private(self.path, text.encode("utf-8"))

    async def part(self, part: InboundPart) -> None:
        await self._append({"part": part.to_dict()})

    async def done(self, message_ids: Iterable[str]) -> None:
        await self._append({"done": list(message_ids)})

    async def receipt(self, key: str) -> None:
        await self._append({"receipt": key})

    async def _append(self, record: dict[str, Any]) -> None:
        if self._log is None:
            return
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        await self._log.append(line.encode("utf-8"))
