"""Stored sentence vectors: every sentence of an article is embedded once, at ingest, and kept with its offsets.

The answer ranker scores quotes built from these sentences; reading their vectors back is one SQLite row per
article, so asking a question embeds only the question. Vectors live in ``sentences.sqlite`` beside the article
store (one row per article: offsets as int32 pairs, vectors as float32 rows), with the embedding model recorded
and checked like the Chroma collection's.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .store import ModelMismatchError

if TYPE_CHECKING:
    from .chunking import Span
    from .embedding import Embedder
    from .types import Article, Chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS sentences (
    doc_id TEXT PRIMARY KEY, text_hash TEXT NOT NULL, n INTEGER NOT NULL, dim INTEGER NOT NULL,
    offsets BLOB NOT NULL, vectors BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def text_hash(text: str) -> str:
    """What stored vectors are checked against: a hash of the article text their offsets index."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SentenceVectors:
    """One article's sentences: ``offsets[i] = (start, end)`` and the passage vector of that span in ``vectors[i]``."""

    offsets: np.ndarray  # int32, shape (n, 2)
    vectors: np.ndarray  # float32, shape (n, dim), rows L2-normalised


class SentenceStore:
    """Sentence vectors per article in SQLite; ``sentence_vectors`` reads them (computing and storing any missing)."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.embedder = embedder
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.executescript(SCHEMA)
        self._check_model()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def _check_model(self) -> None:
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('embedding_model', ?)", (self.embedder.model_id,))
        if row is not None and row[0] != self.embedder.model_id:
            raise ModelMismatchError(
                f"{self.path} holds sentence vectors of embedding model {row[0]!r}, but the configured model is "
                f"{self.embedder.model_id!r}. Set ASSISTANT_EMBEDDINGS back, or use another ASSISTANT_DATA_DIR "
                "and ingest again."
            )

    def put(self, doc_id: str, text: str, spans: Sequence[Span], vectors: np.ndarray) -> None:
        """Store (replace) an article's sentence offsets and vectors."""
        offsets = np.array([(s.start, s.end) for s in spans], dtype=np.int32).reshape(-1, 2)
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(offsets) != len(vecs):
            raise ValueError(f"{doc_id}: {len(offsets)} sentences but {len(vecs)} vectors")
        dim = int(vecs.shape[1]) if vecs.ndim == 2 else 0
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sentences (doc_id, text_hash, n, dim, offsets, vectors) VALUES (?, ?, ?, ?, ?, ?)",
                (doc_id, text_hash(text), len(offsets), dim, offsets.tobytes(), vecs.tobytes()),
            )

    def get(self, doc_id: str, text: str) -> SentenceVectors | None:
        """The stored sentences of an article, or None when absent or stored for another text."""
        with self._tx() as conn:
            row = conn.execute("SELECT text_hash, n, dim, offsets, vectors FROM sentences WHERE doc_id = ?",
                               (doc_id,)).fetchone()
        if row is None or row[0] != text_hash(text):
            return None
        n, dim = int(row[1]), int(row[2])
        offsets = np.frombuffer(row[3], dtype=np.int32).reshape(n, 2)
        return SentenceVectors(offsets, np.frombuffer(row[4], dtype=np.float32).reshape(n, dim))

    def sentence_spans(self, article: Article) -> list[Span]:
        """The article's sentences as stored at ingest (no sentence splitting at question time); split when absent."""
        from .chunking import Span, sentence_spans

        stored = self.get(article.doc_id, article.text)
        if stored is None:
            return sentence_spans(article.text)
        return [Span(int(a), int(b)) for a, b in stored.offsets.tolist()]

    def sentence_vectors(self, article: Article, spans: Sequence[Span]) -> np.ndarray:
        """One passage vector per span (rows aligned with spans); spans not stored are embedded and stored."""
        stored = self.get(article.doc_id, article.text)
        rows: dict[tuple[int, int], np.ndarray] = {}
        if stored is not None:
            rows = {(int(a), int(b)): v for (a, b), v in zip(stored.offsets, stored.vectors, strict=True)}
        missing = [s for s in spans if (s.start, s.end) not in rows]
        if missing:
            fresh = self.embedder.embed_passages([article.text[s.start:s.end] for s in missing])
            rows.update({(s.start, s.end): v for s, v in zip(missing, fresh, strict=True)})
            self._store_rows(article, rows)
        if not spans:
            return np.zeros((0, self._dim(rows)), dtype=np.float32)
        return np.vstack([rows[(s.start, s.end)] for s in spans])

    def _store_rows(self, article: Article, rows: dict[tuple[int, int], np.ndarray]) -> None:
        from .chunking import Span

        keys = sorted(rows)
        self.put(article.doc_id, article.text, [Span(a, b) for a, b in keys], np.vstack([rows[k] for k in keys]))

    def _dim(self, rows: dict[tuple[int, int], np.ndarray]) -> int:
        if rows:
            return int(next(iter(rows.values())).shape[0])
        return int(self.embedder.embed_passages(["."]).shape[1])

    def delete_doc(self, doc_id: str) -> None:
        """Remove an article's sentences."""
        with self._tx() as conn:
            conn.execute("DELETE FROM sentences WHERE doc_id = ?", (doc_id,))

    def doc_ids(self) -> list[str]:
        """Every article id with stored sentences (for consistency checks)."""
        with self._tx() as conn:
            return [r[0] for r in conn.execute("SELECT doc_id FROM sentences ORDER BY doc_id")]

    def count(self) -> int:
        """Stored sentences in all."""
        with self._tx() as conn:
            return int(conn.execute("SELECT coalesce(sum(n), 0) FROM sentences").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


@dataclass
class EmbeddedBatch:
    """What ingest embeds for a batch of articles: each article's sentences and vectors, and one vector per chunk."""

    sentences: list[tuple[list[Span], np.ndarray]]
    chunk_vectors: np.ndarray


def embed_batch(embedder: Embedder, items: Sequence[tuple[Article, Sequence[Chunk]]], mode: str) -> EmbeddedBatch:
    """Embed every sentence of the articles once; chunk vectors are derived from them (``mode="derived"``: the
    normalised mean of the chunk's sentence vectors and its title's) or embedded from the chunk text (``"embedded"``)."""
    from .chunking import sentence_spans
    from .store import index_text

    spans = [sentence_spans(a.text) for a, _ in items]
    texts = [a.text[s.start:s.end] for (a, _), ss in zip(items, spans, strict=True) for s in ss]
    titles = [a.title for a, _ in items] if mode == "derived" else []
    if mode == "embedded":
        chunk_texts = [index_text(a.title, c.text) for a, cs in items for c in cs]
        vecs = embedder.embed_passages(texts + chunk_texts)
        sent_vecs, chunk_vecs = vecs[: len(texts)], vecs[len(texts):]
    elif mode == "derived":
        vecs = embedder.embed_passages(texts + titles)
        sent_vecs, title_vecs = vecs[: len(texts)], vecs[len(texts):]
        chunk_vecs = derive_chunk_vectors(items, spans, sent_vecs, title_vecs)
    else:
        raise ValueError(f"ASSISTANT_CHUNK_VECTORS={mode!r}: use derived or embedded")
    bounds = np.cumsum([0, *map(len, spans)])
    per_article = [(ss, sent_vecs[bounds[i]:bounds[i + 1]]) for i, ss in enumerate(spans)]
    return EmbeddedBatch(per_article, np.asarray(chunk_vecs, dtype=np.float32))


TITLE_WEIGHT = 0.25  # the title's share in a derived chunk vector (0, 0.1, 0.25, 0.5, 1 measured on XQuAD-ru: 0.25 best)


def derive_chunk_vectors(items: Sequence[tuple[Article, Sequence[Chunk]]], spans: list[list[Span]],
                         sent_vecs: np.ndarray, title_vecs: np.ndarray) -> np.ndarray:
    """Each chunk's vector as the normalised mean of the vectors of the sentences inside it, plus its title's."""
    out, row = [], 0
    for (article, chunks), ss, title_vec in zip(items, spans, title_vecs, strict=True):
        vecs = sent_vecs[row: row + len(ss)]
        row += len(ss)
        starts = np.array([s.start for s in ss], dtype=np.int64)
        ends = np.array([s.end for s in ss], dtype=np.int64)
        for c in chunks:
            inside = (starts < c.end) & (ends > c.start)  # a split over-long sentence counts for each piece
            mean = vecs[inside].mean(0) if inside.any() else np.zeros_like(title_vec)
            out.append(mean + (TITLE_WEIGHT * title_vec if article.title else 0.0))
    mat = np.array(out, dtype=np.float32).reshape(-1, sent_vecs.shape[1] if len(sent_vecs) else title_vecs.shape[1])
    return mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
