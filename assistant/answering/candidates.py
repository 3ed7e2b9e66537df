"""Quote candidates: sentences and windows of 2-3 sentences of one paragraph, inside the retrieved chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..chunking import Span, sentence_spans
from ..loading import opens_with_title
from ..types import Article, Hit
from .analysis import WORD_RE

MAX_WINDOW = 3  # sentences in a quote at most
MIN_WORDS = 3  # a shorter span is a splitting leftover («28.07.1988).», «Shura Council).»): ranked, never quoted


def leftover(text: str) -> bool:
    """Whether a span is a splitting leftover: under MIN_WORDS words with letters («28.07.1988).», «Council).»)."""
    return sum(not w.isdigit() for w in WORD_RE.findall(text)) < MIN_WORDS


TERMINAL = tuple(".!?…»\"”):;")  # a line ending so is prose (a line ending «:» introduces a quote), not a caption


@dataclass(frozen=True)
class Candidate:
    """A quotable span of an article (sentences ``first``..``last`` of it) with its scores."""

    doc_id: str
    start: int
    end: int
    text: str
    first: int = 0  # index of the first sentence in the article's sentence list
    last: int = 0  # index of the last sentence (inclusive)
    dense: float = 0.0  # best e5 similarity of one of its sentences to the question
    lexical: float = 0.0  # IDF-weighted share of the question's terms it contains
    relevance: float = 0.0  # what the decline threshold is compared with
    score: float = 0.0  # what quotes are ranked by


@dataclass
class ArticleSentences:
    """An article's sentences with their paragraph numbers and which are headline or caption lines."""

    article: Article
    spans: list[Span]
    paragraph: list[int]
    headline: list[bool]  # the first line, or a short caption line without final punctuation
    vectors: object = field(default=None, repr=False)  # np.ndarray of sentence vectors, filled by the answerer

    def text(self, i: int) -> str:
        """The i-th sentence."""
        return self.article.text[self.spans[i].start:self.spans[i].end]


def article_sentences(article: Article, spans: list[Span] | None = None) -> ArticleSentences:
    """Sentences of an article (given, or split now), with paragraph numbers and headline/caption flags."""
    text = article.text
    spans = sentence_spans(text) if spans is None else spans
    paragraph, headline, para = [], [], 0
    for i, span in enumerate(spans):
        if i and "\n" in text[spans[i - 1].end:span.start]:
            para += 1
        paragraph.append(para)
        headline.append(is_heading_line(text, span, i == 0 and title_line(article)))
    return ArticleSentences(article, spans, paragraph, headline)


def title_line(article: Article) -> bool:
    """Whether the text's first line is the article's title (a headline line, as in Wikinews dumps); a title taken
    from the first sentence of a paragraph is not one."""
    return opens_with_title(article.text, article.title)


def is_heading_line(text: str, span: Span, is_title: bool) -> bool:
    """The headline line, or a short whole line without final punctuation (a photo caption, a subhead)."""
    line_start = text.rfind("\n", 0, span.start) + 1
    line_end = text.find("\n", span.end)
    line = text[line_start:len(text) if line_end < 0 else line_end].strip()
    if is_title:
        return True
    whole_line = line == text[span.start:span.end].strip()
    return whole_line and len(line) <= 120 and not line.endswith(TERMINAL)


def windows(sents: ArticleSentences, inside: Sequence[int], max_chars: int) -> list[Candidate]:
    """Windows of 1-3 consecutive sentences of one paragraph, at most ``max_chars`` (a single sentence may exceed)."""
    art, out = sents.article, []
    for pos, i in enumerate(inside):
        for width in range(1, MAX_WINDOW + 1):
            if pos + width > len(inside):
                break
            j = inside[pos + width - 1]
            start, end = sents.spans[i].start, sents.spans[j].end
            if width > 1 and (j != inside[pos + width - 2] + 1 or sents.paragraph[j] != sents.paragraph[i]
                              or end - start > max_chars):
                break
            out.append(Candidate(art.doc_id, start, end, art.text[start:end], first=i, last=j))
    return out


def candidates_for(sents: ArticleSentences, hits: Sequence[Hit], max_chars: int) -> list[Candidate]:
    """Every window inside one of the article's retrieved chunks (a window never crosses a chunk's edge)."""
    seen: dict[tuple[int, int], Candidate] = {}
    for hit in hits:
        inside = [i for i, s in enumerate(sents.spans) if s.start >= hit.chunk.start and s.end <= hit.chunk.end]
        for cand in windows(sents, inside, max_chars):
            seen.setdefault((cand.start, cand.end), cand)
    return list(seen.values())
