"""Questions waiting for an answer by text (`kpn_sms_notify.ask`), and which one a reply answers.

Each question has a reference (kpn_sms_notify.replies); the text shows it only when another
question is open to the same number, so "reply YES 4K" tells two apart. A reply answers the
question whose reference it carries; without one, the question asked without a reference, or
the only open question it fits. Nothing here sends or waits: the caller awaits `Question.answer`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from kpn_sms_notify.numbers import mask_number
from kpn_sms_notify.replies import match_answer, new_reference


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply that answered a question: the option it matched, and the text as typed."""

    reply: str
    text: str
    msisdn: str
    message_id: str
    received: float  # time.monotonic()


@dataclass(eq=False)
class Question:
    """One open question to one number; `answer` resolves with the Reply, or None when the
    question ended unanswered (entry unloaded, Home Assistant stopping)."""

    number: str  # canonical E.164
    reference: str
    options: tuple[str, ...]
    reference_shown: bool
    answer: asyncio.Future[Reply | None]
    asked: float = field(default_factory=time.monotonic)
    message_id: str | None = None


class OpenQuestions:
    """The open questions of one config entry, and counts of how they ended."""

    def __init__(self) -> None:
        self._open: list[Question] = []
        self.on_change: Callable[[], None] | None = None  # the sensor's state write
        self.answered = 0
        self.timed_out = 0
        self.cancelled = 0

    def __len__(self) -> int:
        return len(self._open)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(q.reference for q in self._open)

    def open(self, *, number: str, options: Sequence[str], taken: Collection[str]) -> Question:
        """A new question to `number`; its reference is shown when another is open to it.

        `taken`: references in use elsewhere (open acknowledgements), never handed out twice.
        """
        reference = new_reference(taken=[*self.references, *taken])
        question = Question(
            number=number,
            reference=reference,
            options=tuple(options),
            reference_shown=any(q.number == number for q in self._open),
            answer=asyncio.get_running_loop().create_future(),
        )
        self._open.append(question)
        self._changed()
        return question

    def close(self, question: Question, *, timed_out: bool = False) -> None:
        """Forget `question` (answered, timed out, or its text could not be sent)."""
        if question in self._open:
            self._open.remove(question)
            if timed_out:
                self.timed_out += 1
            self._changed()

    def take_reply(self, *, msisdn: str, text: str, message_id: str) -> Question | None:
        """The open question this reply from `msisdn` answers (now answered), or None."""
        mine = [q for q in self._open if q.number == msisdn and not q.answer.done()]
        refs = [q.reference for q in mine]
        fits = []
        for question in mine:
            answer = match_answer(text, options=question.options, references=refs)
            if answer is None or answer.reference not in (None, question.reference):
                continue
            fits.append((question, answer))
        chosen = [f for f in fits if f[1].reference is not None]
        if not chosen:
            plain = [f for f in fits if not f[0].reference_shown]
            chosen = plain if len(plain) == 1 else fits if len(fits) == 1 else []
        if not chosen:
            return None
        question, answer = chosen[0]
        question.answer.set_result(
            Reply(
                reply=answer.reply,
                text=text,
                msisdn=msisdn,
                message_id=message_id,
                received=time.monotonic(),
            )
        )
        self._open.remove(question)
        self.answered += 1
        self._changed()
        return question

    def cancel_all(self) -> None:
        """End every waiting question unanswered (the entry unloads or Home Assistant stops)."""
        for question in self._open:
            if not question.answer.done():
                question.answer.set_result(None)
                self.cancelled += 1
        self._open.clear()
        self._changed()

    def summary(self) -> dict[str, object]:
        """Counts and the open questions, numbers masked (diagnostics)."""
        now = time.monotonic()
        return {
            "open": len(self._open),
            "answered": self.answered,
            "timed_out": self.timed_out,
            "cancelled": self.cancelled,
            "questions": [
                {
                    "to": mask_number(q.number),
                    "reference": q.reference,
                    "options": list(q.options),
                    "waiting_seconds": round(now - q.asked, 1),
                }
                for q in self._open
            ],
        }

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
