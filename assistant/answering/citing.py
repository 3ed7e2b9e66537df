"""Choosing and numbering quotes: [1] is the best-scored quote; every quote is checked to be verbatim."""

from __future__ import annotations

from dataclasses import replace

from ..types import Article, Citation
from .candidates import Candidate, leftover
from .filler import filler

NO_ANSWER = {
    "ru": "В корпусе нет ответа на этот вопрос.",
    "en": "The corpus holds no answer to this question.",
}
LEAD = {"ru": "Вот что говорится в источниках:", "en": "Here is what the sources say:"}
HEDGE = {"ru": "Прямого ответа в источниках может не быть; ближе всего к вопросу:",
         "en": "The sources may not answer this directly; the closest passages:"}
EXTRA_SLACK = 0.1  # quotes after [1] may be this much less relevant than a question needs to be answered at all
OTHER_MARGIN = 2.0  # another article's passage is an alternative only this close to [1] (logits; e^2 ≈ 7× less likely)
WIDER_DELTA = 0.5  # a window holding a chosen quote replaces it when scored this close (logits): more context


def overlaps(a: Candidate, b: Candidate) -> bool:
    """Whether two candidates share characters of the same article."""
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end


def contains(wide: Candidate, cand: Candidate) -> bool:
    """Whether ``wide`` is a wider span of the same article holding all of ``cand``."""
    return wide.doc_id == cand.doc_id and wide.start <= cand.start and cand.end <= wide.end and wide != cand


def widest(cand: Candidate, scored: list[Candidate]) -> Candidate:
    """The widest candidate opening with this one and scored within WIDER_DELTA of it (more context after the
    same claim, never a sentence put before it); it keeps the score of the quote it stands for, so citations stay
    in score order."""
    near = [w for w in scored if contains(w, cand) and w.start == cand.start and w.score >= cand.score - WIDER_DELTA]
    wide = max(near, key=lambda w: w.end - w.start, default=cand)
    return replace(wide, score=cand.score, relevance=max(cand.relevance, wide.relevance))


def quotable(cand: Candidate) -> bool:
    """Whether a candidate is more than a splitting leftover (a bare date or «Council).» is not a quote) and more
    than filler (a caption, a byline, a bare announcement, a fragment cut at an abbreviation)."""
    return not leftover(cand.text) and not filler(cand.text)


def select(scored: list[Candidate], max_citations: int, margin: float, threshold: float) -> list[Candidate]:
    """The best-scored candidate, then others that don't overlap those chosen, are on the topic and within margin:
    the alternatives a reader checks when [1] does not answer. Another passage of [1]'s article may be a little
    less relevant (EXTRA_SLACK); a passage of another article must be relevant enough to be quoted on its own and
    scored within OTHER_MARGIN of [1] (else the seed question's [2] was a search «изъяты документы» of another story).
    A splitting leftover of under MIN_WORDS words is never quoted."""
    scored = [c for c in scored if quotable(c)] or scored
    chosen: list[Candidate] = [widest(scored[0], scored)]
    for cand in scored[1:]:
        if len(chosen) >= max_citations or cand.score < scored[0].score - margin:
            break
        same = cand.doc_id == scored[0].doc_id
        floor = threshold - EXTRA_SLACK if same else threshold
        near = same or cand.score >= scored[0].score - OTHER_MARGIN
        if near and cand.relevance >= floor and not any(overlaps(c, cand) for c in chosen):
            wide = widest(cand, scored)
            chosen.append(wide if not any(overlaps(c, wide) for c in chosen) else cand)
    return chosen


def cite(chosen: list[Candidate], articles: dict[str, Article]) -> list[Citation]:
    """Citations numbered from 1 in score order (the first is the answer)."""
    out = []
    for n, cand in enumerate(chosen, start=1):
        art = articles[cand.doc_id]
        if art.text[cand.start:cand.end] != cand.text:  # a quote is a promise
            raise AssertionError(f"quote of {art.doc_id} [{cand.start}:{cand.end}] is not verbatim")
        out.append(Citation(doc_id=art.doc_id, title=art.title, date=art.date, source=art.source, url=art.url,
                            quote=cand.text, start=cand.start, end=cand.end, score=round(cand.score, 4), n=n))
    return out
