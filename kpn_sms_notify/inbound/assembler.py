"""De-duplication on messageId and reassembly of concatenated texts, in bounded memory."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import KpnValidationError
from ..numbers import mask_number
from .messages import InboundMessage, InboundPart
from .signatures import DEFAULT_MAX_SKEW

_LOGGER = logging.getLogger(__name__)

_PART_OVERHEAD = 1024  # bytes a held part costs besides its text (measured: ~1.1 KB in all)

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_PARTS_PER_SENDER = 64
DEFAULT_MAX_PENDING = 256
_SEEN_HARD_FACTOR = 5  # ids younger than seen_for stay until max_seen times this


def part_size(part: InboundPart) -> int:
    """What holding ``part`` costs, in bytes: its strings as UTF-8 plus a fixed overhead."""
    size = _PART_OVERHEAD
    for value in (
        part.msisdn,
        part.to,
        part.message_id,
        part.text,
        part.keyword,
        part.message_timestamp,
        part.nonce,
        part.concat_ref,
        part.data,
        part.udh,
        part.api_key,
        part.type,
    ):
        if value:
            size += len(value.encode("utf-8", "surrogatepass"))
    return size


Key = tuple[str, str, str]


@dataclass
class _Pending:
    created: float
    total: int
    parts: dict[int, InboundPart]
    size: int = 0


@dataclass
class _Sender:
    parts: int = 0
    size: int = 0
    texts: OrderedDict[Key, None] = field(default_factory=OrderedDict)  # oldest first


class InboundAssembler:
    """De-duplicate inbound parts on messageId and join concatenated texts.

    ``feed(part)`` returns the completed message once (a single SMS at once, a long text when
    its last part arrives) and ``None`` for a redelivery or a part still waiting for others.

    Memory is bounded, in count and in bytes:

    - at most ``max_seen`` remembered ids (least recently seen dropped first), except that
      an id is kept for at least ``seen_for`` seconds (the replay window of signed calls,
      see ``signatures``) up to five times ``max_seen``;
    - at most ``max_pending`` unfinished texts and ``max_bytes`` held in their parts (see
      :func:`part_size`), over all senders;
    - at most ``max_parts_per_sender`` held parts per sender (``msisdn``), so one sender's
      flood of new concat references pushes out only that sender's own oldest texts; over
      a global bound, the sender holding the most texts (or bytes) gives up its oldest.

    An unfinished text older than ``ttl`` seconds, or pushed out by a bound, is handed out
    incomplete by :meth:`take_expired` rather than silently dropped; one pushed out by a
    bound is also logged (number masked). The hand-out list is bounded the same way; a host
    drains it on every call (serve and Home Assistant do), so in practice nothing is lost.
    """

    def __init__(
        self,
        max_pending: int = DEFAULT_MAX_PENDING,
        ttl: float = 3600.0,
        *,
        max_seen: int = 10_000,
        seen_for: float = DEFAULT_MAX_SKEW,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_parts_per_sender: int = DEFAULT_MAX_PARTS_PER_SENDER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        limits = {
            "max_pending": max_pending,
            "max_seen": max_seen,
            "max_bytes": max_bytes,
            "max_parts_per_sender": max_parts_per_sender,
            "ttl": ttl,
        }
        for name, value in limits.items():
            if value <= 0:
                raise KpnValidationError(
                    f"InboundAssembler: {name} must be positive, not {value!r}",
                    field=name,
                    value=value,
                )
        self.max_pending = max_pending
        self.ttl = ttl
        self.max_seen = max_seen
        self.seen_for = seen_for
        self.max_bytes = max_bytes
        self.max_parts_per_sender = max_parts_per_sender
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> when, oldest first
        self._pending: OrderedDict[Key, _Pending] = OrderedDict()
        self._senders: dict[str, _Sender] = {}
        self._held_bytes = 0
        self._expired: list[InboundMessage] = []
        self._expired_bytes = 0
        self.duplicates = 0
        self.completed = 0
        self.evicted = 0  # unfinished texts pushed out by a bound (not by age)

    # -- public

    def feed(self, part: InboundPart) -> InboundMessage | None:
        self._expire(self._clock())
        if self.seen(part.message_id):
            self.duplicates += 1
            self._remember(part.message_id)
            return None
        self._remember(part.message_id)
        if not part.is_part:
            self.completed += 1
            return InboundMessage.from_part(part)
        key = self._key(part)
        pending = self._pending.get(key)
        part_no = part.concat_part or 1
        if pending is not None and part_no in pending.parts:
            # Same part again under a new messageId (a carrier resend): keep the first.
            self.duplicates += 1
            return None
        if pending is None:
            pending = _Pending(self._clock(), part.concat_total or 1, {})
            self._pending[key] = pending
            self._senders.setdefault(part.msisdn, _Sender()).texts[key] = None
        self._add(key, pending, part_no, part)
        if len(pending.parts) >= pending.total:
            self._drop(key)
            self.completed += 1
            return InboundMessage.join(pending.parts.values(), pending.total)
        self._bound(key)
        return None

    def retract(self, part: InboundPart, message: InboundMessage | None = None) -> None:
        """Undo ``feed(part)``: the host could not store the result and will answer an error,
        so the sender's redelivery of ``part`` must be accepted (and complete ``message``) again.
        """
        self._seen.pop(part.message_id, None)
        if not part.is_part:
            return
        key = self._key(part)
        if message is None:
            pending = self._pending.get(key)
            if pending is not None and pending.parts.get(part.concat_part or 1) is part:
                self._remove_part(key, pending, part.concat_part or 1)
            return
        others = [p for p in message.parts if p.message_id != part.message_id]
        if others and key not in self._pending:
            pending = _Pending(self._clock(), message.total_parts, {})
            self._pending[key] = pending
            self._senders.setdefault(part.msisdn, _Sender()).texts[key] = None
            for other in others:
                self._add(key, pending, other.concat_part or 1, other)
            self.completed -= 1
            self._bound(key)

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
        self._expired_bytes = 0
        return expired

    def pending_parts(self) -> list[InboundPart]:
        """Parts a host must still persist: those waiting for the rest of their text, and
        those of texts given up on that :meth:`take_expired` has not handed out yet."""
        waiting = [p for pending in self._pending.values() for p in pending.parts.values()]
        return waiting + [p for message in self._expired for p in message.parts]

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def held_bytes(self) -> int:
        """Bytes held in waiting parts (see :func:`part_size`); never above ``max_bytes``."""
        return self._held_bytes

    @property
    def seen_count(self) -> int:
        return len(self._seen)

    # -- internals

    @staticmethod
    def _key(part: InboundPart) -> Key:
        return (part.msisdn, part.to, part.concat_ref or "")

    def _remember(self, message_id: str) -> None:
        now = self._clock()
        self._seen[message_id] = now
        self._seen.move_to_end(message_id)
        while len(self._seen) > self.max_seen:
            oldest = next(iter(self._seen.values()))
            if now - oldest < self.seen_for and len(self._seen) <= (
                self.max_seen * _SEEN_HARD_FACTOR
            ):
                break  # still inside the replay window: keep it
            self._seen.popitem(last=False)

    def _add(self, key: Key, pending: _Pending, part_no: int, part: InboundPart) -> None:
        size = part_size(part)
        pending.parts[part_no] = part
        pending.size += size
        self._held_bytes += size
        sender = self._senders[key[0]]
        sender.parts += 1
        sender.size += size

    def _remove_part(self, key: Key, pending: _Pending, part_no: int) -> None:
        size = part_size(pending.parts.pop(part_no))
        pending.size -= size
        self._held_bytes -= size
        sender = self._senders[key[0]]
        sender.parts -= 1
        sender.size -= size
        if not pending.parts:
            self._drop(key)

    def _drop(self, key: Key) -> _Pending:
        pending = self._pending.pop(key)
        self._held_bytes -= pending.size
        sender = self._senders[key[0]]
        sender.parts -= len(pending.parts)
        sender.size -= pending.size
        del sender.texts[key]
        if not sender.texts:
            del self._senders[key[0]]
        return pending

    def _give_up(self, key: Key, reason: str | None = None) -> None:
        pending = self._drop(key)
        message = InboundMessage.join(pending.parts.values(), pending.total)
        if reason is not None:
            self.evicted += 1
            _LOGGER.warning(
                "inbound text from %s handed out incomplete (%d of %d parts): %s",
                mask_number(key[0]),
                len(pending.parts),
                pending.total,
                reason,
            )
        self._expired.append(message)
        self._expired_bytes += pending.size
        # Bound the hand-out list too, in case a host never calls take_expired().
        while len(self._expired) > 1 and (
            len(self._expired) > self.max_pending or self._expired_bytes > self.max_bytes
        ):
            lost = self._expired.pop(0)
            self._expired_bytes -= sum(part_size(p) for p in lost.parts)
            _LOGGER.error(
                "incomplete inbound text from %s dropped: the host did not take it in time",
                mask_number(lost.msisdn),
            )

    def _bound(self, keep: Key) -> None:
        """Enforce the bounds after ``keep`` grew: the sender's own oldest texts go first."""
        sender = self._senders.get(keep[0])
        while sender is not None and sender.parts > self.max_parts_per_sender:
            self._give_up(
                next(iter(sender.texts)),
                f"more than {self.max_parts_per_sender} parts waiting from one sender",
            )
            sender = self._senders.get(keep[0])
        # Over a global bound, the sender holding the most gives up its oldest text: a flood
        # spread over a few senders does not push out another sender's genuine partial text.
        while len(self._pending) > self.max_pending:
            heaviest = max(self._senders.values(), key=lambda s: len(s.texts))
            self._give_up(next(iter(heaviest.texts)), f"more than {self.max_pending} texts waiting")
        while self._held_bytes > self.max_bytes:
            heaviest = max(self._senders.values(), key=lambda s: s.size)
            self._give_up(next(iter(heaviest.texts)), f"more than {self.max_bytes} bytes waiting")

    def _expire(self, now: float) -> None:
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if now - pending.created < self.ttl:
                break
            self._give_up(key)
