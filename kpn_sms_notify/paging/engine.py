"""The paging engine: pages out, replies in, acknowledgements kept alive and resolved.

Alertmanager drives escalation (one route per step, see `paging.routes`); this engine
decides, for each step's notification, whether to page (not when acknowledged: it asks
Alertmanager for the acknowledgement silence before every page, since in a cluster one
more notification can follow a silence), reads replies (`replies.parse_command`), turns
`ACK` into a silence, and every `poll_interval` keeps its silences alive while their
group fires and expires them, with "resolved" texts, once it has resolved (Alertmanager
sends no resolved notification for a silenced alert).

Everything it knows comes from Alertmanager, so any replica can answer any reply. A silence
names the replica that keeps it alive (`via`); another replica takes over when that one
has missed its extensions.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..numbers import mask_number
from ..replies import Command, parse_command
from . import texts
from .alertmanager import AlertmanagerApi, AlertmanagerError
from .config import Chain, PagingConfig
from .incidents import (
    Ack,
    AlertLabels,
    Incident,
    ack_comment,
    incident_of,
    incidents_from_groups,
    iso,
    matches,
    read_ack,
    silence_matchers,
    steps_due,
)

_LOGGER = logging.getLogger("kpn_sms_notify.server")

#: How long this replica trusts its own acknowledgement without asking Alertmanager (longer
#: than a cluster's gossip and peer wait; short, since another replica may undo it).
LOCAL_ACK_GRACE = 30.0

#: Send `text` to `numbers`; `key` names the text for de-duplication across retries.
Send = Callable[[str, Sequence[str], str], Awaitable[None]]


class Counters(Protocol):
    """The metrics the engine writes (`server.metrics.Metrics` is one)."""

    def inc(self, name: str, amount: float = 1, **labels: str) -> None: ...

    def observe(self, name: str, value: float, **labels: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Page:
    """A page to send: its reference, recipients and text."""

    ref: str
    recipients: tuple[str, ...]
    text: str


class PagingEngine:
    """One per serve process; `close()` it when done."""

    def __init__(
        self,
        config: PagingConfig,
        *,
        send: Send,
        metrics: Counters,
        api: AlertmanagerApi | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.api = api or AlertmanagerApi(config.alertmanager)
        self._send = send
        self._metrics = metrics
        self._now = clock or (lambda: datetime.now(UTC))
        self._acked: dict[str, float] = {}  # ref -> monotonic time of our own ACK
        self._replies: dict[str, collections.deque[float]] = {}
        self._lock = asyncio.Lock()  # one acknowledgement change at a time in this replica
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        """Stop replies still being handled, then close the API client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.api.close()

    def take_reply(self, number: str, text: str, message_id: str) -> None:
        """Handle a reply in the background (the gateway's webhook is answered at once)."""
        task = asyncio.create_task(self._reply_logged(number, text, message_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply_logged(self, number: str, text: str, message_id: str) -> None:
        try:
            await self.reply(number, text, message_id)
        except Exception:  # a background task: log what went wrong, never lose it silently
            _LOGGER.exception("paging: reply from %s not handled", mask_number(number))

    # ------------------------------------------------------------------ pages
    async def page(
        self,
        *,
        chain: Chain,
        step: int,
        group_labels: Mapping[str, str],
        alerts: Sequence[AlertLabels],
        rendered: str,
        firing: bool,
    ) -> Page | None:
        """The page for one step's notification, or None when it is acknowledged."""
        incident = incident_of(chain, group_labels, alerts, self._now())
        ref = incident.ref
        recipients = chain.steps[step].recipients
        if firing and await self._is_acked(ref):
            self._metrics.inc("kpn_sms_pages_suppressed_total", chain=chain.name, step=str(step))
            _LOGGER.info("paging %s step %d: %s is acknowledged, not paged", chain.name, step, ref)
            return None
        if firing:
            self._metrics.inc("kpn_sms_pages_total", chain=chain.name, step=str(step))
            if step > 0:
                self._metrics.inc("kpn_sms_escalations_total", chain=chain.name)
        text = texts.page(ref, rendered) if firing else texts.page_resolved(ref, rendered)
        return Page(ref=ref, recipients=recipients, text=text)

    async def _is_acked(self, ref: str) -> bool:
        made = self._acked.get(ref)
        if made is not None and time.monotonic() - made < LOCAL_ACK_GRACE:
            return True  # our own, just made: true before the cluster has gossiped it
        try:
            silences = await self.api.silences()
        except AlertmanagerError as err:
            # Better one page too many than a missed one.
            self._metrics.inc("kpn_sms_paging_errors_total", call="silences")
            _LOGGER.warning("paging: cannot check acknowledgements, paging anyway: %s", err)
            return False
        return any(ack.ref == ref for ack in _acks(silences))

    # ------------------------------------------------------------------ replies
    def may_reply(self, number: str) -> bool:
        """Whether `number` may acknowledge anything (else its replies are refused)."""
        return any(number in chain.ack_from for chain in self.config.chains.values())

    async def reply(self, number: str, text: str, message_id: str) -> None:
        """Act on a reply from `number` (E.164); texts back as rate limits allow."""
        if not self.may_reply(number):
            self._metrics.inc("kpn_sms_paging_replies_refused_total", reason="not_allowed")
            _LOGGER.warning(
                "paging: reply from %s refused: not allowed to acknowledge", mask_number(number)
            )
            return
        command = parse_command(text)
        key = f"reply:{message_id}"
        if command is None:
            await self._answer(number, texts.not_understood(), key)
            return
        self._metrics.inc("kpn_sms_paging_replies_total", command=command.command.value)
        try:
            if command.command is Command.HELP:
                await self._answer(number, texts.help_text(), key)
            elif command.command is Command.STATUS:
                await self._status(number, key)
            elif command.command is Command.ACK:
                await self._ack(number, command.reference, key)
            else:
                await self._unack(number, command.reference, key)
        except AlertmanagerError as err:
            self._metrics.inc("kpn_sms_paging_errors_total", call="reply")
            _LOGGER.error(
                "paging: %s from %s failed: %s", command.command.value, mask_number(number), err
            )
            await self._answer(
                number, f"{command.command.value} failed: Alertmanager unreachable; try again.", key
            )

    async def _ack(self, number: str, ref: str | None, key: str) -> None:
        async with self._lock:
            now = self._now()
            incidents = await self._incidents(now)
            acks = {a.ref: a for a in _acks(await self.api.silences())}
            mine = {r: i for r, i in incidents.items() if number in i.chain.ack_from}
            if ref is None:
                open_pages = [
                    i for r, i in mine.items() if r not in acks and number in _paged(i, now)
                ]
                if not open_pages:
                    await self._answer(number, texts.nothing_open(), key)
                    return
                if len(open_pages) > 1:
                    choices = [(i.ref, i.title) for i in open_pages]
                    await self._answer(number, texts.which(choices), key)
                    return
                incident = open_pages[0]
                ref = incident.ref
            elif ref in mine:
                incident = mine[ref]
            else:
                await self._answer(number, texts.unknown(ref), key)
                return
            if ref in acks:
                ack = acks[ref]
                await self._answer(
                    number, texts.already_acked(ref, incident.title, _shown_by(ack.by)), key
                )
                return
            by = self.config.name_of(number)
            steps = max(1, steps_due(incident.chain, incident.elapsed(now)))
            body = {
                "matchers": silence_matchers(incident, self.config.silence_match),
                "startsAt": iso(now),
                "endsAt": iso(now + timedelta(seconds=self.config.keepalive)),
                "createdBy": f"kpn-sms:{_shown_name(self.config, number)}",
                "comment": ack_comment(
                    ref=ref,
                    by=by,
                    at=now,
                    chain=incident.chain.name,
                    steps=steps,
                    via=self.config.replica,
                ),
            }
            silence_id = await self.api.post_silence(body)
            self._acked[ref] = time.monotonic()
        chain = incident.chain.name
        self._metrics.inc("kpn_sms_acks_total", chain=chain)
        self._metrics.observe("kpn_sms_time_to_ack_seconds", incident.elapsed(now), chain=chain)
        _LOGGER.info(
            "paging: %s acknowledged by %s (silence %s)", ref, mask_number(number), silence_id
        )
        await self._answer(number, texts.confirmed(ref, incident.title), key)
        others = [n for n in _recipients(incident.chain, steps) if n != number]
        if others:
            await self._send(
                texts.acked_note(ref, incident.title, _shown_name(self.config, number)),
                others,
                f"acked:{silence_id}",
            )

    async def _unack(self, number: str, ref: str | None, key: str) -> None:
        if ref is None:
            await self._answer(number, texts.help_text(), key)
            return
        async with self._lock:
            acks = [a for a in _acks(await self.api.silences()) if a.ref == ref]
            chains = [self.config.chains.get(a.chain) for a in acks]
            if not acks or not any(c is not None and number in c.ack_from for c in chains):
                await self._answer(number, texts.not_acked(ref), key)
                return
            for ack in acks:
                await self.api.expire_silence(ack.silence_id)
            self._acked.pop(ref, None)
        self._metrics.inc("kpn_sms_unacks_total", chain=acks[0].chain)
        _LOGGER.info("paging: %s unacknowledged by %s", ref, mask_number(number))
        await self._answer(number, texts.unacked(ref, _title_of(acks[0])), key)

    async def _status(self, number: str, key: str) -> None:
        now = self._now()
        incidents = await self._incidents(now)
        acks = {a.ref: a for a in _acks(await self.api.silences())}
        lines = [
            (ref, i.title, _shown_by(acks[ref].by) if ref in acks else None)
            for ref, i in sorted(incidents.items())
            if number in _paged(i, now) or (number in i.chain.ack_from and ref in acks)
        ]
        await self._answer(number, texts.status(lines), key)

    async def _incidents(self, now: datetime) -> dict[str, Incident]:
        return incidents_from_groups(await self.api.groups(), self.config, now)

    async def _answer(self, number: str, text: str, key: str) -> None:
        """Text back to a phone, at most `reply_limit` per `reply_window`."""
        window = self._replies.setdefault(number, collections.deque())
        now = time.monotonic()
        while window and window[0] <= now - self.config.reply_window:
            window.popleft()
        if len(window) >= self.config.reply_limit:
            self._metrics.inc("kpn_sms_paging_replies_refused_total", reason="rate_limited")
            _LOGGER.warning(
                "paging: no answer to %s: more than %d replies in %ds",
                mask_number(number),
                self.config.reply_limit,
                self.config.reply_window,
            )
            return
        window.append(now)
        await self._send(text, [number], key)

    # ------------------------------------------------------------------ keep-alive
    async def sweep(self) -> None:
        """Keep acknowledgements alive while their group fires; expire them, with resolved
        texts, once it has resolved. Only the replica named in the silence does this,
        unless that one has missed its extensions (then any replica takes over)."""
        silences = await self.api.silences()
        acks = _acks(silences)
        if not acks:
            return
        alerts = await self.api.alerts()
        now = self._now()
        for ack in acks:
            left = (ack.ends_at - now).total_seconds()
            mine = ack.via == self.config.replica
            if not mine and left >= self.config.keepalive / 4:
                continue
            firing = any(matches(ack.matchers, _str_map(a.get("labels"))) for a in alerts)
            if firing:
                await self._extend(ack, now, left)
            else:
                await self._resolve(ack)

    async def _extend(self, ack: Ack, now: datetime, left: float) -> None:
        if left >= self.config.keepalive / 2:
            return
        cap = ack.at + timedelta(seconds=self.config.ack_max)
        ends = min(now + timedelta(seconds=self.config.keepalive), cap)
        if ends <= ack.ends_at:
            return  # at the cap: let it expire, and Alertmanager pages again
        body = {
            "id": ack.silence_id,
            "matchers": list(ack.matchers),
            "startsAt": ack.starts_at,
            "endsAt": iso(ends),
            "createdBy": ack.created_by,
            "comment": ack_comment(
                ref=ack.ref,
                by=ack.by,
                at=ack.at,
                chain=ack.chain,
                steps=ack.steps,
                via=self.config.replica,
            ),
        }
        await self.api.post_silence(body)

    async def _resolve(self, ack: Ack) -> None:
        async with self._lock:
            await self.api.expire_silence(ack.silence_id)
            self._acked.pop(ack.ref, None)
        self._metrics.inc("kpn_sms_resolved_while_acked_total", chain=ack.chain)
        _LOGGER.info(
            "paging: %s resolved while acknowledged; silence %s expired", ack.ref, ack.silence_id
        )
        chain = self.config.chains.get(ack.chain)
        by_number = self._number_of(ack.by)
        recipients = list(_recipients(chain, ack.steps)) if chain else []
        if by_number and by_number not in recipients:
            recipients.insert(0, by_number)
        by = _shown_by(ack.by)
        if recipients:
            await self._send(
                texts.resolved(ack.ref, _title_of(ack), by),
                recipients,
                f"resolved:{ack.silence_id}",
            )

    def _number_of(self, name: str) -> str | None:
        for number, label in self.config.labels.items():
            if label == name:
                return number
        return name if name.startswith("+") else None


def _acks(silences: Sequence[Mapping[str, object]]) -> list[Ack]:
    return [ack for s in silences if (ack := read_ack(s)) is not None]


def _paged(incident: Incident, now: datetime) -> tuple[str, ...]:
    return _recipients(incident.chain, max(1, steps_due(incident.chain, incident.elapsed(now))))


def _recipients(chain: Chain, steps: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for step in chain.steps[:steps] for n in step.recipients))


def _title_of(ack: Ack) -> str:
    labels = {
        str(m.get("name")): str(m.get("value"))
        for m in ack.matchers
        if not m.get("isRegex") and m.get("isEqual", True)
    }
    name = labels.pop("alertname", "")
    rest = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return " ".join(p for p in (name, rest) if p) or "alert"


def _shown_name(config: PagingConfig, number: str) -> str:
    """A recipient's label, else the masked number (for texts and createdBy)."""
    label = config.labels.get(number)
    return label if label is not None else mask_number(number)


def _shown_by(by: str) -> str:
    """Who acknowledged, as a text shows it: the label, or the number masked."""
    return mask_number(by) if by.startswith("+") else by


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}
