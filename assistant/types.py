"""Typed values that cross module lines: articles, chunks, hits, citations, answers, reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal


@dataclass(frozen=True)
class Article:
    """One news article as loaded from a file or a JSONL line."""

    doc_id: str
    title: str
    text: str
    date: str | None = None  # ISO YYYY-MM-DD or None
    source: str = ""
    url: str = ""
    path: str = ""  # where it came from (file path, or file path + line number)
    note: str = field(default="", compare=False)  # a loader's warning about a stored article (e.g. bytes replaced)


@dataclass(frozen=True)
class Chunk:
    """A span of an article: ``article.text[start:end] == text`` always holds."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str

    @property
    def chunk_id(self) -> str:
        """Stable id of this chunk inside the store."""
        return f"{self.doc_id}:{self.index}"


@dataclass(frozen=True)
class Filters:
    """Restrictions on which articles may be retrieved."""

    date_from: date | None = None
    date_to: date | None = None
    sources: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """True when nothing is restricted."""
        return self.date_from is None and self.date_to is None and not self.sources

    def describe(self, lang: str = "ru") -> str:
        """Human-readable description of the filters, in Russian or English."""
        parts: list[str] = []
        if self.date_from or self.date_to:
            lo = self.date_from.isoformat() if self.date_from else "…"
            hi = self.date_to.isoformat() if self.date_to else "…"
            parts.append(f"{'даты' if lang == 'ru' else 'dates'} {lo} — {hi}")
        if self.sources:
            parts.append(f"{'источник' if lang == 'ru' else 'source'}: {', '.join(self.sources)}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "sources": list(self.sources),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Filters:
        """Build from a JSON-like dict (``date_from``, ``date_to`` as ISO strings, ``sources`` as list)."""
        if not data:
            return cls()
        dfrom, dto = data.get("date_from"), data.get("date_to")
        sources = data.get("sources") or ()
        if isinstance(sources, str):
            sources = (sources,)
        return cls(
            date_from=date.fromisoformat(dfrom) if dfrom else None,
            date_to=date.fromisoformat(dto) if dto else None,
            sources=tuple(s for s in sources if s),
        )


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and per-retriever ranks."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class SourceRef:
    """Another article carrying the same story as a citation (a near-duplicate): where else it was published."""

    doc_id: str
    title: str
    date: str | None
    source: str
    url: str = ""


@dataclass(frozen=True)
class Citation:
    """A verbatim quote from a stored article, with where it stands and how well it matched."""

    doc_id: str
    title: str
    date: str | None
    source: str
    url: str
    quote: str
    start: int
    end: int
    score: float
    n: int = 0  # the number shown to the user, 1-based
    also: tuple[SourceRef, ...] = ()  # the same story from other sources (near-duplicates), listed under the quote

    def citation_text(self) -> str:
        """The ready-to-paste citation: «title — date — source — «quote» — url» (empty parts left out)."""
        parts = [self.title, self.date or "", self.source, f"«{self.quote}»", self.url]
        return " — ".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with the ready ``citation`` string."""
        data = asdict(self)
        data["also"] = [asdict(ref) for ref in self.also]
        data["citation"] = self.citation_text()
        return data


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass
class Answer:
    """What ``Assistant.ask`` returns."""

    question: str
    text: str  # the lead line (extractive) or the LLM's answer; quotes are in ``citations``
    citations: list[Citation] = field(default_factory=list)
    answered: bool = True  # False when the corpus holds no answer
    lang: str = "ru"
    filters_applied: Filters = field(default_factory=Filters)
    search_query: str = ""  # the query actually searched (after follow-up rewriting)
    notes: list[str] = field(default_factory=list)  # e.g. dropped unverifiable LLM quotes
    elapsed_ms: float = 0.0
    confident: bool = True  # False when the first quote is offered as the closest passage, not as the answer

    def plain_text(self) -> str:
        """The whole answer as plain text: the text, each numbered quote, and the filters applied."""
        lines = [self.text, *(f"[{c.n}] «{c.quote}» — {c.title}, {c.date or '—'}, {c.source or '—'}"
                              for c in self.citations)]
        if not self.filters_applied.is_empty():
            label = "Применены фильтры" if self.lang == "ru" else "Filters applied"
            lines.append(f"{label}: {self.filters_applied.describe(self.lang)}.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the CLI's --json and the HTTP API)."""
        return {
            "question": self.question,
            "answer": self.text,
            "answer_plain": self.plain_text(),
            "answered": self.answered,
            "lang": self.lang,
            "citations": [c.to_dict() for c in self.citations],
            "filters_applied": self.filters_applied.to_dict(),
            "filters_description": self.filters_applied.describe(self.lang),
            "search_query": self.search_query,
            "notes": list(self.notes),
            "confident": self.confident,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


FileStatus = Literal["added", "updated", "unchanged", "failed", "removed", "duplicate"]


@dataclass(frozen=True)
class FileResult:
    """The outcome of ingesting one article (or one failed file/line)."""

    path: str
    status: FileStatus
    doc_id: str = ""
    title: str = ""
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    """Summary of one ingest run."""

    results: list[FileResult] = field(default_factory=list)

    def count(self, status: FileStatus) -> int:
        """How many results have this status."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[FileResult]:
        """The failed results, with their reasons."""
        return [r for r in self.results if r.status == "failed"]

    def summary(self) -> str:
        """One line: added / updated / unchanged / removed / failed."""
        keys: tuple[FileStatus, ...] = ("added", "updated", "unchanged", "removed", "failed")
        line = ", ".join(f"{k} {self.count(k)}" for k in keys)
        dups = self.count("duplicate")  # exact copies of stored articles, not stored again
        return f"{line}, duplicate {dups}" if dups else line

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"summary": self.summary(), "results": [asdict(r) for r in self.results]}


@dataclass(frozen=True)
class DocInfo:
    """A stored article's metadata, as listed in the corpus panel."""

    doc_id: str
    title: str
    date: str | None
    source: str
    url: str
    path: str
    chunks: int
    chars: int


@dataclass(frozen=True)
class Stats:
    """What ``assistant stats`` prints."""

    documents: int
    chunks: int
    model: str
    data_dir: str
    collection: str
    sources: dict[str, int] = field(default_factory=dict)


@dataclass
class Trace:
    """An answer with what led to it: the fused hits and the articles ranked after quote scoring (for evaluation)."""

    answer: Answer
    hits: list[Hit]
    doc_ranking: list[str]
    scored: Any = None  # the answerer's ranked candidates and their features (answering.Scored)
