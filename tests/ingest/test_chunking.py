"""Chunking: offsets are exact, sentences stay whole, neighbours overlap, everything is covered."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.chunking import SentenceSplitter, sentence_spans
from assistant.loading import load_paths
from assistant.types import Article

from ..conftest import CORPUS

WORDS = ["Президент", "подписал", "указ", "в", "Москве", "г.", "Путин", "т.е.", "2025", "года", "«Газпром»",
         "Dr.", "Smith", "said", "ООН", "—", "3,5", "млн", "руб.", "и", "т.", "д."]
sentence = st.tuples(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=30), st.sampled_from([".", "!", "?", "…", ""])
).map(lambda t: " ".join(t[0]) + t[1])
separators = st.sampled_from([" ", "  ", "\n", "\n\n", " \n", "\t"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(sentence, separators), min_size=1, max_size=40))
    return draw(st.sampled_from(["", " ", "\n"])) + "".join(s + sep for s, sep in parts)


@settings(max_examples=150, deadline=None)
@given(texts(), st.integers(min_value=100, max_value=900), st.integers(min_value=0, max_value=2))
def test_offsets_are_exact_and_cover_every_sentence(text: str, size: int, overlap: int) -> None:
    splitter = SentenceSplitter(chunk_size=size, overlap_sentences=overlap)
    spans = splitter.split_spans(text)
    assert splitter.split_text(text) == [text[s.start:s.end] for s in spans]
    for span in spans:
        chunk = text[span.start:span.end]
        assert chunk and chunk == chunk.strip()
    covered = set()
    for span in spans:
        covered.update(range(span.start, span.end))
    for sent in sentence_spans(text):
        assert {i for i in range(sent.start, sent.end) if not text[i].isspace()} <= covered


@settings(max_examples=100, deadline=None)
@given(texts(), st.integers(min_value=100, max_value=900))
def test_chunks_start_and_end_on_sentence_boundaries(text: str, size: int) -> None:
    sents = sentence_spans(text)
    starts, ends = {s.start for s in sents}, {s.end for s in sents}
    long = [s for s in sents if len(s) > size]

    def inside_long(pos: int) -> bool:
        return any(s.start <= pos <= s.end for s in long)

    for span in SentenceSplitter(chunk_size=size, overlap_sentences=1).split_spans(text):
        assert span.start in starts or inside_long(span.start)
        assert span.end in ends or inside_long(span.end)
        assert len(span) <= size or any(s.start == span.start and s.end == span.end for s in sents)


def test_long_sentence_is_split_at_whitespace() -> None:
    text = "Очень " * 400 + "длинное предложение."
    spans = SentenceSplitter(chunk_size=300, overlap_sentences=1).split_spans(text)
    assert len(spans) > 5
    assert all(len(s) <= 300 for s in spans)
    assert all(text[s.start - 1] == " " for s in spans[1:])


def test_neighbouring_chunks_share_a_sentence() -> None:
    text = " ".join(f"Предложение номер {i} про события дня." for i in range(40))
    spans = SentenceSplitter(chunk_size=200, overlap_sentences=1).split_spans(text)
    for a, b in zip(spans, spans[1:], strict=False):
        assert b.start < a.end


def test_demo_corpus_chunks_keep_offsets() -> None:
    splitter = SentenceSplitter(chunk_size=700, overlap_sentences=1)
    articles = [a for a in load_paths([CORPUS]) if isinstance(a, Article)]
    assert len(articles) >= 100
    for art in articles:
        for span in splitter.split_spans(art.text):
            assert len(art.text[span.start:span.end]) == span.end - span.start > 0


def test_russian_abbreviations_do_not_end_sentences() -> None:
    text = "В 2025 г. президент т.е. глава государства прибыл в Астану. Переговоры прошли успешно."
    sents = [text[s.start:s.end] for s in sentence_spans(text)]
    assert sents == ["В 2025 г. президент т.е. глава государства прибыл в Астану.", "Переговоры прошли успешно."]
