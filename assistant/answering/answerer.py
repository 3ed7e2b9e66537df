"""Answering stage: candidates → features → ranker → decline → citations."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..types import Answer, Article, Filters, Hit
from .analysis import WORD_RE, detect_lang, text_info
from .anchors import name_anchored, year_anchored
from .candidates import ArticleSentences, Candidate, article_sentences, candidates_for
from .citing import HEDGE, LEAD, NO_ANSWER, cite, overlaps, select
from .context import announced, widened
from .features import Features, Question, Sims, featurize, focus_text, make_question, relevance
from .filler import filler
from .rankers import AnswerRanker, make_ranker
from .vectors import EmbeddedSentenceVectors, SentenceVectorSource

if TYPE_CHECKING:
    from ..embedding import Embedder
    from ..settings import Settings

WIDEN_TOP = 12  # the best candidates (the quotes are chosen among them) are widened where they lean on a neighbour


@dataclass
class Scored:
    """Candidates best first, the articles ranked by their best candidate, and the language pair of the best."""

    candidates: list[Candidate]
    doc_ranking: list[str]
    pair: str = "ru-ru"
    features: Features | None = None
    best_relevance: float = 0.0  # the most relevant candidate's relevance: what declining is decided on
    notes: list[str] = field(default_factory=list)  # why candidates were set aside, for the user
    question: Question | None = None  # as the ranker saw it (its focus set)


class ExtractiveAnswerer:
    """Ranks candidate quotes with a learned (or formula) ranker; declines when the best is not good enough."""

    def __init__(self, embedder: Embedder, settings: Settings,
                 sentence_vectors: SentenceVectorSource | None = None, ranker: AnswerRanker | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.vectors = sentence_vectors or EmbeddedSentenceVectors(embedder)
        self.ranker = ranker or make_ranker(settings.answer_ranker, embedder.model_id, settings.min_relevance)
        self._sentences: dict[tuple[str, int], ArticleSentences] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the morphological analyzer now, not on the first question."""
        text_info("Проверка готовности анализатора.")

    def sentences(self, article: Article) -> ArticleSentences:
        """An article's sentences and their vectors (kept until the article changes)."""
        key = (article.doc_id, hash(article.text))
        with self._lock:
            found = self._sentences.get(key)
        if found is None:
            found = article_sentences(article, self.vectors.sentence_spans(article))
            found.vectors = self.vectors.sentence_vectors(article, found.spans)
            with self._lock:
                if len(self._sentences) > 20_000:
                    self._sentences.clear()
                self._sentences[key] = found
        return found

    def score(self, query: str, query_vector: np.ndarray, hits: Sequence[Hit], articles: dict[str, Article],
              idf: Callable[[str], float], version: int = 0) -> Scored:
        """Every candidate of the hits, best first, and the hit articles re-ranked by their best candidate."""
        by_doc: dict[str, list[Hit]] = {}
        for hit in hits:
            by_doc.setdefault(hit.chunk.doc_id, []).append(hit)
        sents = {d: self.sentences(articles[d]) for d in by_doc}
        cands = [c for d, hs in by_doc.items() for c in candidates_for(sents[d], hs, self.settings.max_quote_chars)]
        cands, note = year_anchored(query, cands, articles)
        if cands:
            cands, note = name_anchored(query, cands, articles)
        notes = [note] if note else []
        if not cands:
            return Scored([], list(by_doc), notes=notes)
        question = make_question(query, idf)
        question, sims = self.similarities(question, query_vector, sents)
        feats = featurize(question, cands, sents, sims)
        scores = self.ranker.score(question, cands, feats)
        order = np.argsort(-scores, kind="stable")
        dense, lex, rel = feats.column("dense"), feats.column("lex"), relevance(feats)
        ranked = [replace(cands[i], dense=float(dense[i]), lexical=float(lex[i]), relevance=float(rel[i]),
                          score=float(scores[i])) for i in order]
        feats = Features(feats.names, feats.matrix[order])
        ranking = list(dict.fromkeys([c.doc_id for c in ranked] + list(by_doc)))
        pair = f"{detect_lang(query)}-{detect_lang(articles[ranked[0].doc_id].text[:400])}"
        return Scored(ranked, ranking, pair, feats, float(rel.max()), notes, question)

    def similarities(self, question: Question, query_vector: np.ndarray,
                     sents: dict[str, ArticleSentences]) -> tuple[Question, dict[str, Sims]]:
        """Each article's sentences against the question, the question's focus, and the article's headline."""
        top = next(iter(sents.values()))
        topic = text_info(top.article.title or (top.text(0) if top.spans else ""))
        focus = focus_text(question.text, topic)
        question = replace(question, focus=question.info.lemmas - topic.lemmas)
        focus_vector = query_vector if focus == question.text else self.embedder.embed_query(focus)
        out = {}
        vectors = {d: np.asarray(s.vectors, dtype=np.float32) for d, s in sents.items()}
        rows = [v for v in vectors.values() if v.ndim == 2 and len(v)]
        centre = np.concatenate(rows).mean(axis=0) if rows else np.zeros(0, np.float32)
        centre /= max(float(np.linalg.norm(centre)), 1e-6)
        for doc_id, s in sents.items():
            vecs = vectors[doc_id]
            heading = vecs @ vecs[0] if len(vecs) and s.headline[0] else np.full(len(vecs), np.nan, np.float32)
            hub = vecs @ centre if len(vecs) and len(centre) else None
            out[doc_id] = Sims(vecs @ query_vector, vecs @ focus_vector, heading, hub)  # no headline: unknown
        return question, out

    def widened(self, scored: Scored, articles: dict[str, Article]) -> list[Candidate]:
        """The candidates, the best of them widened to the neighbour they lean on (the quotes are chosen among them)."""
        top = [widened(c, self.sentences(articles[c.doc_id]), scored.question, self.settings.max_quote_chars)
               for c in scored.candidates[:WIDEN_TOP]] if scored.question else []
        return top + scored.candidates[len(top):]

    def announced(self, chosen: list[Candidate], articles: dict[str, Article]) -> list[Candidate]:
        """The chosen quotes, each ending with a colon completed by what it announces, unless that is quoted too."""
        out = []
        for i, cand in enumerate(chosen):
            wide = announced(cand, self.sentences(articles[cand.doc_id]), self.settings.max_quote_chars)
            clash = any(overlaps(o, wide) for o in chosen[:i] + chosen[i + 1:])
            out.append(cand if clash or filler(wide.text) else wide)  # not when it only announces another quote
        return out

    def relevant(self, scored: Scored) -> bool:
        """Whether anything retrieved is close enough to the question to be quoted (per language pair)."""
        return bool(scored.candidates) and scored.best_relevance >= self.ranker.threshold(scored.pair)

    def answer(self, question: str, scored: Scored, articles: dict[str, Article], filters: Filters,
               search_query: str) -> Answer:
        """An ``Answer`` quoting the best spans ([1] = best), or the no-answer reply."""
        lang = detect_lang(question)
        hedged = False
        if not self.relevant(scored) or not WORD_RE.search(question):  # no word at all: nothing was asked
            why = "; ".join(scored.notes) if not scored.candidates else ""  # e.g. no article names the year asked
            text, citations = (f"{NO_ANSWER[lang][:-1]}: {why}." if why else NO_ANSWER[lang]), []
        else:
            chosen = self.announced(select(self.widened(scored, articles), self.settings.max_citations,
                                           self.ranker.margin, self.ranker.threshold(scored.pair)), articles)
            hedged = self.ranker.hedged(chosen[0].score, scored.pair)
            text, citations = (HEDGE if hedged else LEAD)[lang], cite(chosen, articles)
        return Answer(question=question, text=text, citations=citations, answered=bool(citations), lang=lang,
                      filters_applied=filters, search_query=search_query, notes=list(scored.notes),
                      confident=not hedged)
