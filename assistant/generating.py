"""Optional generative answers: a chat model writes a short cited answer; every quote it makes is verified.

Off by default. ``ASSISTANT_LLM=openai:<base_url>`` turns it on (any OpenAI-compatible Chat Completions
endpoint). The extractive citations stay the ground truth: the model only sees them as numbered,
fenced passages, and a quote it writes survives only if it is verbatim in the cited article.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .prompts import render_messages
from .types import Article, Citation, Turn

if TYPE_CHECKING:
    from .settings import Settings

LLM_FORMS = "'' (empty: extractive answers only) or openai:<base_url> (e.g. openai:http://127.0.0.1:8000/v1)"
LANGUAGE_NAMES = {"ru": "Russian", "en": "English"}
NO_PASSAGES = {
    "ru": "В отрывках нет ответа на этот вопрос.",
    "en": "The passages hold no answer to this question.",
}
REMOVED_MARK = {"ru": "[цитата не подтверждена и удалена]", "en": "[unverified quote removed]"}
MIN_UNCITED_QUOTE_WORDS = 3  # shorter quoted strings without [n] are names or terms («Газпром»), not quotes

FENCE_TAG = re.compile(r"<(?=\s*/?\s*passages?\b)", re.IGNORECASE)
# Every pair of marks a model may quote with: (opening, closings, opening only after a non-letter, closing only
# before a non-letter). The apostrophe forms need the letter checks: «don't», «it’s» are no quote marks.
QUOTE_MARKS = [("«", "»", False, False), ("“", "”", False, False), ("„", "“”", False, False),
               ("‘", "’", False, True), ("‚", "‘’", False, True), ("‹", "›", False, False), ("「", "」", False, False),
               ("『", "』", False, False), ('"', '"', False, False), ("'", "'", True, True)]
WRAP = r"\n(?![ \t]*\n)"  # a quote may wrap to the next line, not run into the next paragraph


def _quote_pattern(opening: str, closings: str, word_before: bool, word_after: bool) -> str:
    """A regex for one form of quote marks; its one group is the quoted words."""
    close = f"[{re.escape(closings)}]" + (r"(?!\w)" if word_after else "")
    if word_after:  # an apostrophe inside a word («don't») is no closing mark
        stop = "" if opening in closings else re.escape(opening)
        char = rf"(?!{close})(?:[^{stop}\n]|{WRAP})"
    else:
        char = rf"(?:[^{re.escape(opening + closings)}\n]|{WRAP})"
    return (r"(?<!\w)" if word_before else "") + f"{re.escape(opening)}((?:{char}){{1,3000}}){close}"


QUOTE = re.compile("|".join(_quote_pattern(*marks) for marks in QUOTE_MARKS))
BLOCKQUOTE = re.compile(r"(?m)(?:^[ \t]*>[^\n]*(?:\n|\Z))+")
BLOCK_MARKER = re.compile(r"(?m)^[ \t]*>[ \t]?")
REF = r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]"
REFS_AFTER = re.compile(rf"(?P<punct>[ \t]*[.,;:]?)[ \t]*(?P<refs>{REF}(?:[ \t]*{REF})*)")
ONE_REF = re.compile(rf"[ \t]?{REF}")
REFS_AT_END = re.compile(rf"(?P<punct>[ \t]*[.,;:]?)[ \t]*(?P<refs>{REF}(?:[ \t]*{REF})*)[ \t.]*\Z")
NORMALISED = str.maketrans({
    "«": '"', "»": '"', "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "ʼ": "'",
    "—": "-", "–": "-", "‒": "-", "−": "-", "‑": "-", "ё": "е", "Ё": "Е", "‹": "<",
})
EDGE_ELLIPSES = " \t\n…."


class LLMError(RuntimeError):
    """The LLM endpoint failed (unreachable, timed out, or answered with an error)."""


@dataclass(frozen=True)
class VerifiedQuote:
    """A quote the model wrote that is verbatim in a cited article: ``article.text[start:end] == quote``."""

    quote: str
    doc_id: str
    start: int
    end: int
    n: int  # the passage number it was found in


@dataclass
class Generated:
    """The model's answer after verification, with what was kept, dropped and flagged."""

    text: str
    verified_quotes: list[VerifiedQuote] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: str = ""  # the model's reply before verification


# ---- passages and history for the prompt ----------------------------------------------------------------------


def neutralise(text: str) -> str:
    """Defuse anything in untrusted text that could open or close a ``<passage>`` fence."""
    return FENCE_TAG.sub("‹", text)


def _attr(value: str | None) -> str:
    return html.escape(" ".join((value or "").split()), quote=True)


def passage_text(citation: Citation, article: Article | None, context_chars: int) -> str:
    """The cited quote with up to ``context_chars`` of its article on each side, cut at spaces."""
    if article is None:
        return citation.quote
    text = article.text
    lo, hi = max(0, citation.start - context_chars), min(len(text), citation.end + context_chars)
    if lo > 0:
        space = text.find(" ", lo, citation.start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", citation.end, hi)
        hi = space if space != -1 else hi
    return text[lo:hi].strip()


def format_passages(citations: Sequence[Citation], articles: dict[str, Article], context_chars: int = 600) -> str:
    """The citations as numbered ``<passage>`` blocks whose content cannot break out of its fence."""
    blocks = []
    for c in citations:
        body = neutralise(passage_text(c, articles.get(c.doc_id), context_chars))
        head = f'<passage n="{c.n}" title="{_attr(c.title)}" date="{_attr(c.date)}" source="{_attr(c.source)}">'
        blocks.append(f"{head}\n{body}\n</passage>")
    return "\n\n".join(blocks)


def format_history(history: Sequence[Turn], max_turns: int = 6, max_chars: int = 600) -> str:
    """The last turns of a conversation as ``User: …`` / ``Assistant: …`` lines."""
    lines = []
    for turn in list(history)[-max_turns:]:
        content = " ".join(turn.content.split())
        if len(content) > max_chars:
            content = content[:max_chars].rstrip() + "…"
        lines.append(f"{'User' if turn.role == 'user' else 'Assistant'}: {neutralise(content)}")
    return "\n".join(lines)


# ---- verification ---------------------------------------------------------------------------------------------


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Text with whitespace runs collapsed and quote marks, dashes and ё unified; offsets[i] = source index."""
    chars: list[str] = []
    offsets: list[int] = []
    previous_space = False
    for i, ch in enumerate(text):
        space = ch.isspace()
        if not (space and previous_space):
            chars.append(" " if space else ch)
            offsets.append(i)
        previous_space = space
    return "".join(chars).translate(NORMALISED), offsets


@dataclass(frozen=True)
class Source:
    """A cited article's text prepared for locating quotes in it."""

    doc_id: str
    text: str
    base: int  # offset of ``text`` inside the stored article (non-zero only when the article was not given)
    norm: str
    offsets: list[int]

    @classmethod
    def of(cls, citation: Citation, articles: dict[str, Article]) -> Source:
        """The whole stored article when given, else just the citation's own quote."""
        article = articles.get(citation.doc_id)
        text, base = (article.text, 0) if article is not None else (citation.quote, citation.start)
        norm, offsets = normalise_with_map(text)
        return cls(citation.doc_id, text, base, norm, offsets)

    def locate(self, quote: str) -> tuple[int, int] | None:
        """Exact (after normalisation) position of the quote in the article, or None."""
        for candidate in (quote.strip(), quote.strip(EDGE_ELLIPSES), quote.strip(EDGE_ELLIPSES + ",;:!?")):
            needle = normalise_with_map(candidate)[0]
            if not needle:
                continue
            i = self.norm.find(needle)
            if i >= 0:
                return self.base + self.offsets[i], self.base + self.offsets[i + len(needle) - 1] + 1
        return None

    def exact(self, start: int, end: int) -> str:
        """The article's own text between two article offsets."""
        return self.text[start - self.base:end - self.base]


def _ref_numbers(refs: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", refs)]


def _short(quote: str, limit: int = 120) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= limit else quote[:limit].rstrip() + "…"


def _note(kind: str, lang: str, **v: Any) -> str:
    ru = lang == "ru"
    if kind == "dropped" and v.get("ns"):
        src = ", ".join(f"[{n}]" for n in v["ns"])
        return (f"Цитата не найдена в источнике {src} и удалена: «{v['q']}»" if ru
                else f"Quote not found in source {src} and removed: “{v['q']}”")
    if kind == "dropped":
        return (f"Цитата не найдена ни в одном источнике и удалена: «{v['q']}»" if ru
                else f"Quote not found in any source and removed: “{v['q']}”")
    if kind == "moved":
        src = ", ".join(f"[{n}]" for n in v["ns"]) or "—"
        return (f"Цитата приписана источнику {src}, но найдена в источнике [{v['k']}]; ссылка исправлена: «{v['q']}»"
                if ru else f"Quote attributed to {src} but found in source [{v['k']}]; reference corrected: “{v['q']}”")
    return (f"Ссылка [{v['n']}] не указывает ни на один отрывок и удалена." if ru
            else f"Reference [{v['n']}] points to no passage and was removed.")


@dataclass(frozen=True)
class Quoted:
    """A span of the model's answer that presents words as quoted, with the ``[n]`` references right after it."""

    start: int  # where the span begins in the answer
    body_end: int  # where the quote itself ends (before punctuation and references)
    end: int  # where the span ends, references included
    inner: str  # the quoted words
    head: str  # what precedes the words in the span: an opening mark, or ``> `` of a blockquote
    tail: str  # what follows the words before ``body_end``: a closing mark
    ns: tuple[int, ...] = ()  # the passages it cites
    refs_at: int = 0  # where its references begin (``end`` when none)
    punct: str = ""  # punctuation between the quote and its references
    after: str = ""  # what a removed quote leaves behind (a blockquote's line end)


def quoted_spans(text: str) -> list[Quoted]:
    """Every quoted span of a model's answer, in order: words between quote marks of any form («», “”, „“, ‘’,
    ‹›, 「」, "…", '…', wrapped across a line or not) and Markdown ``> `` blockquotes that hold no quote marks."""
    blocks = [b for b in map(_blockquote, BLOCKQUOTE.finditer(text)) if not QUOTE.search(b.inner)]
    spans = list(blocks)
    for m in QUOTE.finditer(text):
        if any(b.start <= m.start() < b.end for b in blocks):
            continue
        refs = REFS_AFTER.match(text, m.end())
        inner = next(g for g in m.groups() if g is not None)
        spans.append(Quoted(m.start(), m.end(), refs.end() if refs else m.end(), inner, m.group(0)[0],
                            m.group(0)[-1], tuple(_ref_numbers(refs.group("refs"))) if refs else (),
                            refs.start("refs") if refs else m.end(), refs.group("punct") if refs else ""))
    return sorted(spans, key=lambda q: q.start)


def _blockquote(m: re.Match[str]) -> Quoted:
    """A Markdown blockquote as one quote: its lines without the ``>`` marks, a trailing ``[n]`` as its reference."""
    block = m.group(0)
    end = m.start() + len(block.rstrip("\n"))
    body = BLOCK_MARKER.sub("", block).strip()
    refs = REFS_AT_END.search(body)
    inner = body[:refs.start()] if refs else body
    refs_at = end if refs is None else m.start() + block.rstrip("\n").rfind(refs.group("refs"))
    head = block[:len(block) - len(block.lstrip(" \t>"))]
    return Quoted(m.start(), refs_at if refs else end, end, inner.strip(), head, "",
                  tuple(_ref_numbers(refs.group("refs"))) if refs else (), refs_at,
                  refs.group("punct") if refs else "", block[len(block.rstrip("\n")):])


class Verifier:
    """Checks every quote and ``[n]`` in a model's answer against the articles the passages were cut from."""

    def __init__(self, citations: Sequence[Citation], articles: dict[str, Article], lang: str) -> None:
        by_doc: dict[str, Source] = {}
        self.sources: dict[int, Source] = {}
        for c in citations:
            source = by_doc.get(c.doc_id) if c.doc_id in articles else None
            self.sources[c.n] = source or Source.of(c, articles)
            by_doc[c.doc_id] = self.sources[c.n]
        self.lang = lang
        self.result = Generated(text="")

    def verify(self, text: str) -> Generated:
        """The answer with unverifiable quotes replaced by a marker and dangling references removed."""
        self.result = Generated(text="", raw=text)
        out: list[str] = []
        pos = 0
        for quoted in quoted_spans(text):
            out.append(text[pos:quoted.start])
            out.append(self._check_quote(text, quoted))
            pos = quoted.end
        out.append(text[pos:])
        self.result.text = self._clean_refs("".join(out)).strip()
        self.result.notes = list(dict.fromkeys(self.result.notes))
        return self.result

    def _find(self, quote: str, numbers: Sequence[int]) -> tuple[int, int, int] | None:
        for n in numbers:
            span = self.sources[n].locate(quote)
            if span is not None:
                return n, span[0], span[1]
        return None

    def _check_quote(self, text: str, q: Quoted) -> str:
        whole = text[q.start:q.end]
        valid = [n for n in q.ns if n in self.sources]
        if not q.ns and len(q.inner.split()) < MIN_UNCITED_QUOTE_WORDS:
            return whole  # a name or a term in quotation marks, not a quote
        found = self._find(q.inner, valid)
        if found is None:
            found = self._find(q.inner, [n for n in self.sources if n not in valid])
            if found is not None and q.ns:
                self.result.notes.append(_note("moved", self.lang, ns=list(q.ns), k=found[0], q=_short(q.inner)))
                whole = text[q.start:q.refs_at] + f"[{found[0]}]"
        if found is None:
            self.result.dropped.append(q.inner)
            self.result.notes.append(_note("dropped", self.lang, ns=list(q.ns), q=_short(q.inner)))
            return REMOVED_MARK.get(self.lang, REMOVED_MARK["en"]) + q.punct.strip() + q.after
        return self._keep(text, q, whole, found)

    def _keep(self, text: str, q: Quoted, whole: str, found: tuple[int, int, int]) -> str:
        n, start, end = found
        source = self.sources[n]
        exact = source.exact(start, end)
        self.result.verified_quotes.append(VerifiedQuote(exact, source.doc_id, start, end, n))
        if exact != q.inner.strip() and normalise_with_map(exact)[0] == normalise_with_map(q.inner.strip())[0]:
            whole = q.head + exact + q.tail + whole[q.body_end - q.start:]  # copy the article's exact characters
        return whole

    def _clean_refs(self, text: str) -> str:
        def fix(m: re.Match[str]) -> str:
            numbers = _ref_numbers(m.group(0))
            for n in numbers:
                if n not in self.sources:
                    self.result.notes.append(_note("bad_ref", self.lang, n=n))
            kept = [str(n) for n in numbers if n in self.sources]
            if not kept:
                return ""
            return (" " if m.group(0)[0] in " \t" else "") + f"[{', '.join(kept)}]"

        return ONE_REF.sub(fix, text)


def verify_answer(text: str, citations: Sequence[Citation], articles: dict[str, Article], lang: str) -> Generated:
    """Verify a written answer's quotes and references against the cited articles."""
    return Verifier(citations, articles, lang).verify(text)


# ---- the writer -----------------------------------------------------------------------------------------------


def _base_url(llm: str) -> str:
    kind, sep, url = llm.strip().partition(":")
    if kind != "openai" or not sep or not re.match(r"https?://\S+$", url.strip()):
        raise ValueError(f"ASSISTANT_LLM={llm!r} is not understood: use {LLM_FORMS}")
    return url.strip()


class LLMWriter:
    """Writes short cited answers and standalone follow-up questions with an OpenAI-compatible chat model."""

    def __init__(self, settings: Settings, *, max_retries: int = 1, temperature: float | None = 0.0,
                 context_chars: int = 600, history_turns: int = 6) -> None:
        self.settings = settings
        self.base_url = _base_url(settings.llm)
        self.max_retries = max_retries
        self.temperature = temperature
        self.context_chars = context_chars
        self.history_turns = history_turns
        self._model: Any = None
        self._lock = threading.Lock()

    def _chat_model(self) -> Any:
        with self._lock:
            if self._model is None:
                from langchain_openai import ChatOpenAI

                key = self.settings.llm_api_key.get_secret_value() or "not-needed"
                self._model = ChatOpenAI(
                    model=self.settings.llm_model, base_url=self.base_url, api_key=key,
                    timeout=self.settings.llm_timeout, max_retries=self.max_retries, temperature=self.temperature,
                )
            return self._model

    def complete(self, messages: list[tuple[str, str]]) -> str:
        """Send chat messages, return the reply's text; LLMError on any endpoint failure and on a reply that is no
        usable chat completion (garbage, HTML, ``{"error": …}`` or no ``choices`` with status 200, empty content)."""
        model = self._chat_model()
        where = f"LLM endpoint {self.base_url} (model {self.settings.llm_model})"
        try:
            reply = model.invoke(messages)
        except Exception as exc:  # noqa: BLE001 - whatever the endpoint sends, the extractive answer stands
            raise LLMError(f"{where} failed: {type(exc).__name__}: {_short(str(exc), 300)}") from exc
        text = str(reply.text).strip()
        if not text:
            raise LLMError(f"{where} sent an empty reply")
        return text

    def write(self, question: str, citations: list[Citation], articles: dict[str, Article],
              history: list[Turn], lang: str) -> Generated:
        """Write a short answer from the cited passages, then keep only quotes verbatim in their sources."""
        if not citations:
            return Generated(text=NO_PASSAGES.get(lang, NO_PASSAGES["en"]))
        messages = render_messages(
            self.settings.prompts_dir, "answer",
            question=neutralise(question.strip()),
            passages=format_passages(citations, articles, self.context_chars),
            history=format_history(history, self.history_turns),
            language=LANGUAGE_NAMES.get(lang, lang),
        )
        return verify_answer(self.complete(messages), citations, articles, lang)

    def condense(self, question: str, history: list[Turn]) -> str:
        """Rewrite a follow-up into a standalone question (same language); unchanged when there is no history."""
        if not history:
            return question
        from .answering import detect_lang

        messages = render_messages(
            self.settings.prompts_dir, "condense",
            question=neutralise(question.strip()),
            history=format_history(history, self.history_turns),
            language=LANGUAGE_NAMES[detect_lang(question)],
        )
        return clean_question(self.complete(messages)) or question


def clean_question(reply: str) -> str:
    """The first non-empty line of a reply, without a label or surrounding quotation marks."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    line = re.sub(r"^(standalone question|question|вопрос|самостоятельный вопрос)\s*:\s*", "", line, flags=re.I)
    return line.strip().strip("«»\"“”„'").strip()


def make_writer(settings: Settings) -> LLMWriter | None:
    """The configured writer: None for ``llm=""``, LLMWriter for ``openai:<base_url>``; ValueError otherwise."""
    if not settings.llm.strip():
        return None
    _base_url(settings.llm)
    return LLMWriter(settings)
