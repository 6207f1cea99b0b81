"""De-duplication on messageId and reassembly of concatenated texts, in bounded memory."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import KpnValidationError
from .messages import InboundMessage, InboundPart


@dataclass
class _Pending:
    created: float
    total: int
    parts: dict[int, InboundPart]


class InboundAssembler:
    """De-duplicate inbound parts on messageId and join concatenated texts.

    ``feed(part)`` returns the completed message once (a single SMS at once, a long text when
    its last part arrives) and ``None`` for a redelivery or a part still waiting for others.
    Memory is bounded: at most ``max_seen`` remembered ids (least recently seen dropped first)
    and ``max_pending`` unfinished texts; an unfinished text older than ``ttl`` seconds, or
    pushed out by newer ones, is handed out incomplete by :meth:`take_expired` rather than
    silently dropped.
    """

    def __init__(
        self,
        max_pending: int = 256,
        ttl: float = 3600.0,
        *,
        max_seen: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1 or max_seen < 1 or ttl <= 0:
            raise KpnValidationError(
                "InboundAssembler: max_pending, max_seen and ttl must be positive",
                field="max_pending",
                value=max_pending,
            )
        self.max_pending = max_pending
        self.ttl = ttl
        self.max_seen = max_seen
        self._clock = clock
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._pending: OrderedDict[tuple[str, str, str], _Pending] = OrderedDict()
        self._expired: list[InboundMessage] = []
        self.duplicates = 0
        self.completed = 0

    # -- public

    def feed(self, part: InboundPart) -> InboundMessage | None:
        self._expire(self._clock())
        if self.seen(part.message_id):
            self.duplicates += 1
            self._seen.move_to_end(part.message_id)
            return None
        self._remember(part.message_id)
        if not part.is_part:
            self.completed += 1
            return InboundMessage.from_part(part)
        key = self._key(part)
        pending = self._pending.get(key)
        if pending is None:
            pending = _Pending(self._clock(), part.concat_total or 1, {})
            self._pending[key] = pending
            self._bound()
        part_no = part.concat_part or 1
        if part_no in pending.parts:
            # Same part again under a new messageId (a carrier resend): keep the first.
            self.duplicates += 1
            return None
        pending.parts[part_no] = part
        if len(pending.parts) < pending.total:
            return None
        del self._pending[key]
        self.completed += 1
        return InboundMessage.join(pending.parts.values(), pending.total)

    def retract(self, part: InboundPart, message: InboundMessage | None = None) -> None:
        """Undo ``feed(part)``: the host could not store the result and will answer an error,
        so the sender's redelivery of ``part`` must be accepted (and complete ``message``) again.
        """
        self._seen.pop(part.message_id, None)
        if message is None or not part.is_part:
            return
        others = {p.concat_part or 1: p for p in message.parts if p.message_id != part.message_id}
        if others:
            self._pending[self._key(part)] = _Pending(self._clock(), message.total_parts, others)
            self.completed -= 1

    def seen(self, message_id: str) -> bool:
        return message_id in self._seen

    def mark_seen(self, message_ids: Iterable[str]) -> None:
        """Remember ids accepted earlier (e.g. read back from a host's store after a restart)."""
        for message_id in message_ids:
            self._remember(message_id)

    def take_expired(self) -> list[InboundMessage]:
        """Unfinished texts given up on since the last call, joined as far as they got."""
        self._expire(self._clock())
        expired, self._expired = self._expired, []
        return expired

    def pending_parts(self) -> list[InboundPart]:
        """Parts still waiting for the rest of their text (for a host to persist)."""
        return [p for pending in self._pending.values() for p in pending.parts.values()]

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def seen_count(self) -> int:
        return len(self._seen)

    # -- internals

    @staticmethod
    def _key(part: InboundPart) -> tuple[str, str, str]:
        return (part.msisdn, part.to, part.concat_ref or "")

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        self._seen.move_to_end(message_id)
        while len(self._seen) > self.max_seen:
            self._seen.popitem(last=False)

    def _give_up(self, key: tuple[str, str, str]) -> None:
        pending = self._pending.pop(key)
        self._expired.append(InboundMessage.join(pending.parts.values(), pending.total))
        # Bound the hand-out list too, in case a host never calls take_expired().
        del self._expired[: -self.max_pending]

    def _bound(self) -> None:
        while len(self._pending) > self.max_pending:
            self._give_up(next(iter(self._pending)))

    def _expire(self, now: float) -> None:
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if now - pending.created < self.ttl:
                break
            self._give_up(key)
