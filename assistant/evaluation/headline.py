"""The headline figures of a news-qa set (issue targets): quote@1 by language and turn, declining, hedging, latency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .metrics import EvalQuestion, Outcome, fmt, percentile, quote_hit

RU_SINGLE = ("lexical", "paraphrase", "context", "date")  # single-turn Russian kinds (date-bound items included)


@dataclass
class Headline:
    """One system's headline figures on one question set (NaN where the set has no such question)."""

    system: str
    dataset: str
    ru_quote1: float
    en_quote1: float
    followup_quote1: float
    answerable_declined: float
    unanswerable_declined: float
    unanswerable_unhedged: float  # answered with confidence: neither declined nor offered as the closest passage
    correct_hedged: float  # of the answers whose first quote holds the gold span, the share offered as closest
    p50_ms: float
    p95_ms: float
    counts: str  # n per group: ru / en / follow-up / answerable / unanswerable

    def row(self) -> list[str]:
        """Cells for a markdown table."""
        cells = [self.ru_quote1, self.en_quote1, self.followup_quote1, self.answerable_declined,
                 self.unanswerable_declined, self.unanswerable_unhedged, self.correct_hedged]
        return [self.dataset, self.system, *(fmt(x, 2) for x in cells), fmt(self.p50_ms, 0), fmt(self.p95_ms, 0),
                self.counts]


HEADLINE_HEADER = ["set", "system", "ru quote@1", "en quote@1", "follow-up quote@1", "answerable declined",
                   "unanswerable declined", "unanswerable answered unhedged", "correct [1] hedged", "p50 ms",
                   "p95 ms", "n ru/en/fu/ans/unans"]


def share(flags: Sequence[bool]) -> float:
    """The share of true flags (NaN for none)."""
    return sum(flags) / len(flags) if flags else float("nan")


def headline(system: str, dataset: str, questions: Sequence[EvalQuestion], outcomes: Sequence[Outcome]) -> Headline:
    """The headline figures of one system's outcomes."""
    pairs = list(zip(questions, outcomes, strict=True))
    ru = [quote_hit(q, o.quote) for q, o in pairs if q.kind in RU_SINGLE]
    en = [quote_hit(q, o.quote) for q, o in pairs if q.kind == "english"]
    fu = [quote_hit(q, o.quote) for q, o in pairs if q.kind == "follow-up"]
    answerable = [(q, o) for q, o in pairs if q.doc_id is not None]
    unanswerable = [o for q, o in pairs if q.doc_id is None]
    correct = [o for q, o in answerable if o.answered and quote_hit(q, o.quote)]
    ms = sorted(o.seconds * 1000 for o in outcomes)
    return Headline(
        system, dataset, share(ru), share(en), share(fu),
        answerable_declined=share([not o.answered for _, o in answerable]),
        unanswerable_declined=share([not o.answered for o in unanswerable]),
        unanswerable_unhedged=share([o.answered and o.confident for o in unanswerable]),
        correct_hedged=share([not o.confident for o in correct]),
        p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95),
        counts=f"{len(ru)}/{len(en)}/{len(fu)}/{len(answerable)}/{len(unanswerable)}")


def headline_table(rows: Sequence[Headline]) -> str:
    """A markdown table of headline rows."""
    lines = ["| " + " | ".join(HEADLINE_HEADER) + " |", "|" + "---|" * len(HEADLINE_HEADER)]
    lines += ["| " + " | ".join(r.row()) + " |" for r in rows]
    return "\n".join(lines)
