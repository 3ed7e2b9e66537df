"""The pipeline end to end on the real model and a real Chroma: ingest, ask, re-ingest, edit, prune, refuse."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from assistant.pipeline import Assistant
from assistant.store import ModelMismatchError
from assistant.types import Filters

from ..conftest import CORPUS, SEED_DATE, SEED_QUESTION, SEED_QUOTE, embedder_claiming, make_settings

SEED_FILE = "000_348cd98c955992e8.txt"
SEED_TEXT = ("Лидеры двух стран обсудили транзит грузов через Каспийское море. Стороны договорились увеличить "
             "объём перевозок вдвое к 2030 году.\n\nПо итогам встречи подписаны соглашения о транспортном "
             "коридоре и о цифровой таможне. Следующий саммит пройдёт в Баку.")


def test_seed_question_quotes_the_seed_article(assistant: Assistant) -> None:
    answer = assistant.ask(SEED_QUESTION)
    assert answer.answered and answer.lang == "ru"
    first = answer.citations[0]
    assert SEED_QUOTE in first.quote
    assert (first.date, first.source) == (SEED_DATE, "Day.Az")
    assert first.title.startswith("Визит Ильхама Алиева")
    assert len(first.quote) <= 400


def test_a_story_is_answered_alike_whether_its_headline_is_a_line_or_a_field(tmp_path: Path,
                                                                              assistant: Assistant) -> None:
    import json

    import numpy as np

    headline, body = "Саммит в Астане завершился", SEED_TEXT
    (tmp_path / "line").mkdir()
    (tmp_path / "line" / "story.txt").write_text(f"{headline}\n\n{body}", encoding="utf-8")
    (tmp_path / "field").mkdir()
    (tmp_path / "field" / "story.jsonl").write_text(json.dumps({"title": headline, "text": body}, ensure_ascii=False),
                                                    encoding="utf-8")
    scored = []
    for form in ("line", "field"):
        helper = Assistant(make_settings(tmp_path / f"data-{form}"), embedder=assistant.embedder)
        helper.ingest([tmp_path / form])
        trace = helper.trace("Что решили лидеры о транзите?")
        scored.append((trace.answer.citations[0].quote, trace.scored.features.matrix))
        helper.close()
    assert scored[0][0] == scored[1][0]
    assert np.allclose(scored[0][1], scored[1][1], equal_nan=True)  # the ranker sees one article, not two forms


def test_every_quote_is_a_verbatim_span(assistant: Assistant) -> None:
    questions = [SEED_QUESTION, "Какая лаборатория лишена аккредитации?", "Что заблокировал Роскомнадзор?",
                 "Кто посетил центр искусственного интеллекта Alem.ai?"]
    for question in questions:
        for c in assistant.ask(question).citations:
            article = assistant.get_article(c.doc_id)
            assert article is not None
            assert article.text[c.start:c.end] == c.quote
            assert (c.title, c.date, c.source) == (article.title, article.date, article.source)


@pytest.mark.parametrize("question", ["Какой рецепт борща самый вкусный?", "Какая столица Австралии?",
                                      "What is the capital of Australia?"])
def test_absent_answers_are_declined_in_the_question_language(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.answered and answer.citations == []
    expected = "В корпусе нет ответа" if answer.lang == "ru" else "no answer"
    assert expected in answer.text


def test_english_question_gets_an_english_reply(assistant: Assistant) -> None:
    assert assistant.ask("What documents were signed during the visit to Kazakhstan?").lang == "en"


def test_filters_restrict_and_are_reported(assistant: Assistant) -> None:
    only_2016 = Filters(date_from=date(2016, 1, 1), date_to=date(2016, 12, 31))
    answer = assistant.ask(SEED_QUESTION, filters=only_2016)
    assert answer.filters_applied == only_2016
    assert all(c.date and c.date.startswith("2016") for c in answer.citations)
    assert "2016-01-01" in answer.filters_applied.describe("ru")
    by_source = assistant.ask(SEED_QUESTION, filters=Filters(sources=("Day.Az",)))
    assert by_source.citations and {c.source for c in by_source.citations} == {"Day.Az"}


def test_stats(assistant: Assistant) -> None:
    info = assistant.stats()
    assert info.documents == len(list(CORPUS.glob("*.txt")))
    assert info.chunks > info.documents
    assert "multilingual-e5-small" in info.model
    assert info.sources["Day.Az"] == 1


def test_reingest_is_unchanged_then_edit_replaces_then_prune(tmp_path: Path, assistant: Assistant) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    shutil.copy(CORPUS / SEED_FILE, folder / SEED_FILE)
    (folder / "other.txt").write_text("Другая новость\n\nВ Бишкеке открылся новый мост через реку.", encoding="utf-8")
    store = Assistant(make_settings(tmp_path / "data"), embedder=assistant.embedder)
    assert store.ingest([folder]).summary() == "added 2, updated 0, unchanged 0, removed 0, failed 0"
    assert store.ingest([folder]).summary() == "added 0, updated 0, unchanged 2, removed 0, failed 0"
    docs_before, chunks_before = store.docstore.counts()

    seed = folder / SEED_FILE
    seed.write_text(seed.read_text(encoding="utf-8").split("\n\n")[0] + "\n", encoding="utf-8")  # much shorter
    report = store.ingest([folder])
    assert report.count("updated") == 1 and report.count("unchanged") == 1
    docs, chunks = store.docstore.counts()
    assert docs == docs_before and chunks < chunks_before
    assert store.vectors.count() == chunks  # old chunks are gone from Chroma too

    (folder / "other.txt").unlink()
    assert store.ingest([folder]).count("removed") == 0  # nothing is removed without --prune
    pruned = store.ingest([folder], prune=True)
    assert pruned.count("removed") == 1
    assert store.docstore.counts()[0] == 1 and not store.ask("Где открылся новый мост?").citations
    store.close()


def test_a_failed_file_does_not_stop_the_batch(tmp_path: Path, assistant: Assistant) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good.txt").write_text("Хорошая новость\n\nВ Омске построили стадион.", encoding="utf-8")
    (folder / "bad.jsonl").write_text('{"title": "no text"}\n', encoding="utf-8")
    store = Assistant(make_settings(tmp_path / "data"), embedder=assistant.embedder)
    report = store.ingest([folder])
    assert report.count("added") == 1 and report.count("failed") == 1
    assert "bad.jsonl:1" in report.failed[0].path and 'field "text"' in report.failed[0].reason
    store.close()


def test_querying_with_another_model_is_refused(tmp_path: Path, assistant: Assistant) -> None:
    data = tmp_path / "data"
    store = Assistant(make_settings(data), embedder=assistant.embedder)
    store.ingest([CORPUS / SEED_FILE])
    store.close()

    other = embedder_claiming(assistant.embedder, "st:some-other-model")
    with pytest.raises(ModelMismatchError, match="built with embedding model 'multilingual-e5-small'"):
        Assistant(make_settings(data), embedder=other)


def test_quotes_stay_inside_one_paragraph(assistant: Assistant) -> None:
    for question in [SEED_QUESTION, "Кто посетил центр искусственного интеллекта Alem.ai?"]:
        for c in assistant.ask(question).citations:
            assert "\n" not in c.quote
