"""Follow-up questions use the history; dates named in questions become filters that the answer reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from assistant.conversation import ANCHOR_TIE, anchor_articles, carry_over, is_follow_up
from assistant.dates import filters_from_question
from assistant.pipeline import Assistant
from assistant.types import Article, Citation, Filters, Turn

from ..conftest import SEED_QUESTION, SEED_QUOTE, make_settings

TODAY = date(2025, 10, 28)
SEED_DOC_PREFIX = "000_348cd98c955992e8"


@pytest.mark.parametrize(
    ("question", "lo", "hi", "rest"),
    [
        ("Что писали в октябре 2025 года?", date(2025, 10, 1), date(2025, 10, 31), "Что писали?"),
        ("Какие новости 27 октября 2025?", date(2025, 10, 27), date(2025, 10, 27), "Какие новости?"),
        ("Какие статьи вышли в 2016 году?", date(2016, 1, 1), date(2016, 12, 31), "Какие статьи вышли?"),
        ("Какие новости вчера?", date(2025, 10, 27), date(2025, 10, 27), "Какие новости?"),
        ("Что произошло на прошлой неделе?", date(2025, 10, 20), date(2025, 10, 26), "Что произошло?"),
        ("What was published in March 2017?", date(2017, 3, 1), date(2017, 3, 31), "What was published?"),
        ("Что писали в мае 2016?", date(2016, 5, 1), date(2016, 5, 31), "Что писали?"),
    ],
)
def test_dates_of_publication_in_questions_become_filters(question: str, lo: date, hi: date, rest: str) -> None:
    filters, remaining = filters_from_question(question, Filters(sources=("ТАСС",)), TODAY)
    assert (filters.date_from, filters.date_to, filters.sources) == (lo, hi, ("ТАСС",))
    assert remaining == rest


def test_questions_without_dates_and_explicit_filters_are_left_alone() -> None:
    assert filters_from_question(SEED_QUESTION, Filters(), TODAY) == (Filters(), SEED_QUESTION)
    explicit = Filters(date_from=date(2020, 1, 1))
    assert filters_from_question("Что было в 2016 году?", explicit, TODAY)[0] == explicit


def test_follow_up_detection() -> None:
    history = [Turn("user", SEED_QUESTION), Turn("assistant", "…")]
    assert is_follow_up("А когда это было?", history)
    assert not is_follow_up("А когда это было?", [])
    assert not is_follow_up("Какая лаборатория лишена международной аккредитации ВАДА?", history)
    assert carry_over("А когда это было?", history) == f"А когда это было? {SEED_QUESTION}"


def quoted(doc_id: str, score: float) -> Citation:
    """A citation of ``doc_id`` with a ranker score."""
    return Citation(doc_id, doc_id, None, "Викиновости", "", "…", 0, 1, score)


def test_a_pointing_back_follow_up_reads_the_articles_quoted_in_a_near_tie_with_the_first() -> None:
    # «Кого Сенат утвердил директором ЦРУ в 2011 году?»: the Petraeus story and a story about general Allen that says
    # Petraeus was made director scored 0.02 apart; «А кого он сменил?» is answered in the Petraeus story.
    tie = [quoted("allen", -0.47), quoted("petraeus", -0.49), quoted("allen", -0.9), quoted("fbi", -1.5)]
    assert anchor_articles(tie) == ["allen", "petraeus"]
    clear = [quoted("petraeus", 1.2), quoted("allen", 1.2 - ANCHOR_TIE - 0.01)]
    assert anchor_articles(clear) == ["petraeus"]
    assert anchor_articles([]) == []


def test_follow_up_retrieves_the_same_story(assistant: Assistant) -> None:
    first = assistant.ask(SEED_QUESTION)
    history = [Turn("user", SEED_QUESTION), Turn("assistant", first.text)]
    follow = assistant.ask("А когда это было?", history=history)
    assert follow.answered
    assert follow.citations[0].doc_id.startswith(SEED_DOC_PREFIX)
    assert follow.citations[0].date == "2025-10-27"
    alone = assistant.ask("А когда это было?")
    assert not alone.citations or not alone.citations[0].doc_id.startswith(SEED_DOC_PREFIX)


def test_date_named_in_question_filters_and_is_stated(assistant: Assistant) -> None:
    answer = assistant.ask("Какие документы были подписаны во время визита, о котором писали в октябре 2025 года?")
    assert answer.filters_applied == Filters(date_from=date(2025, 10, 1), date_to=date(2025, 10, 31))
    assert answer.citations and all(c.date and c.date.startswith("2025-10") for c in answer.citations)
    assert SEED_QUOTE in answer.citations[0].quote
    assert "Применены фильтры: даты 2025-10-01 — 2025-10-31" in answer.plain_text()
    assert answer.to_dict()["filters_description"] == "даты 2025-10-01 — 2025-10-31"


def test_date_filter_with_nothing_in_range_declines(assistant: Assistant) -> None:
    answer = assistant.ask("Что писали о визите и подписанных документах в 2019 году?")
    assert not answer.answered and "В корпусе нет ответа" in answer.text
    assert "2019-01-01" in answer.plain_text()
    event = assistant.ask("Какие документы были подписаны во время визита в 2019 году?")  # the year is evidence:
    assert event.filters_applied == Filters()  # no filter, and the 2025 visit (which names no 2019) is not quoted
    assert not event.citations or not event.citations[0].doc_id.startswith(SEED_DOC_PREFIX)


PETRAEUS = Article(
    doc_id="petraeus", title="Генерал Дэвид Петреус возглавил ЦРУ",
    text=("Генерал Дэвид Петреус возглавил ЦРУ\n\n"
          "Сенат США 30 июня 2011 года единогласно утвердил генерала Дэвида Петреуса директором Центрального "
          "разведывательного управления.\n\n"
          "На этом посту Петреус сменит Леона Панетту, который стал министром обороны.\n\n"
          "До назначения генерал командовал войсками коалиции в Афганистане."),
    source="Викиновости")
HASPEL = Article(
    doc_id="haspel", title="ЦРУ впервые возглавила женщина",
    text=("ЦРУ впервые возглавила женщина\n\n"
          "Сенат США 17 мая 2018 года утвердил Джину Хаспел на посту директора ЦРУ.\n\n"
          "Хаспел сменила на посту главы разведки Майка Помпео, который стал госсекретарём.\n\n"
          "Она стала первой женщиной во главе разведки США."),
    source="Викиновости")
CIA_QUESTION = "Кого Сенат США утвердил директором ЦРУ в 2011 году?"


@pytest.fixture(scope="module")
def cia(tmp_path_factory: pytest.TempPathFactory, assistant: Assistant) -> Iterator[Assistant]:
    """Two undated stories about two CIA directors, seven years apart."""
    helper = Assistant(make_settings(tmp_path_factory.mktemp("cia")), embedder=assistant.embedder)
    helper.ingest_articles([PETRAEUS, HASPEL])
    yield helper
    helper.close()


def test_a_year_named_in_the_question_must_be_named_by_the_article(cia: Assistant) -> None:
    assert cia.ask(CIA_QUESTION).citations[0].doc_id == "petraeus"
    absent = cia.ask("Кого Сенат США утвердил директором ЦРУ в 2022 году?")
    assert not absent.answered and absent.notes == ["ни в одной найденной статье не упоминается 2022"]
    assert absent.text == "В корпусе нет ответа на этот вопрос: ни в одной найденной статье не упоминается 2022."


def test_a_story_naming_none_of_the_questions_names_does_not_answer_it(cia: Assistant) -> None:
    assert cia.ask("Кто возглавил ЦРУ после Помпео?").citations[0].doc_id == "haspel"
    absent = cia.ask("Кого назначили директором ФБР?")
    assert not absent.answered and absent.notes == ["ни в одной найденной статье не упоминается ФБР"]
    latin = cia.ask("Кого назначили директором в Google?")  # a Latin name in a Russian question is checked too
    assert not latin.answered and latin.notes == ["ни в одной найденной статье не упоминается Google"]
    english = cia.ask("Who became the director of the FBI?")  # names are spelled otherwise in Russian: not checked
    assert english.notes == []


def test_follow_up_pointing_back_is_answered_from_the_previous_answers_article(cia: Assistant) -> None:
    first = cia.ask(CIA_QUESTION)
    history = [Turn("user", CIA_QUESTION), Turn("assistant", first.plain_text())]
    follow = cia.ask("А кого он сменил на этом посту?", history=history)
    assert follow.citations[0].doc_id == "petraeus" and "Леона Панетту" in follow.citations[0].quote
    vague = cia.ask("А когда это было?", history=history)  # vague alone, relevant with the earlier question
    assert vague.answered and vague.citations[0].doc_id == "petraeus"
