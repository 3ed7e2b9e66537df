"""Keyword search: Russian/English stemming (PyStemmer), a persistent SQLite FTS5 index of the stored chunks
(the default), and an in-memory bm25s index (kept for comparison and small ad-hoc corpora)."""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .types import Article, Chunk, Filters

if TYPE_CHECKING:
    from .store import DocStore

WORD_RE = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
CYRILLIC_RE = re.compile(r"[а-яё]")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_RUSSIAN

    return frozenset(STOPWORDS_RUSSIAN) | frozenset(STOPWORDS_EN)


@lru_cache(maxsize=2)
def _stemmer(lang: str) -> object:
    import Stemmer

    return Stemmer.Stemmer(lang)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The stem of a lower-cased word, Russian or English by its letters."""
    lang = "russian" if CYRILLIC_RE.search(word) else "english"
    return str(_stemmer(lang).stemWord(word))  # type: ignore[attr-defined]


def terms(text: str, keep_stopwords: bool = False) -> list[str]:
    """Stemmed content terms of a text (lower-cased, ё as е, stopwords dropped)."""
    words = (w.lower().replace("ё", "е") for w in WORD_RE.findall(text))
    stop = frozenset() if keep_stopwords else _stopwords()
    return [stem(w) for w in words if w not in stop and (len(w) > 1 or w.isdigit())]


class KeywordIndex:
    """In-memory BM25 (bm25s) over chunk texts; ``scores`` gives every chunk's score for a query."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self.size = len(texts)
        self.bm25 = bm25s.BM25(k1=1.2, b=0.75)
        corpus = [terms(t) or ["\u2400"] for t in texts]
        self.df: Counter[str] = Counter(t for doc in corpus for t in set(doc))
        if corpus:
            self.bm25.index(corpus, show_progress=False)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term among the chunks (rare terms weigh more)."""
        return bm25_idf(self.size, self.df.get(term, 0))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (zeros when the query has no known terms)."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        vocab = self.bm25.vocab_dict
        q = [t for t in terms(query) if t in vocab]
        if not q:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(q), dtype=np.float32)

    def top(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(chunk position, score) of the k best chunks with a positive score, within the mask."""
        scores = self.scores(query)
        if mask is not None and len(scores):
            scores = np.where(mask, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]


FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(
    terms, doc_id UNINDEXED, idx UNINDEXED, date_int UNINDEXED, source UNINDEXED,
    tokenize = "unicode61 remove_diacritics 0 tokenchars '-'''"
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms_vocab USING fts5vocab(chunk_terms, 'row');
"""


@dataclass(frozen=True)
class KeywordHit:
    """A chunk found by keyword search, with its BM25 score (higher is better)."""

    chunk_id: str
    score: float


class KeywordSearch(ABC):
    """Keyword search over the stored chunks: what an engine must offer to serve as the keyword index.

    The embedded default is ``FtsKeywordIndex`` (SQLite FTS5 beside the articles); a deployment that outgrows one
    machine implements this over its distributed engine (OpenSearch with a Russian analyzer, or Chroma Cloud's
    BM25 sparse index).
    """

    @abstractmethod
    def search(self, query: str, k: int, filters: Filters | None = None) -> list[KeywordHit]:
        """The k best chunks for the query's terms that pass the filters, best first."""

    @abstractmethod
    def idf(self, term: str, version: int | None = None) -> float:
        """Inverse document frequency of a stemmed term among the chunks (rare terms weigh more); ``version`` is the
        article store's version the caller already read (saves reading it again per term)."""


def fts_query(query: str) -> str:
    """An FTS5 MATCH expression: any of the query's stemmed terms, each quoted."""
    unique = dict.fromkeys(terms(query))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)


def fts_filter(filters: Filters | None) -> tuple[str, list[object]]:
    """SQL conditions (and their parameters) for the date range and sources, applied inside the index."""
    if filters is None or filters.is_empty():
        return "", []
    sql, params = "", []  # type: tuple[str, list[object]]
    if filters.date_from:
        sql += " AND date_int >= ?"
        params.append(int(filters.date_from.strftime("%Y%m%d")))
    if filters.date_to:
        sql += " AND date_int <= ? AND date_int > 0"
        params.append(int(filters.date_to.strftime("%Y%m%d")))
    if filters.sources:
        sql += f" AND source IN ({', '.join('?' * len(filters.sources))})"
        params.extend(filters.sources)
    return sql, params


class FtsKeywordIndex(KeywordSearch):
    """BM25 over stemmed chunk terms in SQLite FTS5, in the article store's database.

    Written in the same transaction as the article (``on_put`` / ``on_delete``), so it is persistent and
    incremental: an upload adds its rows, a restart opens the file, nothing is rebuilt.
    """

    def __init__(self, docstore: DocStore) -> None:
        self.docstore = docstore
        self._idf: dict[str, float] = {}
        self._idf_version = -1
        self._lock = threading.Lock()
        with docstore.write() as conn:
            conn.executescript(FTS_SCHEMA)
            self._migrate(conn)
        docstore.hooks.append(self)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Index the chunks of a store written before this index existed (once)."""
        if conn.execute("SELECT 1 FROM chunk_terms LIMIT 1").fetchone() is not None:
            return
        rows = conn.execute(
            'SELECT c.doc_id, c.idx, a.title, substr(a.text, c.start + 1, c."end" - c.start), a.date, a.source '
            "FROM chunks c JOIN articles a USING (doc_id)"
        ).fetchall()
        conn.executemany("INSERT INTO chunk_terms (terms, doc_id, idx, date_int, source) VALUES (?, ?, ?, ?, ?)",
                         [(index_terms(r[2], r[3]), r[0], r[1], date_int(r[4]), r[5]) for r in rows])

    def on_put(self, conn: sqlite3.Connection, article: Article, chunks: Sequence[Chunk]) -> None:
        """Index an article's chunks (replacing what was indexed for it)."""
        self.on_delete(conn, article.doc_id)
        day = date_int(article.date)
        conn.executemany(
            "INSERT INTO chunk_terms (terms, doc_id, idx, date_int, source) VALUES (?, ?, ?, ?, ?)",
            [(index_terms(article.title, c.text), article.doc_id, c.index, day, article.source) for c in chunks],
        )

    def on_delete(self, conn: sqlite3.Connection, doc_id: str) -> None:
        """Remove an article's chunks from the index."""
        conn.execute("DELETE FROM chunk_terms WHERE doc_id = ?", (doc_id,))

    def doc_ids(self) -> list[str]:
        """Every article id with indexed chunks (for consistency checks)."""
        with self.docstore.read() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT doc_id FROM chunk_terms ORDER BY doc_id")]

    def delete_doc(self, doc_id: str) -> None:
        """Remove an article's chunks from the index alone (repairs; ``DocStore.delete`` already does this)."""
        with self.docstore.write() as conn:
            self.on_delete(conn, doc_id)

    def chunk_ids(self) -> set[str]:
        """Every indexed chunk id (for consistency checks)."""
        with self.docstore.read() as conn:
            return {f"{d}:{i}" for d, i in conn.execute("SELECT doc_id, idx FROM chunk_terms")}

    def delete_chunks(self, ids: set[str]) -> None:
        """Remove indexed rows by chunk id (repairs)."""
        pairs = [c.rsplit(":", 1) for c in ids]
        with self.docstore.write() as conn:
            conn.executemany("DELETE FROM chunk_terms WHERE doc_id = ? AND idx = ?", [(d, int(i)) for d, i in pairs])

    def reindex(self, articles: Sequence[tuple[Article, Sequence[Chunk]]]) -> None:
        """Index these stored articles' chunks again (repairs)."""
        with self.docstore.write() as conn:
            for article, chunks in articles:
                self.on_put(conn, article, chunks)

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[KeywordHit]:
        """The k best chunks by FTS5's bm25() (k1 1.2, b 0.75) among those passing the filters; equal scores in
        chunk-id order, whatever order the chunks were stored in."""
        match = fts_query(query)
        if not match:
            return []
        where, params = fts_filter(filters)
        sql = (f"SELECT doc_id, idx, bm25(chunk_terms) AS s FROM chunk_terms WHERE chunk_terms MATCH ?{where} "
               "ORDER BY s, doc_id, idx LIMIT ?")  # ties by chunk id: the same order in PostgreSQL
        with self.docstore.read() as conn:
            rows = conn.execute(sql, [match, *params, k]).fetchall()
        return [KeywordHit(f"{r[0]}:{r[1]}", -float(r[2])) for r in rows if r[2] < 0]

    def idf(self, term: str, version: int | None = None) -> float:
        """BM25's idf of a stemmed term among the indexed chunks (cached until the store changes)."""
        version = self.docstore.version() if version is None else version
        with self._lock:
            if version != self._idf_version:
                self._idf, self._idf_version = {}, version
                self._size = self.docstore.counts()[1]
            if term not in self._idf:
                self._idf[term] = bm25_idf(self._size, self._df(term))
            return self._idf[term]

    def _df(self, term: str) -> int:
        with self.docstore.read() as conn:
            row = conn.execute("SELECT doc FROM chunk_terms_vocab WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else 0


def bm25_idf(size: int, df: int) -> float:
    """Inverse document frequency as BM25 (and bm25s, Lucene) computes it."""
    return math.log(1.0 + (size - df + 0.5) / (df + 0.5))


def index_terms(title: str, text: str) -> str:
    """What is keyword-indexed for a chunk: the stemmed terms of its title and text, space-separated."""
    return " ".join(terms(f"{title}\n{text}" if title else text))


def date_int(iso: str | None) -> int:
    """``YYYYMMDD`` as an integer (0 when the article has no date), for range filters."""
    return int(iso.replace("-", "")) if iso else 0
