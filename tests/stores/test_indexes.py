"""The persistent indexes: the SQLite FTS5 keyword index (incremental, persistent, filtered inside) and the stored
sentence vectors (verbatim offsets, the model check, deletion, compute-and-store when missing)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from assistant import backends
from assistant.chunking import SentenceSplitter, Span, chunk_article, sentence_spans
from assistant.keyword import FtsKeywordIndex, KeywordIndex, terms
from assistant.pipeline import Assistant
from assistant.sentences import SentenceStore
from assistant.store import DocStore, ModelMismatchError
from assistant.types import Article, Filters

from ..conftest import SEED_QUESTION, embedder_claiming, make_settings

if TYPE_CHECKING:
    from assistant.backends import ArticleStore
    from assistant.keyword import KeywordSearch
    from assistant.settings import Settings

SPLITTER = SentenceSplitter(300, 1)
ARTICLES = [
    Article("a", "Мост в Бишкеке", "В Бишкеке открылся новый мост через реку Чу. Его строили три года.",
            "2016-05-02", "Вечерний Бишкек"),
    Article("b", "Выборы", "В Омске прошли выборы мэра. Явка составила сорок процентов.", "2017-09-10", "НГ"),
    Article("c", "Стадион", "В Омске построили стадион на двадцать тысяч зрителей.", None, "НГ"),
]


def put_all(store: ArticleStore, articles: list[Article]) -> None:
    """Store articles with their chunks (the keyword index is written in the same transaction)."""
    for art in articles:
        store.put(art, art.doc_id, chunk_article(art, SPLITTER))


def found(index: KeywordSearch, query: str, filters: Filters | None = None) -> list[str]:
    """Doc ids of the keyword hits, best first."""
    return [h.chunk_id.split(":")[0] for h in index.search(query, 10, filters)]


def open_keyword(settings: Settings) -> tuple[ArticleStore, Any]:
    """The article store and its keyword index in the settings' backend."""
    store = backends.open_articles(settings)
    return store, backends.open_keyword(settings, store)


def test_keyword_index_is_incremental_and_survives_a_restart(backend_settings: Settings) -> None:
    store, index = open_keyword(backend_settings)
    put_all(store, ARTICLES[:2])
    assert found(index, "мост в Бишкеке") == ["a"]
    assert found(index, "Омск") == ["b"]
    put_all(store, ARTICLES[2:])  # an upload adds its rows, nothing else is touched
    assert set(found(index, "Омск")) == {"b", "c"}
    assert found(index, "стадион") == ["c"]  # 'стадион' stems the same in the question and the article
    store.delete("b")
    assert found(index, "Омск") == ["c"] and found(index, "явка") == []
    edited = Article("a", "Мост", "В Бишкеке закрыли старый тоннель.", "2016-05-02", "Вечерний Бишкек")
    put_all(store, [edited])  # replacing an article replaces its indexed terms
    assert found(index, "мост через реку Чу") == ["a"]  # the title still says «Мост»
    assert found(index, "тоннель") == ["a"] and found(index, "три года") == []
    store.close()

    reopened, reindexed = open_keyword(backend_settings)
    assert found(reindexed, "тоннель") == ["a"] and found(reindexed, "стадион") == ["c"]
    assert found(reindexed, "Омск") == ["c"]  # the deletion persisted too
    assert reindexed.doc_ids() == ["a", "c"]
    reindexed.delete_doc("c")
    assert reindexed.doc_ids() == ["a"] and found(reindexed, "стадион") == []
    reopened.close()


def test_keyword_filters_apply_inside_the_index(backend_settings: Settings) -> None:
    store, index = open_keyword(backend_settings)
    put_all(store, ARTICLES)
    assert set(found(index, "Омск")) == {"b", "c"}
    assert found(index, "Омск", Filters(date_from=date(2017, 1, 1))) == ["b"]
    assert found(index, "Омск", Filters(date_to=date(2017, 12, 31))) == ["b"]  # the undated article is out
    assert found(index, "Омск Бишкек", Filters(date_to=date(2016, 12, 31))) == ["a"]
    assert found(index, "Омск Бишкек", Filters(sources=("Вечерний Бишкек",))) == ["a"]
    assert found(index, "Омск", Filters(sources=("Day.Az",))) == []
    store.close()


def test_keyword_scores_and_idf_agree_with_bm25s(backend_settings: Settings) -> None:
    store, index = open_keyword(backend_settings)
    put_all(store, ARTICLES)
    reference = KeywordIndex([f"{a.title}\n{a.text}" for a in ARTICLES])
    for term in [*terms("Омск мост выборы"), "несуществующ"]:
        assert index.idf(term) == pytest.approx(reference.idf(term))
    assert index.search("", 5) == [] and index.search("и в на", 5) == []
    store.close()


def test_an_old_store_is_indexed_once_on_open(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "articles.sqlite")
    put_all(store, ARTICLES)  # written without the keyword index (as before it existed)
    index = FtsKeywordIndex(store)
    assert set(found(index, "Омск")) == {"b", "c"}
    store.close()


def test_stored_sentences_are_verbatim_and_match_fresh_embeddings(assistant: Assistant) -> None:
    hits = assistant.retriever.retrieve(SEED_QUESTION, assistant.embedder.embed_query(SEED_QUESTION), 3)
    article = assistant.get_article(hits[0].chunk.doc_id)
    assert article is not None
    spans = sentence_spans(article.text)
    stored = assistant.sentences.get(article.doc_id, article.text)
    assert stored is not None and [tuple(o) for o in stored.offsets.tolist()] == [(s.start, s.end) for s in spans]
    sample = spans[:4]
    fresh = assistant.embedder.embed_passages([article.text[s.start:s.end] for s in sample])
    got = assistant.sentences.sentence_vectors(article, sample)
    assert got.shape == fresh.shape and np.allclose(got, fresh, atol=2e-2)
    assert (got * fresh).sum(1).min() > 0.999
    assert assistant.sentences.get(article.doc_id, article.text + " ") is None  # stale text: not trusted


def test_sentence_store_checks_the_model_computes_what_is_missing_and_deletes(tmp_path: Path,
                                                                             assistant: Assistant) -> None:
    data = tmp_path / "data"
    store = Assistant(make_settings(data), embedder=assistant.embedder)
    art = ARTICLES[0]
    store.ingest_articles([art])
    assert store.sentences.doc_ids() == ["a"] and store.sentences.count() == 2
    store.sentences.delete_doc("a")  # e.g. a store written before sentence vectors existed
    spans = sentence_spans(art.text)
    vecs = store.sentences.sentence_vectors(art, spans)  # computed, then stored
    assert vecs.shape == (2, 384) and store.sentences.doc_ids() == ["a"]
    assert np.allclose(store.sentences.sentence_vectors(art, spans[::-1]), vecs[::-1])
    assert store.sentences.sentence_vectors(art, [Span(0, 9)]).shape == (1, 384)  # a span not stored before
    store.delete("a")
    assert store.sentences.doc_ids() == [] and store.retriever.keyword.search("Бишкек", 5) == []
    store.close()

    other = embedder_claiming(assistant.embedder, "st:some-other-model")
    with pytest.raises(ModelMismatchError, match="sentences.sqlite"):
        SentenceStore(data / "sentences.sqlite", other)


def test_stored_spans_are_the_sentences_of_the_article(assistant: Assistant) -> None:
    doc = assistant.list_docs()[0]
    article = assistant.get_article(doc.doc_id)
    assert article is not None
    assert assistant.sentences.sentence_spans(article) == sentence_spans(article.text)
    edited = Article(article.doc_id, article.title, article.text + " Ещё одно предложение.")
    assert assistant.sentences.sentence_spans(edited) == sentence_spans(edited.text)  # not stored: split anew


def test_fusion_keeps_each_retrievers_best_chunks() -> None:
    from assistant.retrieving import rrf, with_leaders

    dense = ["a", "b", "c", "d", "e"]
    keyword = ["rare-name", "a", "b", "c", "d"]  # only the keyword search found the chunk naming «Костенок»
    fused = rrf([dense, keyword])
    assert "rare-name" not in sorted(fused, key=lambda c: -fused[c])[:3]  # plain fusion drops it
    order = with_leaders(fused, [dense, keyword], 3)
    assert order[:3] == ["a", "b", "rare-name"] and sorted(order) == sorted(fused)
    assert with_leaders(fused, [dense, keyword], 8)[:5] == sorted(fused, key=lambda c: -fused[c])[:5]
