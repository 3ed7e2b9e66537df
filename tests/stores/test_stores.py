"""The stores behind their interfaces, in both backends (SQLite files, and a real PostgreSQL): the same calls give
the same results, keyword scores included; bad database settings get one clear line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from assistant import backends
from assistant.backends import BackendError
from assistant.chunking import SentenceSplitter, Span, chunk_article
from assistant.settings import Settings
from assistant.store import ModelMismatchError
from assistant.types import Article

from ..conftest import fresh_database, make_settings
from ..pg_server import PgServer

SPLITTER = SentenceSplitter(60, 0)
ARTICLES = [
    Article("a", "Мост в Бишкеке", "В Бишкеке открылся новый мост через реку Чу. Его строили три года. Мост длиной "
            "двести метров соединил два района города.", "2016-05-02", "Вечерний Бишкек", "https://x.kg/a", "/in/a.txt"),
    Article("b", "Выборы", "В Омске прошли выборы мэра. Явка составила сорок процентов. Мэром стал бывший "
            "вице-губернатор.", "2017-09-10", "НГ", "", "/in/b.txt"),
    Article("c", "Стадион", "В Омске построили стадион на двадцать тысяч зрителей. Мост к стадиону откроют позже.",
            None, "НГ", "", "/other/c.txt"),
]


def stored(settings: Settings) -> backends.ArticleStore:
    """An article store holding ARTICLES."""
    store = backends.open_articles(settings)
    backends.open_keyword(settings, store)
    for art in ARTICLES:
        store.put(art, f"hash-{art.doc_id}", chunk_article(art, SPLITTER))
    return store


def test_article_store_contract(backend_settings: Settings) -> None:
    store = stored(backend_settings)
    assert store.counts()[0] == 3 and store.has_dates() and store.sources() == {"НГ": 2, "Вечерний Бишкек": 1}
    assert store.content_hash("a") == "hash-a" and store.content_hash("zz") is None
    got = store.get("a")
    assert got is not None and (got.text, got.date, got.url, got.path) == (ARTICLES[0].text, "2016-05-02",
                                                                          "https://x.kg/a", "/in/a.txt")
    chunks = store.chunks_of("a")
    assert len(chunks) > 1 and all(ARTICLES[0].text[c.start:c.end] == c.text for c in chunks)
    assert [c.chunk_id for c in store.all_chunks()][:len(chunks)] == [c.chunk_id for c in chunks]
    by_id = store.chunks_by_ids(["b:0", "a:1", "nope:0", "a:99"])
    assert set(by_id) == {"b:0", "a:1"} and by_id["a:1"].text == chunks[1].text
    assert [d.doc_id for d in store.list_docs()] == ["b", "a", "c"]  # newest first, undated last
    assert sorted(store.doc_ids_with_path_prefix(["/in"])) == [("a", "/in/a.txt"), ("b", "/in/b.txt")]
    version = store.version()
    store.delete("b")
    assert store.version() > version and store.get("b") is None and store.chunks_of("b") == []
    assert store.counts()[0] == 2
    store.close()


def test_keyword_search_ranks_alike_in_both_backends(pg: PgServer, tmp_path: Path) -> None:
    """PostgreSQL's BM25 over the postings is FTS5's bm25(): the same chunks with the same scores."""
    embedded = stored(make_settings(tmp_path / "e"))
    server_settings = make_settings(tmp_path / "s", database_url=fresh_database(pg))
    server = stored(server_settings)
    kw_e = backends.open_keyword(make_settings(tmp_path / "e"), embedded)
    kw_s = backends.open_keyword(server_settings, server)
    for query in ["мост", "Омск стадион", "выборы мэра явка", "двести метров мост Бишкек", "ничего такого"]:
        hits_e, hits_s = kw_e.search(query, 10), kw_s.search(query, 10)
        assert [h.score for h in hits_s] == pytest.approx([h.score for h in hits_e], rel=1e-6), query
        assert [h.chunk_id for h in hits_s] == [h.chunk_id for h in hits_e], query  # ties too: in indexing order
    for term in ["мост", "омск", "несуществующ"]:
        assert kw_s.idf(term) == pytest.approx(kw_e.idf(term))
    server.delete("a")
    embedded.delete("a")
    assert [h.score for h in kw_s.search("мост", 10)] == pytest.approx([h.score for h in kw_e.search("мост", 10)])


def test_sentence_store_contract(backend_settings: Settings, assistant: object) -> None:
    from assistant.pipeline import Assistant

    assert isinstance(assistant, Assistant)
    store = backends.open_sentences(backend_settings, assistant.embedder)
    art = ARTICLES[0]
    spans = [Span(0, 44), Span(45, 63)]
    vecs = assistant.embedder.embed_passages([art.text[s.start:s.end] for s in spans])
    store.put("a", art.text, spans, vecs)
    assert store.doc_ids() == ["a"] and store.count() == 2
    assert store.sentence_spans(art) == spans
    assert np.array_equal(store.sentence_vectors(art, spans[::-1]), vecs[::-1])
    store.delete_doc("a")
    assert store.doc_ids() == [] and store.count() == 0
    store.close()
    from tests.conftest import embedder_claiming

    other = embedder_claiming(assistant.embedder, "st:some-other-model")
    with pytest.raises(ModelMismatchError, match="some-other-model"):
        backends.open_sentences(backend_settings, other)


def test_float16_sentence_vectors_take_half_the_bytes_and_are_read_beside_float32_rows(
        pg: PgServer, tmp_path: Path, assistant: object) -> None:
    import psycopg

    from assistant.chunking import sentence_spans
    from assistant.pipeline import Assistant

    assert isinstance(assistant, Assistant)
    url = fresh_database(pg)
    full = backends.open_sentences(make_settings(tmp_path, database_url=url), assistant.embedder)
    half = backends.open_sentences(make_settings(tmp_path, database_url=url, sentence_vectors_dtype="float16"),
                                   assistant.embedder)
    vecs = {}
    for store, art in ((full, ARTICLES[0]), (half, ARTICLES[1])):
        spans = sentence_spans(art.text)
        vecs[art.doc_id] = assistant.embedder.embed_passages([art.text[s.start:s.end] for s in spans])
        store.put(art.doc_id, art.text, spans, vecs[art.doc_id])
    with psycopg.connect(url) as conn:
        per_sentence = dict(conn.execute("SELECT doc_id, length(vectors) / n FROM sentences").fetchall())
    assert per_sentence == {"a": 384 * 4, "b": 384 * 2}
    for store in (full, half):  # each store reads both kinds of row, as float32
        got_a = store.sentence_vectors(ARTICLES[0], sentence_spans(ARTICLES[0].text))
        got_b = store.sentence_vectors(ARTICLES[1], sentence_spans(ARTICLES[1].text))
        assert got_a.dtype == got_b.dtype == np.float32 and np.array_equal(got_a, vecs["a"])
        assert np.abs(got_b - vecs["b"]).max() < 1e-3 and not np.array_equal(got_b, vecs["b"])
    full.close()
    half.close()


def test_feedback_store_contract(backend_settings: Settings) -> None:
    first = backends.open_feedback(backend_settings)
    answer = {"question": "Что открыли?", "answer_plain": "Мост [1]", "citations": [{"n": 1, "doc_id": "a"}],
              "filters_applied": {"sources": ["НГ"]}}
    n = first.add(channel="web", rating=1, answer=answer, user="ann")
    first.add(channel="slack", rating=-1, answer=answer, comment="не то")
    with pytest.raises(ValueError, match="rating"):
        first.add(channel="web", rating=0, answer=answer)
    first.set_comment(n, "точно")
    replica = backends.open_feedback(backend_settings)  # another process, or another replica
    records = replica.all()
    assert [(r.channel, r.user, r.rating, r.comment) for r in records] == [("web", "ann", 1, "точно"),
                                                                          ("slack", "", -1, "не то")]
    assert records[0].created_at.endswith("Z") and json.loads(records[0].citations) == [{"n": 1, "doc_id": "a"}]
    out = io.StringIO()
    assert replica.export(out, "csv") == 2 and out.getvalue().startswith("id,created_at,channel,user")
    first.close()
    replica.close()


def test_backend_is_chosen_by_the_url(tmp_path: Path) -> None:
    assert backends.backend_name(make_settings(tmp_path)) == "embedded"
    assert backends.backend_name(make_settings(tmp_path, database_url="postgres://u@h/db")) == "postgresql"
    with pytest.raises(BackendError, match="unknown scheme 'mysql'"):
        backends.backend_name(make_settings(tmp_path, database_url="mysql://u:secret@h/db"))


def test_bad_database_settings_get_a_clear_message(pg: PgServer, tmp_path: Path) -> None:
    from assistant.backends import postgres
    from tests.conftest import free_port

    down = make_settings(tmp_path, database_url=f"postgresql://u:topsecret@127.0.0.1:{free_port()}/db")
    with pytest.raises(BackendError, match="is PostgreSQL running there") as err:
        backends.open_articles(down)
    assert "topsecret" not in str(err.value)
    stranger = make_settings(tmp_path, database_url=f"postgresql://nobody:pw@127.0.0.1:{pg.port}/postgres")
    with pytest.raises(BackendError, match="user name or password"):
        backends.open_articles(stranger)
    missing = make_settings(tmp_path, database_url=pg.url_of("no_such_db"))
    with pytest.raises(BackendError, match="create the database"):
        backends.open_articles(missing)
    url = fresh_database(pg)
    backends.open_articles(make_settings(tmp_path, database_url=url))
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO assistant_schema VALUES (%s)", (postgres.SCHEMA_VERSION + 1,))
    postgres._databases.pop(url, None)
    with pytest.raises(BackendError, match="newer than this assistant's"):
        backends.open_articles(make_settings(tmp_path, database_url=url))


def test_a_chroma_server_that_is_down_gets_a_clear_message(tmp_path: Path) -> None:
    from assistant.store import ChromaUnavailableError, chroma_client
    from tests.conftest import free_port

    with pytest.raises(ChromaUnavailableError, match=r"cannot reach the Chroma server at 127.0.0.1:\d+ .*chroma run"):
        chroma_client(make_settings(tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}"))
