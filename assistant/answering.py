"""Answering stage: pick verbatim quotes (sentences or short sentence windows) from the retrieved chunks."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .chunking import Span, sentence_spans
from .keyword import terms
from .types import Answer, Article, Citation, Filters, Hit

if TYPE_CHECKING:
    from .embedding import Embedder
    from .settings import Settings

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LATIN = re.compile(r"[A-Za-z]")
NO_ANSWER = {
    "ru": "В корпусе нет ответа на этот вопрос.",
    "en": "The corpus holds no answer to this question.",
}
LEAD = {"ru": "Вот что говорится в источниках:", "en": "Here is what the sources say:"}
W_LEXICAL = 0.12  # weight of IDF-weighted term overlap against dense similarity
W_LENGTH = 0.03  # bonus for longer quotes up to max_quote_chars: more context, more often the whole answer
MAX_WINDOW = 3  # sentences in a quote at most


def detect_lang(text: str) -> str:
    """``ru`` when the text is mostly Cyrillic, else ``en`` (used for messages)."""
    cyr, lat = len(CYRILLIC.findall(text)), len(LATIN.findall(text))
    return "ru" if cyr >= lat and cyr > 0 else "en"


@dataclass(frozen=True)
class Candidate:
    """A quotable span of an article with its scores."""

    doc_id: str
    start: int
    end: int
    text: str
    dense: float = 0.0
    lexical: float = 0.0
    relevance: float = 0.0  # dense + weighted term overlap: what the decline threshold is compared with
    score: float = 0.0  # relevance plus a length bonus: what quotes are ranked by


@dataclass
class Scored:
    """Candidates best first, and the articles ranked by their best candidate."""

    candidates: list[Candidate]
    doc_ranking: list[str]


def weighted_overlap(query_terms: set[str], text: str, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the query's content terms that occur in the text."""
    total = sum(idf(t) for t in query_terms)
    if total <= 0:
        return 0.0
    return sum(idf(t) for t in query_terms & set(terms(text))) / total


def candidates_for(article: Article, hit: Hit, sentences: list[Span], max_chars: int) -> list[Candidate]:
    """Sentences, and windows of up to three sentences of one paragraph, inside one retrieved chunk."""
    inside = [s for s in sentences if s.start >= hit.chunk.start and s.end <= hit.chunk.end]
    out: list[Candidate] = []
    for i, first in enumerate(inside):
        for width in range(1, MAX_WINDOW + 1):
            if i + width > len(inside):
                break
            last = inside[i + width - 1]
            if width > 1 and (last.end - first.start > max_chars
                              or "\n" in article.text[inside[i + width - 2].end:last.start]):
                break  # windows stay short and inside one paragraph
            out.append(Candidate(article.doc_id, first.start, last.end, article.text[first.start:last.end]))
    return out


class VectorCache:
    """Passage vectors of candidate spans, reused across questions until the stored articles change."""

    def __init__(self, embedder: Embedder, max_items: int = 100_000) -> None:
        self.embedder = embedder
        self.max_items = max_items
        self.version = -1
        self._vectors: dict[tuple[str, int, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def vectors(self, cands: Sequence[Candidate], version: int) -> np.ndarray:
        """One row per candidate, embedding only those not seen before."""
        with self._lock:
            if version != self.version or len(self._vectors) > self.max_items:
                self._vectors, self.version = {}, version
            missing = [c for c in cands if (c.doc_id, c.start, c.end) not in self._vectors]
        if missing:
            fresh = self.embedder.embed_passages([c.text for c in missing])
            with self._lock:
                for cand, vec in zip(missing, fresh, strict=True):
                    self._vectors[(cand.doc_id, cand.start, cand.end)] = vec
        with self._lock:
            return np.vstack([self._vectors[(c.doc_id, c.start, c.end)] for c in cands])


class ExtractiveAnswerer:
    """Scores candidate quotes by dense similarity and term overlap; declines when nothing is relevant enough."""

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.settings = settings
        self.cache = VectorCache(embedder)

    def score(self, query: str, query_vector: np.ndarray, hits: Sequence[Hit], articles: dict[str, Article],
              idf: Callable[[str], float], version: int) -> Scored:
        """Every candidate of the hits, best first, and the hit articles re-ranked by their best candidate."""
        cands: dict[tuple[str, int, int], Candidate] = {}
        sentences: dict[str, list[Span]] = {}
        for hit in hits:
            article = articles[hit.chunk.doc_id]
            spans = sentences.setdefault(article.doc_id, sentence_spans(article.text))
            for cand in candidates_for(article, hit, spans, self.settings.max_quote_chars):
                cands.setdefault((cand.doc_id, cand.start, cand.end), cand)
        if not cands:
            return Scored([], [])
        listed = list(cands.values())
        dense = self.cache.vectors(listed, version) @ query_vector
        qterms = set(terms(query))
        scored = sorted((self._combine(c, float(d), weighted_overlap(qterms, c.text, idf))
                         for c, d in zip(listed, dense, strict=True)), key=lambda c: -c.score)
        ranking = list(dict.fromkeys([c.doc_id for c in scored] + [h.chunk.doc_id for h in hits]))
        return Scored(scored, ranking)

    def _combine(self, cand: Candidate, dense: float, lexical: float) -> Candidate:
        cap = self.settings.max_quote_chars
        length = min(len(cand.text), cap) / cap
        relevance = dense + W_LEXICAL * lexical
        return replace(cand, dense=dense, lexical=lexical, relevance=relevance, score=relevance + W_LENGTH * length)

    def relevant(self, best: Candidate) -> bool:
        """Whether the best candidate is close enough to the question to be quoted."""
        return best.relevance >= self.settings.min_relevance

    def answer(self, question: str, scored: Scored, articles: dict[str, Article], filters: Filters,
               search_query: str) -> Answer:
        """An ``Answer`` quoting the best spans, or the no-answer reply."""
        lang = detect_lang(question)
        cands = scored.candidates
        if not cands or not self.relevant(cands[0]):
            text, citations = NO_ANSWER[lang], []
        else:
            text, citations = LEAD[lang], self.cite(self.select(cands), articles)
        return Answer(question=question, text=text, citations=citations, answered=bool(citations), lang=lang,
                      filters_applied=filters, search_query=search_query)

    def select(self, scored: list[Candidate]) -> list[Candidate]:
        """The best candidate and a few others that don't overlap it and score nearly as well."""
        chosen: list[Candidate] = [scored[0]]
        for cand in scored[1:]:
            if len(chosen) >= self.settings.max_citations or cand.score < scored[0].score - 0.03:
                break
            if not self.relevant(cand):
                continue
            if any(c.doc_id == cand.doc_id and c.start < cand.end and cand.start < c.end for c in chosen):
                continue
            chosen.append(cand)
        return chosen

    def cite(self, chosen: list[Candidate], articles: dict[str, Article]) -> list[Citation]:
        """Citations numbered from 1, grouped by article (best article first, its quotes in text order)."""
        order = {doc_id: i for i, doc_id in enumerate(dict.fromkeys(c.doc_id for c in chosen))}
        grouped = sorted(chosen, key=lambda c: (order[c.doc_id], c.start))
        out = []
        for n, cand in enumerate(grouped, start=1):
            art = articles[cand.doc_id]
            if art.text[cand.start:cand.end] != cand.text:  # a quote is a promise
                raise AssertionError(f"quote of {art.doc_id} [{cand.start}:{cand.end}] is not verbatim")
            out.append(Citation(doc_id=art.doc_id, title=art.title, date=art.date, source=art.source, url=art.url,
                                quote=cand.text, start=cand.start, end=cand.end, score=round(cand.score, 4), n=n))
        return out
