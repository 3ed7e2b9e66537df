"""A date in a question describes the event (evidence); it filters only when the question asks about publication."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from assistant.dates import Day, filters_from_question, named_days
from assistant.embedding import Embedder
from assistant.pipeline import Assistant
from assistant.types import Article, Filters

from ..conftest import CORPUS, make_settings

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`

TODAY = date(2025, 10, 28)
ELECTION_DOC = "3936_text"  # NEREL train: Hillary Clinton's 2008 campaign committee
NEREL_SAMPLE = ["022", "043", "363", "445", ELECTION_DOC, "15600_text", "21871_text", "24914_text", "37695_text",
                "39540_text", "023", "037", "041", "046", "073"]


@pytest.mark.parametrize("question", ["Кто победил на выборах 2008 года?", "Что подписали в октябре 2025 года?",
                                      "What happened in March 2017?", "Сколько погибло 12 апреля 2019 года?"])
def test_a_date_that_describes_the_event_is_not_a_filter(question: str) -> None:
    assert filters_from_question(question, Filters(), TODAY) == (Filters(), question)


def test_days_named_without_a_year_are_read() -> None:
    assert named_days("Сколько беспилотников сбили в ночь на 28 ноября?") == [Day(11, 28)]
    assert named_days("How many drones were downed on November 30?") == [Day(11, 30)]
    assert named_days("Что случилось 12 апреля 2019 года?") == [Day(4, 12, 2019)]
    assert named_days("Что было в 2019 году?") == []
    assert Day(11, 28).matches("2024-11-28") and not Day(11, 28, 2023).matches("2024-11-28")


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedder]:
    """The bundled model (without the demo corpus: these tests build their own small stores)."""
    helper = Assistant(make_settings(tmp_path_factory.mktemp("model")))
    yield helper.embedder
    helper.close()


@pytest.fixture(scope="module")
def nerel(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, shared_dir: Path) -> Iterator[Assistant]:
    """NEREL train texts (undated) and the dated seed article."""
    helper = Assistant(make_settings(tmp_path_factory.mktemp("nerel")), embedder=embedder)
    train = shared_dir / "eval-data/nerel-wikinews/train"
    report = helper.ingest([train / f"{d}.txt" for d in NEREL_SAMPLE] + [CORPUS / "000_348cd98c955992e8.txt"])
    assert not report.failed
    yield helper
    helper.close()


def test_a_year_describing_the_event_answers_over_undated_texts_beside_a_dated_one(nerel: Assistant) -> None:
    answer = nerel.ask("Кто из бывших первых леди США создал комитет для президентской кампании на выборах 2008 года?")
    assert answer.answered and answer.filters_applied == Filters()
    assert answer.citations[0].doc_id.startswith(ELECTION_DOC) and "Применены фильтры" not in answer.plain_text()


ARCHIVE = [
    Article("obit", "Умер бывший мэр Ветрогорска Пётр Синицын",
            "Умер бывший мэр Ветрогорска Пётр Синицын\n\nБывший мэр Ветрогорска Пётр Синицын скончался в возрасте 80 "
            "лет. На выборах мэра 2008 года он победил, набрав 61 процент голосов, и руководил городом десять лет.",
            "2018-03-02", "Ветрогорские вести"),
    Article("budget", "Ветрогорск утвердил бюджет", "Ветрогорск утвердил бюджет\n\nГородская дума Ветрогорска "
            "утвердила бюджет на следующий год. Расходы на дороги выросли на треть.", "2018-11-20", "Ветрогорские вести"),
    Article("fair", "В Ветрогорске открылась ярмарка", "В Ветрогорске открылась ярмарка\n\nНа главной площади "
            "Ветрогорска открылась осенняя ярмарка, на ней торгуют мёдом и яблоками.", "2025-10-27", "Ветрогорские вести"),
    *[Article(f"drones-{day}", f"ПВО за ночь сбила беспилотники ({day} ноября)",
              f"ПВО за ночь сбила беспилотники\n\nМинобороны: над Краснодарским краем за ночь уничтожены {n} "
              "беспилотников.", f"2024-11-{day}", "РИА Новости") for day, n in ((27, 5), (28, 14), (29, 8))],
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Assistant]:
    """A fully dated local archive (and one undated note), "today" being 28 October 2025."""
    undated = Article("note", "Справка о Ветрогорске", "Справка о Ветрогорске\n\nВетрогорск основан в 1760 году.")
    helper = Assistant(make_settings(tmp_path_factory.mktemp("archive")), embedder=embedder,
                       clock=lambda: TODAY)
    helper.ingest_articles([*ARCHIVE, undated])
    yield helper
    helper.close()


def test_a_later_article_recounting_the_event_answers_a_question_naming_its_year(archive: Assistant) -> None:
    answer = archive.ask("Сколько процентов голосов набрал Синицын на выборах мэра 2008 года?")
    assert answer.answered and answer.filters_applied == Filters()
    assert answer.citations[0].doc_id == "obit" and "61 процент" in answer.citations[0].quote


def test_a_question_about_publication_time_still_filters(archive: Assistant) -> None:
    answer = archive.ask("Что писали вчера о Ветрогорске?")
    assert answer.filters_applied == Filters(date_from=date(2025, 10, 27), date_to=date(2025, 10, 27))
    assert answer.citations and {c.doc_id for c in answer.citations} == {"fair"}
    assert "статей без даты, не вошедших в поиск по датам: 1" in answer.notes  # never dropped silently


def test_a_named_day_finds_the_post_of_that_day(archive: Assistant) -> None:
    answer = archive.ask("Сколько беспилотников сбили над Краснодарским краем в ночь на 28 ноября?")
    assert answer.filters_applied == Filters() and answer.citations[0].doc_id == "drones-28"
    english = archive.ask("How many drones were shot down over Krasnodar region on November 29?")
    assert english.citations and english.citations[0].doc_id == "drones-29"
