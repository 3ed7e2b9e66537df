"""Duplicate stories: exact copies stored once, near-duplicates clustered and quoted once with every source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import backends
from assistant.dedup import StoryIndex, collapse, normalise, renumber_text, text_hash
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.types import Article, Citation, SourceRef

from ..conftest import make_settings

STORY = (
    "Сильный снегопад парализовал движение в Новосибирске во вторник утром. По данным мэрии, за ночь выпало "
    "около сорока сантиметров снега, на дорогах города образовались пробки длиной в десятки километров. "
    "Городские службы вывели на улицы триста единиц уборочной техники, а школы перевели младшие классы на "
    "дистанционное обучение. Синоптики обещают, что снег будет идти ещё двое суток, и просят водителей без "
    "необходимости не выезжать на личном транспорте."
)
EDITED = (
    "Сильный снегопад парализовал движение в Новосибирске во вторник утром, сообщает корреспондент агентства. По "
    "данным мэрии, за ночь выпало около сорока сантиметров снега, на дорогах образовались пробки длиной в десятки "
    "километров. Городские службы вывели на улицы триста единиц уборочной техники, а школы перевели младшие классы "
    "на дистанционное обучение. Синоптики обещают, что снег будет идти ещё двое суток, и просят водителей без "
    "необходимости не выезжать на личном транспорте."
)
OTHER = (
    "В Калининграде открылся новый музей янтаря: экспозиция занимает три этажа бывшего форта и рассказывает о "
    "добыче и обработке камня с древности до наших дней. Первыми посетителями стали школьники, а билеты на "
    "первые выходные раскуплены полностью, сообщили в администрации музея. Директор пообещал продлить часы работы."
)
QUESTION = "Сколько снега выпало в Новосибирске?"


def article(doc_id: str, text: str, source: str = "РИА Новости", day: str | None = "2024-11-26") -> Article:
    """A small article for the index."""
    return Article(doc_id, doc_id, text, day, source, f"https://example.org/{doc_id}")


@pytest.fixture
def index(backend_settings: Settings) -> Iterator[StoryIndex]:
    """An empty story index (SQLite, and PostgreSQL)."""
    idx = backends.open_stories(backend_settings)
    assert isinstance(idx, StoryIndex)
    yield idx
    idx.close()


def test_normalised_text_ignores_case_markup_and_links() -> None:
    assert normalise("**Ёлка** в Москве!\n[https://bbc.in/x](https://bbc.in/x)") == "елка в москве"
    assert text_hash("Снег  идёт.") == text_hash("снег идет")


def test_near_duplicate_joins_the_cluster_and_others_do_not(index: StoryIndex) -> None:
    assert index.add(article("ria", STORY)).kind == "new"
    match = index.add(article("bbc", EDITED, "BBC", "2024-11-27"))
    assert (match.kind, match.of, match.cluster) == ("near", "ria", "ria") and match.similarity >= 0.8
    assert index.add(article("museum", OTHER)).kind == "new"
    assert index.add(article("later", STORY, day="2024-12-05")).kind == "new"  # a week later: another event
    bulletin = "Российская армия освободила населенный пункт {} в ДНР, сообщили в Минобороны."
    index.add(article("v1", bulletin.format("Воровское")))
    assert index.add(article("v2", bulletin.format("Раздольное"))).kind == "new"  # a template, not a copy
    assert index.cluster_of(["ria", "bbc", "museum", "v2"]) == {"ria": "ria", "bbc": "ria", "museum": "museum",
                                                                "v2": "v2"}
    assert index.members("ria") == ["ria", "bbc"]
    index.remove("bbc")
    assert index.members("ria") == ["ria"]


def test_conflicting_numbers_are_another_report(index: StoryIndex) -> None:
    index.add(article("a", STORY))
    changed = STORY.replace("сорока", "40").replace("триста", "300")
    index.add(article("b", changed.replace("40", "55")))
    assert index.add(article("c", changed)).kind == "new"  # 40 cm vs 55 cm: not the same report


def test_exact_copy_claimed_once(index: StoryIndex) -> None:
    assert index.claim(article("a", STORY)) is None
    assert index.claim(article("b", "  " + STORY.upper())) == "a"  # pending in the same batch
    index.add(article("a", STORY))
    index.end_batch()
    assert index.claim(article("c", STORY)) == "a"
    assert index.claim(article("a", STORY)) is None  # itself, re-ingested
    assert index.claim(article("d", STORY, day="2024-12-05")) is None  # the same words another day: a new event


def test_one_story_under_two_headlines_is_one_text(index: StoryIndex) -> None:
    first = Article("a", "Снегопад в Новосибирске", f"Снегопад в Новосибирске\n\n{STORY}", "2024-11-26", "РИА")
    other = Article("b", "Город встал в пробках", f"Город встал в пробках\n\n{STORY}", "2024-11-26", "ТАСС")
    assert index.claim(first) is None and index.claim(other) == "a"  # outlets headline one story differently
    only = Article("c", "Снегопад", "Снегопад", "2024-11-26", "РИА")
    assert index.claim(only) is None  # a headline alone is compared as it is


def test_collapse_quotes_a_story_once_with_every_source() -> None:
    def cit(n: int, doc_id: str, start: int = 0) -> Citation:
        return Citation(doc_id, f"title {doc_id}", "2024-11-26", f"src {doc_id}", "", "снег", start, start + 4, 0.9, n)

    refs = {"ria": [SourceRef("ria", "title ria", "2024-11-26", "РИА"), SourceRef("bbc", "title bbc", "2024-11-27",
                                                                                    "BBC")]}
    before = [cit(1, "ria"), cit(2, "bbc"), cit(3, "museum"), cit(4, "ria", 50)]
    after = collapse(before, {"ria": "ria", "bbc": "ria", "museum": "museum"}, lambda c: refs.get(c, []))
    assert [(c.doc_id, c.n) for c in after] == [("ria", 1), ("museum", 2), ("ria", 3)]
    assert [r.source for r in after[0].also] == ["BBC"] and after[1].also == () and after[2].also == ()
    assert renumber_text("см. [1], [2] и [3]", before, after) == "см. [1], [1] и [2]"


@pytest.fixture
def newsroom(assistant: Assistant, tmp_path: Path) -> Iterator[tuple[Assistant, Path]]:
    """A fresh store (sharing the loaded model) and a folder with a story, its syndicated copy and an exact copy."""
    folder = tmp_path / "in"
    folder.mkdir()
    header = "title Снегопад в Новосибирске\ndate {}\nsource {}\nurl https://example.org/{}\n\n"
    (folder / "ria.txt").write_text(header.format("2024-11-26", "РИА Новости", "ria") + STORY, encoding="utf-8")
    (folder / "bbc.txt").write_text(header.format("2024-11-26", "Би-би-си", "bbc") + EDITED, encoding="utf-8")
    (folder / "zz-copy.txt").write_text(header.format("2024-11-26", "РИА Новости", "copy") + STORY, encoding="utf-8")
    (folder / "museum.txt").write_text(header.format("2024-11-26", "Калининград.Ру", "m") + OTHER, encoding="utf-8")
    helper = Assistant(make_settings(tmp_path / "data"), embedder=assistant.embedder)
    yield helper, folder
    helper.close()


def test_ingest_stores_exact_copies_once_and_quotes_syndicated_story_once(newsroom: tuple[Assistant, Path]) -> None:
    helper, folder = newsroom
    report = helper.ingest([folder])
    by_file = {Path(r.path).name: r for r in report.results}
    assert by_file["zz-copy.txt"].status == "duplicate" and "ria" in by_file["zz-copy.txt"].reason
    assert report.summary() == "added 3, updated 0, unchanged 0, removed 0, failed 0, duplicate 1"
    assert by_file["ria.txt"].status == "added" and "near-duplicate of bbc" in by_file["ria.txt"].reason
    assert helper.stats().documents == 3
    assert helper.ingest([folder]).count("duplicate") == 1  # reported again, still stored once

    answer = helper.ask(QUESTION)
    assert answer.answered and "сорока сантиметров" in answer.citations[0].quote
    story_docs = {c.doc_id for c in answer.citations} & {by_file["ria.txt"].doc_id, by_file["bbc.txt"].doc_id}
    assert len(story_docs) == 1, "the syndicated story is quoted from one article only"
    first = answer.citations[0]
    listed = {(first.source, first.date)} | {(r.source, r.date) for r in first.also}
    assert listed == {("РИА Новости", "2024-11-26"), ("Би-би-си", "2024-11-26")}
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    data = answer.to_dict()["citations"][0]
    assert data["also"][0]["url"].startswith("https://example.org/") and "«" in data["citation"]

    helper.delete(by_file["bbc.txt"].doc_id)  # deleting a member leaves the story with one source
    assert helper.ask(QUESTION).citations[0].also == ()


@pytest.mark.slow
def test_precision_on_labelled_telegram_posts(shared_dir: Path) -> None:
    import importlib.util
    import sys

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("dedup_eval", ROOT / "scripts" / "dedup_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    result = module.evaluate(shared_dir / "eval-data" / "telegram-news-posts")
    assert result.tp + result.fp + result.fn + result.tn == 100
    assert result.precision >= 0.8 and result.recall >= 0.6, result  # docs/dedup.md states the measured figures
