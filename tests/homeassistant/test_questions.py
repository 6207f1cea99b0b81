"""Which open question a reply answers, and which notification an ACK acknowledges: the
bookkeeping behind `kpn_sms_notify.ask` and `data.ack`, without texts in between."""

from __future__ import annotations

import ha_common  # noqa: F401  (custom_components first: the integration as installed)
from custom_components.kpn_sms_notify.acknowledgements import OpenAcknowledgements
from custom_components.kpn_sms_notify.questions import OpenQuestions

ALICE, BOB = "+31612345678", "+31687654321"
YES_NO = ("YES", "NO")


def take(questions: OpenQuestions, text: str, msisdn: str = ALICE) -> str | None:
    question = questions.take_reply(msisdn=msisdn, text=text, message_id="m")
    return None if question is None else question.reference


async def test_only_the_second_question_shows_its_reference() -> None:
    questions = OpenQuestions()
    first = questions.open(number=ALICE, options=YES_NO, taken=())
    second = questions.open(number=ALICE, options=YES_NO, taken=())
    other = questions.open(number=BOB, options=YES_NO, taken=())
    assert (first.reference_shown, second.reference_shown, other.reference_shown) == (
        False,
        True,
        False,
    )
    assert len({first.reference, second.reference, other.reference}) == 3


async def test_a_reference_picks_the_question_and_a_plain_reply_the_unreferenced_one() -> None:
    questions = OpenQuestions()
    first = questions.open(number=ALICE, options=YES_NO, taken=())
    second = questions.open(number=ALICE, options=YES_NO, taken=())
    assert take(questions, f"{second.reference.lower()} no") == second.reference
    assert second.answer.result() is not None and second.answer.result().reply == "NO"
    assert take(questions, "Yes.") == first.reference
    assert (questions.answered, len(questions)) == (2, 0)


async def test_a_reply_fitting_several_referenced_questions_answers_none() -> None:
    questions = OpenQuestions()
    first = questions.open(number=ALICE, options=YES_NO, taken=())
    questions.open(number=ALICE, options=YES_NO, taken=())
    questions.open(number=ALICE, options=YES_NO, taken=())
    assert take(questions, "yes") == first.reference  # the one texted without a reference
    assert take(questions, "yes") is None  # two left, both referenced: ambiguous
    assert len(questions) == 2


async def test_a_plain_reply_fitting_only_one_question_answers_it() -> None:
    questions = OpenQuestions()
    questions.open(number=ALICE, options=YES_NO, taken=())
    later = questions.open(number=ALICE, options=("OPEN", "SHUT"), taken=())
    assert take(questions, "shut") == later.reference


async def test_other_numbers_wrong_references_and_misfits_answer_nothing() -> None:
    questions = OpenQuestions()
    asked = questions.open(number=ALICE, options=YES_NO, taken=())
    elsewhere = questions.open(number=BOB, options=YES_NO, taken=())
    assert take(questions, "yes", msisdn="+31611111111") is None
    assert take(questions, "maybe") is None
    assert take(questions, f"yes {elsewhere.reference}") is None  # Bob's reference
    assert not asked.answer.done()


async def test_references_never_repeat_one_in_use() -> None:
    questions = OpenQuestions()
    taken = [questions.open(number=ALICE, options=(), taken=()).reference for _ in range(50)]
    acks = OpenAcknowledgements()
    refs = [
        acks.open(entities=[f"alert.a{n}"], numbers=[ALICE], taken=taken).reference
        for n in range(50)
    ]
    assert len(set(taken) | set(refs)) == 100


async def test_cancel_all_ends_waiting_questions_unanswered() -> None:
    questions = OpenQuestions()
    asked = questions.open(number=ALICE, options=(), taken=())
    questions.cancel_all()
    assert asked.answer.result() is None
    assert (questions.cancelled, len(questions)) == (1, 0)


def test_an_ack_keeps_its_reference_across_repeats_and_only_recipients_acknowledge() -> None:
    acks = OpenAcknowledgements()
    ack = acks.open(entities=["alert.garage"], numbers=[ALICE], taken=())
    again = acks.open(entities=["alert.garage"], numbers=[BOB], taken=())
    assert again is ack and ack.numbers == {ALICE, BOB}
    assert acks.take(msisdn="+31611111111", reference=ack.reference) is None
    assert acks.take(msisdn=BOB, reference="9ZZ") is None
    assert acks.take(msisdn=BOB, reference=None) is ack
    assert (acks.acknowledged, len(acks)) == (1, 0)


def test_ack_alone_needs_a_single_open_notification_for_that_number() -> None:
    acks = OpenAcknowledgements()
    garage = acks.open(entities=["alert.garage"], numbers=[ALICE], taken=())
    leak = acks.open(entities=["alert.leak"], numbers=[ALICE, BOB], taken=())
    assert acks.take(msisdn=ALICE, reference=None) is None  # which one?
    assert acks.take(msisdn=BOB, reference=None) is leak
    assert acks.take(msisdn=ALICE, reference=None) is garage
