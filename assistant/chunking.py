"""Chunking stage: razdel sentences packed into overlapping chunks that keep their character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import TextSplitter

from .types import Article, Chunk

PARAGRAPH_RE = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` of a text."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


def paragraph_spans(text: str) -> list[Span]:
    """Paragraphs (separated by blank lines), trimmed of surrounding whitespace."""
    spans, pos = [], 0
    for match in [*PARAGRAPH_RE.finditer(text), None]:
        end = match.start() if match else len(text)
        span = trim(text, pos, end)
        if span is not None:
            spans.append(span)
        pos = match.end() if match else len(text)
    return spans


def trim(text: str, start: int, end: int) -> Span | None:
    """The span without leading/trailing whitespace, or None if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def sentence_spans(text: str) -> list[Span]:
    """Sentences of the text (razdel), never crossing a paragraph or line break, with offsets."""
    from razdel import sentenize

    spans: list[Span] = []
    for para in paragraph_spans(text):
        for line in line_spans(text, para):
            for sent in sentenize(text[line.start:line.end]):
                span = trim(text, line.start + sent.start, line.start + sent.stop)
                if span is not None:
                    spans.append(span)
    return spans


def line_spans(text: str, para: Span) -> list[Span]:
    """Lines of a paragraph (headlines and datelines stand on lines of their own)."""
    spans, pos = [], para.start
    while pos < para.end:
        nl = text.find("\n", pos, para.end)
        end = para.end if nl < 0 else nl
        span = trim(text, pos, end)
        if span is not None:
            spans.append(span)
        pos = end + 1
    return spans


def split_long(text: str, span: Span, limit: int) -> list[Span]:
    """Split one over-long sentence at whitespace into pieces of at most ``limit`` characters."""
    pieces, start = [], span.start
    while span.end - start > limit:
        cut = text.rfind(" ", start + limit // 2, start + limit)
        cut = cut if cut > start else start + limit
        piece = trim(text, start, cut)
        if piece is not None:
            pieces.append(piece)
        start = cut
    last = trim(text, start, span.end)
    return pieces + ([last] if last is not None else [])


class SentenceSplitter(TextSplitter):
    """A LangChain text splitter that packs whole sentences into chunks of about ``chunk_size`` characters.

    Neighbouring chunks share ``overlap_sentences`` sentences. A single sentence longer than the chunk size is
    split at whitespace. Offsets are exact: ``text[span.start:span.end]`` is each chunk.
    """

    def __init__(self, chunk_size: int = 700, overlap_sentences: int = 1, **kwargs: Any) -> None:
        super().__init__(chunk_size=chunk_size, chunk_overlap=0, **kwargs)
        self.overlap_sentences = overlap_sentences

    def split_text(self, text: str) -> list[str]:
        """Chunk texts (the LangChain interface)."""
        return [text[s.start:s.end] for s in self.split_spans(text)]

    def split_spans(self, text: str) -> list[Span]:
        """Chunk spans with their character offsets."""
        units: list[Span] = []
        for sent in sentence_spans(text):
            units.extend(split_long(text, sent, self._chunk_size) if len(sent) > self._chunk_size else [sent])
        chunks: list[Span] = []
        i = 0
        while i < len(units):
            j = i + 1
            while j < len(units) and units[j].end - units[i].start <= self._chunk_size:
                j += 1
            chunks.append(Span(units[i].start, units[j - 1].end))
            if j >= len(units):
                break
            i = max(j - self.overlap_sentences, i + 1)
        return chunks


def chunk_article(article: Article, splitter: SentenceSplitter) -> list[Chunk]:
    """The article's chunks, numbered from 0."""
    return [
        Chunk(doc_id=article.doc_id, index=n, start=s.start, end=s.end, text=article.text[s.start:s.end])
        for n, s in enumerate(splitter.split_spans(article.text))
    ]
