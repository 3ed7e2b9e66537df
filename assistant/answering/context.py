"""Quotes that lean on a neighbour, widened to cover it: the sentence a pronoun points back to, or the next
sentence that holds what was asked and opens by pointing back («Это было сделано по требованию…»)."""

from __future__ import annotations

from dataclasses import replace

from .analysis import text_info
from .candidates import ArticleSentences, Candidate
from .features import Question, type_match, window_info


def joinable(sents: ArticleSentences, j: int) -> bool:
    """Whether sentence ``j`` may join a quote of its neighbour: it exists and is not a headline or caption line.
    It may stand in the next or previous paragraph: news paragraphs are often one sentence, and a sentence that
    points back leans on the previous one wherever the line breaks."""
    return 0 <= j < len(sents.spans) and not sents.headline[j]


def asked_in(q: Question, sents: ArticleSentences, first: int, last: int) -> bool:
    """Whether sentences first..last hold new information of the type the question asks for."""
    span = Candidate(sents.article.doc_id, 0, 0, "", first=first, last=last)
    return any(type_match(q, window_info(sents, span)).values())


def widened(cand: Candidate, sents: ArticleSentences, q: Question, max_chars: int) -> Candidate:
    """The candidate with the neighbour it leans on, within ``max_chars``; else unchanged."""
    first, last = cand.first, cand.last
    if text_info(sents.text(first)).points_back and joinable(sents, first - 1):
        first -= 1
    elif (joinable(sents, last + 1) and text_info(sents.text(last + 1)).points_back
          and not asked_in(q, sents, first, last) and asked_in(q, sents, last + 1, last + 1)):
        last += 1
    start, end = sents.spans[first].start, sents.spans[last].end
    if (first, last) == (cand.first, cand.last) or end - start > max_chars:
        return cand
    return replace(cand, start=start, end=end, text=sents.article.text[start:end], first=first, last=last)
