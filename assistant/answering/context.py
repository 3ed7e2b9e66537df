"""Quotes that lean on a neighbour, widened to cover it: the sentence a pronoun points back to, the next
sentence that holds what was asked and opens by pointing back («Это было сделано по требованию…»), or the
sentence a quote ending with a colon announces («…сказал Резниченко:»)."""

from __future__ import annotations

import re
from dataclasses import replace

from .analysis import text_info
from .candidates import ArticleSentences, Candidate, leftover
from .features import Question, type_match, window_info

BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


def leans(sents: ArticleSentences, i: int, j: int) -> bool:
    """Whether sentences i and j (adjacent) belong in one quote because the later one points back to the earlier.

    Within a paragraph, or across a single line break, any pointing opening counts («Он…», «Однако…»); across a
    blank line only a demonstrative one («В связи с этим…», «Это было сделано…»): a pronoun opening a paragraph
    often points further back than the sentence before it. The neighbour must be a whole sentence, not a headline
    or caption line."""
    if not whole(sents, j):
        return False
    a, b = sorted((i, j))
    later = text_info(sents.text(b))
    blank_line = BLANK_LINE.search(sents.article.text, sents.spans[a].end, sents.spans[b].start) is not None
    return later.demonstrative or (later.points_back and not blank_line)


def whole(sents: ArticleSentences, j: int) -> bool:
    """Whether sentence j exists and is a whole sentence: not a headline or caption line, not a splitting leftover."""
    return 0 <= j < len(sents.spans) and not sents.headline[j] and not leftover(sents.text(j))


def introduces(sents: ArticleSentences, i: int) -> bool:
    """Whether sentence i ends by introducing the next one («…сказал Резниченко:», «В сообщении говорится:»)."""
    return sents.text(i).rstrip().endswith(":") and whole(sents, i + 1)


def asked_in(q: Question, sents: ArticleSentences, first: int, last: int) -> bool:
    """Whether sentences first..last hold new information of the type the question asks for."""
    span = Candidate(sents.article.doc_id, 0, 0, "", first=first, last=last)
    return any(type_match(q, window_info(sents, span)).values())


def widened(cand: Candidate, sents: ArticleSentences, q: Question, max_chars: int) -> Candidate:
    """The candidate with the neighbour it leans on, within ``max_chars``; else unchanged."""
    first, last = cand.first, cand.last
    if leans(sents, first, first - 1):
        first -= 1
    elif leans(sents, last, last + 1) and not asked_in(q, sents, first, last) and asked_in(q, sents, last + 1, last + 1):
        last += 1
    start, end = sents.spans[first].start, sents.spans[last].end
    if (first, last) == (cand.first, cand.last) or end - start > max_chars:
        return cand
    return replace(cand, start=start, end=end, text=sents.article.text[start:end], first=first, last=last)


def announced(cand: Candidate, sents: ArticleSentences, max_chars: int) -> Candidate:
    """A quote ending with a colon («…сказал Резниченко:») with the sentence it announces, within ``max_chars``;
    else unchanged."""
    if not introduces(sents, cand.last) or sents.spans[cand.last + 1].end - cand.start > max_chars:
        return cand
    end = sents.spans[cand.last + 1].end
    return replace(cand, end=end, text=sents.article.text[cand.start:end], last=cand.last + 1)
