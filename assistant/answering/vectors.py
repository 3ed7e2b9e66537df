"""Sentence vectors for the answer ranker: a small interface, and an in-memory default that embeds on demand."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..chunking import Span
from ..types import Article

if TYPE_CHECKING:
    from ..embedding import Embedder


class SentenceVectorSource(Protocol):
    """An article's sentences and their L2-normalised passage vectors, one row per span, in span order."""

    def sentence_spans(self, article: Article) -> list[Span]:
        """The article's sentences (as stored at ingest, where a store has them)."""
        ...

    def sentence_vectors(self, article: Article, spans: Sequence[Span]) -> np.ndarray:
        """Rows aligned with ``spans``."""
        ...


class EmbeddedSentenceVectors:
    """Embeds sentences when first asked for and keeps them (by text) for later questions."""

    def __init__(self, embedder: Embedder, max_items: int = 200_000) -> None:
        self.embedder = embedder
        self.max_items = max_items
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def sentence_spans(self, article: Article) -> list[Span]:
        """The article's sentences, split now."""
        from ..chunking import sentence_spans

        return sentence_spans(article.text)

    def sentence_vectors(self, article: Article, spans: Sequence[Span]) -> np.ndarray:
        """Vectors of the spans' texts, embedding only those not seen before."""
        texts = [article.text[s.start:s.end] for s in spans]
        with self._lock:
            if len(self._vectors) > self.max_items:
                self._vectors = {}
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = self.embedder.embed_passages(missing)
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
        with self._lock:
            dim = len(next(iter(self._vectors.values()))) if self._vectors else 0
            return np.vstack([self._vectors[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)
