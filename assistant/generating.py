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
QUOTE = re.compile(r'«([^«»]{1,3000})»|“([^“”]{1,3000})”|„([^„“”]{1,3000})[“”]|"([^"\n]{1,3000})"')
REF = r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]"
REFS_AFTER = re.compile(rf"(?P<punct>[ \t]*[.,;:]?)[ \t]*(?P<refs>{REF}(?:[ \t]*{REF})*)")
ONE_REF = re.compile(rf"[ \t]?{REF}")
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
        for m in QUOTE.finditer(text):
            refs = REFS_AFTER.match(text, m.end())
            out.append(text[pos:m.start()])
            out.append(self._check_quote(text, m, refs))
            pos = refs.end() if refs else m.end()
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

    def _check_quote(self, text: str, m: re.Match[str], refs: re.Match[str] | None) -> str:
        inner = next(g for g in m.groups() if g is not None)
        whole = text[m.start():refs.end()] if refs else m.group(0)
        ns = _ref_numbers(refs.group("refs")) if refs else []
        valid = [n for n in ns if n in self.sources]
        if not ns and len(inner.split()) < MIN_UNCITED_QUOTE_WORDS:
            return whole  # a name or a term in quotation marks, not a quote
        found = self._find(inner, valid)
        if found is None:
            found = self._find(inner, [n for n in self.sources if n not in valid])
            if found is not None and ns:
                self.result.notes.append(_note("moved", self.lang, ns=ns, k=found[0], q=_short(inner)))
                assert refs is not None
                whole = text[m.start():refs.start("refs")] + f"[{found[0]}]"
        if found is None:
            self.result.dropped.append(inner)
            self.result.notes.append(_note("dropped", self.lang, ns=ns, q=_short(inner)))
            return REMOVED_MARK.get(self.lang, REMOVED_MARK["en"]) + (refs.group("punct").strip() if refs else "")
        return self._keep(m, inner, whole, found)

    def _keep(self, m: re.Match[str], inner: str, whole: str, found: tuple[int, int, int]) -> str:
        n, start, end = found
        source = self.sources[n]
        exact = source.exact(start, end)
        self.result.verified_quotes.append(VerifiedQuote(exact, source.doc_id, start, end, n))
        if exact != inner.strip() and normalise_with_map(exact)[0] == normalise_with_map(inner.strip())[0]:
            body = m.group(0)
            whole = body[0] + exact + body[-1] + whole[len(body):]  # copy the article's exact characters
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
        """Send chat messages, return the reply's text; LLMError on any endpoint failure."""
        import httpx
        import openai
        from langchain_core.exceptions import ModelError

        model = self._chat_model()
        try:
            reply = model.invoke(messages)
        except (openai.APIError, ModelError, httpx.HTTPError) as exc:
            raise LLMError(f"LLM endpoint {self.base_url} (model {self.settings.llm_model}) failed: "
                           f"{type(exc).__name__}: {exc}") from exc
        return str(reply.text).strip()

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
