"""Answering stage: pick verbatim quotes (sentences or short sentence windows) from the retrieved chunks."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
    hit_rank: int
    dense: float = 0.0
    lexical: float = 0.0
    score: float = 0.0


def lexical_overlap(query_terms: set[str], text: str) -> float:
    """Share of the query's content terms that occur in the text."""
    if not query_terms:
        return 0.0
    return len(query_terms & set(terms(text))) / len(query_terms)


def candidates_for(article: Article, hit: Hit, rank: int, sentences: list[Span], max_chars: int) -> list[Candidate]:
    """Sentences and two/three-sentence windows inside one retrieved chunk."""
    inside = [s for s in sentences if s.start >= hit.chunk.start and s.end <= hit.chunk.end]
    out: list[Candidate] = []
    for i, first in enumerate(inside):
        for width in (1, 2, 3):
            if i + width > len(inside):
                break
            last = inside[i + width - 1]
            if width > 1 and last.end - first.start > max_chars:
                break
            out.append(Candidate(article.doc_id, first.start, last.end, article.text[first.start:last.end], rank))
    return out


class ExtractiveAnswerer:
    """Scores candidate quotes by dense similarity and term overlap; declines when nothing is relevant enough."""

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.embedder = embedder
        self.settings = settings

    def answer(
        self,
        question: str,
        query_vector: np.ndarray,
        hits: Sequence[Hit],
        articles: dict[str, Article],
        filters: Filters,
        search_query: str = "",
    ) -> Answer:
        """An ``Answer`` quoting the best spans of the hits, or the no-answer reply."""
        lang = detect_lang(question)
        scored = self.score(search_query or question, query_vector, hits, articles)
        best = scored[0] if scored else None
        if best is None or not self.relevant(best):
            return Answer(question=question, text=NO_ANSWER[lang], answered=False, lang=lang,
                          filters_applied=filters, search_query=search_query or question)
        citations = self.cite(self.select(scored), articles)
        text = LEAD[lang] + "\n" + "\n".join(f"[{c.n}] «{c.quote}»" for c in citations)
        return Answer(question=question, text=text, citations=citations, answered=True, lang=lang,
                      filters_applied=filters, search_query=search_query or question)

    def score(
        self, query: str, query_vector: np.ndarray, hits: Sequence[Hit], articles: dict[str, Article]
    ) -> list[Candidate]:
        """All candidates of the hits, best first."""
        cands: list[Candidate] = []
        seen: set[tuple[str, int, int]] = set()
        for rank, hit in enumerate(hits):
            article = articles[hit.chunk.doc_id]
            for cand in candidates_for(article, hit, rank, sentence_spans(article.text), self.settings.max_quote_chars):
                key = (cand.doc_id, cand.start, cand.end)
                if key not in seen:
                    seen.add(key)
                    cands.append(cand)
        if not cands:
            return []
        dense = self.embedder.embed_passages([c.text for c in cands]) @ query_vector
        qterms = set(terms(query))
        scored = [self._combine(c, float(d), lexical_overlap(qterms, c.text)) for c, d in zip(cands, dense, strict=True)]
        return sorted(scored, key=lambda c: -c.score)

    def _combine(self, cand: Candidate, dense: float, lexical: float) -> Candidate:
        length_penalty = 0.01 * max(0, (cand.end - cand.start) - self.settings.max_quote_chars) / 100
        score = dense + 0.05 * lexical - 0.003 * cand.hit_rank - length_penalty
        return replace(cand, dense=dense, lexical=lexical, score=score)

    def relevant(self, best: Candidate) -> bool:
        """Whether the best candidate is close enough to the question to be quoted."""
        return best.dense >= self.settings.min_relevance

    def select(self, scored: list[Candidate]) -> list[Candidate]:
        """The best candidate and a few others that don't overlap it and score nearly as well."""
        chosen: list[Candidate] = [scored[0]]
        for cand in scored[1:]:
            if len(chosen) >= self.settings.max_citations:
                break
            if cand.score < scored[0].score - 0.03 or not self.relevant(cand):
                break
            if any(c.doc_id == cand.doc_id and c.start < cand.end and cand.start < c.end for c in chosen):
                continue
            chosen.append(cand)
        return chosen

    def cite(self, chosen: list[Candidate], articles: dict[str, Article]) -> list[Citation]:
        """Citations numbered from 1, with each article's metadata."""
        out = []
        for n, cand in enumerate(chosen, start=1):
            art = articles[cand.doc_id]
            assert art.text[cand.start:cand.end] == cand.text  # a quote is a promise
            out.append(Citation(doc_id=art.doc_id, title=art.title, date=art.date, source=art.source, url=art.url,
                                quote=cand.text, start=cand.start, end=cand.end, score=round(cand.score, 4), n=n))
        return out
