"""Answer-type slots: what a question asks for, whether quote [1] gives it, and the out-of-fold policy choice."""

from __future__ import annotations

import pytest

from assistant.answering.slots import asked_slot, check, verdict
from assistant.evaluation.slotfit import choose, leave_one_part_out


@pytest.mark.parametrize(("question", "slot"), [
    ("Почему Linkin Park отменила турне?", "cause"), ("Why was the tour cancelled?", "cause"),
    ("сколько покупок омичка успела забрать", "number"), ("How much was Tyson paid?", "number"),
    ("К какому сроку суд приговорил Андерсона?", "number"), ("Когда Сенат утвердил Пателя?", "time"),
    ("Кого назначили постпредом?", "person"), ("Where were the survivors found?", "place"),
    ("Какие документы подписали?", ""),
])
def test_the_asked_slot(question: str, slot: str) -> None:
    assert asked_slot(question) == slot


def test_a_slot_is_filled_only_by_words_the_question_does_not_contain() -> None:
    assert check("Почему отменили турне?", "Группа отменила турне из-за гибели вокалиста.").filled
    assert not check("Почему отменили турне?", "Группа отменила турне по Северной Америке.").filled
    assert check("Сколько товаров забрала омичка?", "Омичка забрала более 700 товаров.").filled
    assert not check("Сколько товаров забрала омичка за 2 месяца?", "За 2 месяца омичка забрала товары.").filled
    assert not check("Когда Сенат утвердил Кэша Пателя директором ФБР?",
                     "Трамп выдвинул Кэша Пателя на пост директора ФБР.").filled
    assert check("Кто сменил Пателя?", "Пателя сменил Кристофер Рэй.").filled
    assert not check("Кто сменил Пателя?", "Пателя сменили на посту.").filled


def test_the_verdict_follows_the_policy() -> None:
    near_miss = ("Когда Сенат утвердил Пателя?", "Трамп выдвинул Пателя на пост директора ФБР.")
    assert verdict(*near_miss, "ru-ru", {"ru-ru": "decline"}) == "decline"
    assert verdict(*near_miss, "ru-ru", {"ru-ru": "hedge"}) == "hedge"
    assert verdict(*near_miss, "ru-ru", {"ru-ru": "off"}) == "answer"
    assert verdict("Когда утвердили Пателя?", "Пателя утвердили 30 января.", "ru-ru", {"ru-ru": "decline"}) == "answer"


def record(part: str, qid: str, question: str, quote: str, answer: str | None) -> dict[str, object]:
    """An outcome record as ``assistant eval --outcomes`` writes it."""
    return {"set": part, "id": qid, "question": question, "doc_id": "d" if answer else None,
            "answers": [answer] if answer else [], "answered": True, "confident": True, "quote": quote}


def test_the_policy_is_chosen_out_of_fold() -> None:
    parts = []
    for part in ("a", "b", "c"):
        parts += [record(part, "1", "Когда утвердили Пателя?", "Пателя выдвинули на пост.", None),
                  record(part, "2", "Когда утвердили Пателя?", "Пателя утвердили 30 января.", "30 января")]
    assert choose(parts, "ru-ru") == "decline" and choose(parts, "en-ru") == "off"
    for _part, policy, before, after in leave_one_part_out(parts):
        assert policy["ru-ru"] == "decline"
        assert (before.unans_declined, after.unans_declined, after.ans_declined) == (0.0, 1.0, 0.0)
    hurt = [record("a", "3", "Когда утвердили Пателя?", "Сенат утвердил Пателя.", "Сенат утвердил Пателя")] * 3
    assert choose(parts[:2] + hurt, "ru-ru") == "off"  # it would decline three right answers to catch one miss
