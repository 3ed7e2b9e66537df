"""Keyword search: Russian/English stemming (PyStemmer) and a bm25s index over the stored chunks."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

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
    """BM25 (bm25s) over chunk texts; ``scores`` gives every chunk's score for a query."""

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
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

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
