"""Notifications that can be acknowledged by text (`data: {ack: alert.garage_door}`), and which
one an `ACK [ref]` reply acknowledges.

A repeated notification for the same entities keeps its reference (an `alert` repeats until
acknowledged: every repeat says the same "ACK 4K"). `ACK` alone acknowledges the only one open
to that number. Nothing here sends or calls services: reply_routing.py does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from kpn_sms_notify.numbers import mask_number
from kpn_sms_notify.replies import new_reference

# An alert that is never acknowledged must not grow memory: the oldest is forgotten first.
MAX_OPEN = 200


@dataclass(eq=False)
class Acknowledgeable:
    """One acknowledgeable notification: its reference, entities and who may acknowledge."""

    reference: str
    entities: tuple[str, ...]
    numbers: set[str]
    sent: float = field(default_factory=time.monotonic)


class OpenAcknowledgements:
    """The open acknowledgeable notifications of one config entry."""

    def __init__(self) -> None:
        self._open: list[Acknowledgeable] = []
        self.on_change: Callable[[], None] | None = None  # the sensor's state write
        self.acknowledged = 0

    def __len__(self) -> int:
        return len(self._open)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(a.reference for a in self._open)

    def open(
        self, *, entities: Iterable[str], numbers: Iterable[str], taken: Collection[str]
    ) -> Acknowledgeable:
        """The open one for these entities (numbers added), or a new one with a reference."""
        key = tuple(sorted(set(entities)))
        for ack in self._open:
            if ack.entities == key:
                ack.numbers.update(numbers)
                return ack
        ack = Acknowledgeable(
            reference=new_reference(taken=[*self.references, *taken]),
            entities=key,
            numbers=set(numbers),
        )
        self._open.append(ack)
        del self._open[:-MAX_OPEN]
        self._changed()
        return ack

    def drop(self, ended: Callable[[Acknowledgeable], bool]) -> None:
        """Forget those `ended` says need no acknowledging any more (their alerts ended)."""
        kept = [a for a in self._open if not ended(a)]
        if len(kept) != len(self._open):
            self._open = kept
            self._changed()

    def discard(self, ack: Acknowledgeable) -> None:
        """Forget `ack` (its notification could not be sent)."""
        if ack in self._open:
            self._open.remove(ack)
            self._changed()

    def open_to(self, msisdn: str) -> list[Acknowledgeable]:
        """The notifications `msisdn` may acknowledge, oldest first."""
        return [a for a in self._open if msisdn in a.numbers]

    def take(self, *, msisdn: str, reference: str | None) -> Acknowledgeable | None:
        """What `ACK [reference]` from `msisdn` acknowledges (now closed), or None.

        Only a recipient of the notification can acknowledge it; without a reference, only
        when it is the one open to that number.
        """
        mine = self.open_to(msisdn)
        if reference is not None:
            mine = [a for a in mine if a.reference == reference]
        if len(mine) != 1:
            return None
        self._open.remove(mine[0])
        self.acknowledged += 1
        self._changed()
        return mine[0]

    def summary(self) -> dict[str, object]:
        """Counts and the open notifications, numbers masked (diagnostics)."""
        now = time.monotonic()
        return {
            "open": len(self._open),
            "acknowledged": self.acknowledged,
            "notifications": [
                {
                    "reference": a.reference,
                    "entities": list(a.entities),
                    "recipients": sorted(mask_number(n) for n in a.numbers),
                    "open_seconds": round(now - a.sent, 1),
                }
                for a in self._open
            ],
        }

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
