"""Evaluation: question sets (SQuAD JSON, JSONL, RuBQ), retrieval and quoting metrics, and baselines."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..loading import make_article
from ..types import Article, Turn

if TYPE_CHECKING:
    from ..pipeline import Assistant

QUOTE_LIMIT = 400  # "the first citation, at most ~400 characters": a longer quote counts as a miss
KINDS = ("lexical", "paraphrase", "context", "follow-up", "english", "unanswerable")


@dataclass
class EvalQuestion:
    """A question with its gold answers and the article that holds them."""

    question: str
    answers: list[str]
    doc_id: str | None = None
    history: list[Turn] = field(default_factory=list)
    kind: str = ""  # lexical / paraphrase / context / follow-up / english / unanswerable (news-qa sets)
    qid: str = ""
    also_in: list[str] = field(default_factory=list)  # other articles that hold the same answer verbatim

    def gold_ids(self) -> set[str]:
        """The articles that count as the right source."""
        return {self.doc_id, *self.also_in} if self.doc_id is not None else set()


@dataclass
class EvalSet:
    """Articles to ingest (may be empty: use a corpus folder) and questions about them."""

    name: str
    articles: list[Article]
    questions: list[EvalQuestion]


@dataclass
class Outcome:
    """What one system did with one question."""

    ranking: list[str]
    quote: str
    answered: bool
    seconds: float
    quotes: list[str] = field(default_factory=list)  # the first citations in order (quote@3); [quote] if empty
    confident: bool = True  # False when the first quote was offered as the closest passage, not as the answer


@dataclass
class Metrics:
    """One row of the results table."""

    system: str
    n: int
    hit1: float = float("nan")
    hit5: float = float("nan")
    mrr10: float = float("nan")
    quote_contains: float = float("nan")
    declined: float = float("nan")
    p50_ms: float = float("nan")
    p95_ms: float = float("nan")
    mean_quote_chars: float = float("nan")

    def row(self) -> list[str]:
        """Cells for a markdown table."""
        cells = [self.hit1, self.hit5, self.mrr10, self.quote_contains, self.declined]
        return [self.system, str(self.n), *(fmt(x) for x in cells), fmt(self.mean_quote_chars, 0),
                fmt(self.p50_ms, 0), fmt(self.p95_ms, 0)]


HEADER = ["system", "n", "hit@1", "hit@5", "MRR@10", "quote⊇answer", "declined", "quote chars", "p50 ms", "p95 ms"]


def fmt(x: float, digits: int = 3) -> str:
    """A number for the table ('—' when not measured)."""
    return "—" if x != x else f"{x:.{digits}f}"


MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]*)\)")
MARKDOWN_MARKS = re.compile(r"\*\*|__|~~|\|\||`")


def strip_markdown(text: str) -> str:
    """Telegram markdown to plain text, as the shared Telegram corpus builder strips it."""
    return MARKDOWN_MARKS.sub("", MARKDOWN_LINK.sub(lambda m: m.group(1) or m.group(2), text))


def norm(text: str) -> str:
    """Markdown-stripped, case- and space-folded text for answer matching."""
    return " ".join(strip_markdown(text).replace("ё", "е").replace("Ё", "Е").casefold().split())


def load_squad(path: Path, limit: int | None = None) -> EvalSet:
    """SQuAD-format JSON (XQuAD): each paragraph becomes an article (built by the loader, as a JSONL import of
    ``title`` and ``text`` would be), its questions point at it."""
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    articles, questions = [], []
    for art in data["data"]:
        title = art.get("title", "").replace("_", " ")
        slug = re.sub(r"[^\w-]+", "_", title)
        for i, para in enumerate(art["paragraphs"]):
            doc_id = f"{slug}-{i}"  # stored as a user's import would be: the loader's article (title first)
            articles.append(make_article({"id": doc_id, "title": title, "source": "XQuAD"},
                                         para["context"].lstrip("\ufeff"), Path(f"{path}#{doc_id}")))
            for qa in para["qas"]:
                questions.append(EvalQuestion(qa["question"], [a["text"] for a in qa["answers"]], doc_id))
    return EvalSet(path.stem, articles, questions[:limit] if limit else questions)


def load_jsonl(path: Path, limit: int | None = None) -> EvalSet:
    """JSONL questions: ``question``, ``answer`` (string or list), ``doc_id``, optional ``context`` (earlier turns).

    The news-qa format (``id``, ``difficulty``, ``lang``, ``context`` = the earlier question) gives each item a kind.
    """
    questions = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        obj = json.loads(line)
        if not isinstance(obj.get("question"), str):
            raise ValueError(f'{path}:{lineno}: field "question" is missing')
        answers = obj.get("answer") or []
        context = obj.get("context") or []
        context = [context] if isinstance(context, str) else context
        history = [Turn("user", c) if isinstance(c, str) else Turn(c["role"], c["content"]) for c in context]
        questions.append(EvalQuestion(obj["question"], [answers] if isinstance(answers, str) else list(answers),
                                      obj.get("doc_id"), history, kind_of(obj), str(obj.get("id", lineno))))
    return EvalSet(path.stem, [], questions[:limit] if limit else questions)


def kind_of(obj: dict[str, object]) -> str:
    """The kind of a news-qa item, from its fields (empty for other JSONL sets)."""
    if "difficulty" not in obj:
        return ""
    if obj.get("doc_id") is None:
        return "unanswerable"
    if obj.get("context"):
        return "follow-up"
    if obj.get("lang") == "en":
        return "english"
    return str(obj.get("difficulty") or "")


def load_unanswerable(path: Path, limit: int | None = None) -> list[str]:
    """Questions the corpus cannot answer: RuBQ JSON (``question_text``) or JSONL (``question``)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        items = [json.loads(line)["question"] for line in text.splitlines() if line.strip()]
    else:
        items = [q["question_text"] for q in json.loads(text)]
    return items[:limit] if limit else items


def load_eval_set(path: Path, limit: int | None = None) -> EvalSet:
    """A question set by its file type."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such evaluation file")
    return load_jsonl(path, limit) if path.suffix == ".jsonl" else load_squad(path, limit)


def run_system(system: Callable[[EvalQuestion], Outcome], questions: Sequence[EvalQuestion],
               progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Ask every question."""
    out = []
    for i, q in enumerate(questions):
        out.append(system(q))
        if progress:
            progress(i + 1)
    return out


def score(name: str, questions: Sequence[EvalQuestion], outcomes: Sequence[Outcome]) -> Metrics:
    """Retrieval and quoting metrics of one system on answerable questions."""
    ranks = [gold_rank(q, o) for q, o in zip(questions, outcomes, strict=True)]
    has_gold = [q.doc_id is not None for q in questions]
    n_gold = max(1, sum(has_gold))
    contains = [quote_hit(q, o.quote) for q, o in zip(questions, outcomes, strict=True)]
    ms = sorted(o.seconds * 1000 for o in outcomes)
    quotes = [len(o.quote) for o in outcomes if o.quote]
    return Metrics(
        system=name, n=len(questions),
        hit1=sum(1 for r in ranks if r == 1) / n_gold,
        hit5=sum(1 for r in ranks if r is not None and r <= 5) / n_gold,
        mrr10=sum(1 / r for r in ranks if r is not None and r <= 10) / n_gold,
        quote_contains=sum(contains) / max(1, len(questions)),
        declined=sum(1 for o in outcomes if not o.answered) / max(1, len(outcomes)),
        p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95),
        mean_quote_chars=statistics.fmean(quotes) if quotes else float("nan"),
    )


def gold_rank(q: EvalQuestion, o: Outcome) -> int | None:
    """The 1-based rank of the first right article in the outcome's ranking (None when absent)."""
    gold = q.gold_ids()
    return next((i for i, doc in enumerate(o.ranking, start=1) if doc in gold), None)


def quote_hit(q: EvalQuestion, quote: str) -> bool:
    """Whether a quote (at most ``QUOTE_LIMIT`` characters) contains a gold answer, case/space/ё-folded."""
    return bool(quote) and len(quote) <= QUOTE_LIMIT and any(norm(a) in norm(quote) for a in q.answers)


@dataclass
class KindRow:
    """One row of the per-kind table (news-qa sets)."""

    system: str
    kind: str
    n: int
    hit1: float
    quote1: float
    quote3: float
    declined: float
    closest: float  # answered, but the first quote offered as the closest passage rather than as the answer
    p50_ms: float
    p95_ms: float

    def row(self) -> list[str]:
        """Cells for a markdown table."""
        return [self.system, self.kind, str(self.n), fmt(self.hit1), fmt(self.quote1), fmt(self.quote3),
                fmt(self.declined), fmt(self.closest), fmt(self.p50_ms, 0), fmt(self.p95_ms, 0)]


KIND_HEADER = ["system", "kind", "n", "article hit@1", "quote@1", "quote@3", "declined", "offered as closest",
               "p50 ms", "p95 ms"]


def kind_row(system: str, kind: str, pairs: Sequence[tuple[EvalQuestion, Outcome]]) -> KindRow:
    """Metrics of one system on the questions of one kind."""
    n = max(1, len(pairs))
    ms = sorted(o.seconds * 1000 for _, o in pairs)
    gold = [(q, o) for q, o in pairs if q.doc_id is not None]
    no_gold = kind == "unanswerable"
    nan = float("nan")
    return KindRow(
        system, kind, len(pairs),
        hit1=nan if no_gold else sum(1 for q, o in gold if gold_rank(q, o) == 1) / n,
        quote1=nan if no_gold else sum(1 for q, o in gold if quote_hit(q, o.quote)) / n,
        quote3=nan if no_gold else sum(1 for q, o in gold if any(quote_hit(q, x) for x in (o.quotes or [o.quote])[:3])) / n,
        declined=sum(1 for _, o in pairs if not o.answered) / n,
        closest=sum(1 for _, o in pairs if o.answered and not o.confident) / n,
        p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95))


def score_by_kind(system: str, questions: Sequence[EvalQuestion], outcomes: Sequence[Outcome]) -> list[KindRow]:
    """Per-kind rows, plus "Russian single-turn" (lexical+paraphrase+context) and "answerable" (all but unanswerable)."""
    pairs = list(zip(questions, outcomes, strict=True))
    groups: dict[str, list[tuple[EvalQuestion, Outcome]]] = {}
    for q, o in pairs:
        groups.setdefault(q.kind, []).append((q, o))
        if q.kind in ("lexical", "paraphrase", "context"):
            groups.setdefault("ru single-turn", []).append((q, o))
        if q.kind != "unanswerable":
            groups.setdefault("answerable", []).append((q, o))
    order = [*KINDS[:3], "ru single-turn", *KINDS[3:], "answerable"]
    return [kind_row(system, k, groups[k]) for k in order if k in groups]


def kind_table(rows: Sequence[KindRow]) -> str:
    """A markdown table of per-kind rows."""
    lines = ["| " + " | ".join(KIND_HEADER) + " |", "|" + "---|" * len(KIND_HEADER)]
    lines += ["| " + " | ".join(r.row()) + " |" for r in rows]
    return "\n".join(lines)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def decline_metrics(name: str, outcomes: Sequence[Outcome]) -> Metrics:
    """Only the declined rate and latency (for questions the corpus cannot answer)."""
    ms = sorted(o.seconds * 1000 for o in outcomes)
    return Metrics(system=name, n=len(outcomes), declined=sum(1 for o in outcomes if not o.answered) / max(1, len(outcomes)),
                   p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95))


def table(rows: Sequence[Metrics]) -> str:
    """A markdown table of metrics rows."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.row()) + " |" for r in rows]
    return "\n".join(lines)


def measured(system: Callable[[EvalQuestion], Outcome]) -> Callable[[EvalQuestion], Outcome]:
    """The system with each outcome's wall time filled in."""

    def run(q: EvalQuestion) -> Outcome:
        started = time.perf_counter()
        out = system(q)
        out.seconds = time.perf_counter() - started
        return out

    return run


def with_answers(assistant: Assistant, history: Sequence[Turn]) -> list[Turn]:
    """The history with the assistant's own answer after each trailing user turn (a follow-up's first question)."""
    out: list[Turn] = []
    for turn in history:
        out.append(turn)
        if turn.role == "user":
            out.append(Turn("assistant", assistant.ask(turn.content, out[:-1]).plain_text()))
    return out


def assistant_system(assistant: Assistant) -> Callable[[EvalQuestion], Outcome]:
    """The full assistant: hybrid retrieval, quote ranking, refusal (follow-ups get the earlier turns answered)."""

    def run(q: EvalQuestion) -> Outcome:
        history = with_answers(assistant, q.history) if any(t.role == "user" for t in q.history[-1:]) else q.history
        answer_trace = assistant.trace(q.question, history)
        cites = answer_trace.answer.citations
        return Outcome(answer_trace.doc_ranking, cites[0].quote if cites else "", answer_trace.answer.answered, 0.0,
                       [c.quote for c in cites], answer_trace.answer.confident)

    return measured(run)
