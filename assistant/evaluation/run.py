"""Runs an evaluation: fresh stores, the assistant and baselines, a markdown report and a bar chart."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .headline import Headline, headline, headline_table
from .metrics import (
    EvalQuestion,
    KindRow,
    Metrics,
    Outcome,
    assistant_system,
    decline_metrics,
    kind_table,
    load_eval_set,
    load_unanswerable,
    run_system,
    score,
    score_by_kind,
    table,
)

if TYPE_CHECKING:
    from ..embedding import Embedder
    from ..pipeline import Assistant
    from ..settings import Settings
    from ..types import Article

Progress = Callable[[str, int, int], None]


@dataclass
class EvalReport:
    """Rows for answerable questions and for questions the corpus cannot answer."""

    dataset: str
    answerable: list[Metrics] = field(default_factory=list)
    unanswerable: list[Metrics] = field(default_factory=list)
    by_kind: list[KindRow] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    records: list[dict[str, object]] = field(default_factory=list)  # the assistant's outcome per question

    def markdown(self) -> str:
        """Both tables as markdown (and the headline and per-kind tables for news-qa sets)."""
        parts = [f"Answerable questions ({self.dataset}):\n", table(self.answerable)]
        if self.headlines:
            parts += [f"\nHeadline ({self.dataset}):\n", headline_table(self.headlines)]
        if self.by_kind:
            parts += [f"\nBy kind ({self.dataset}; quote@1 = the first citation, at most 400 characters, "
                      "contains the gold span):\n", kind_table(self.by_kind)]
        if self.unanswerable:
            parts += ["\nQuestions the corpus cannot answer (declined should be high):\n", table(self.unanswerable)]
        return "\n".join(parts)


def fresh_assistant(settings: Settings, embedder: Embedder | None, name: str, store: Path | None = None) -> Assistant:
    """An assistant on a new temporary data dir (or on ``store``, reused: unchanged articles are not embedded again).
    In server mode (``ASSISTANT_DATABASE_URL``) the database and the Chroma server are the store, reused the same way;
    the data dir then holds nothing."""
    from ..pipeline import Assistant

    data = store or Path(tempfile.mkdtemp(prefix=f"eval-{name}-"))
    server = bool(settings.database_url.get_secret_value())
    update: dict[str, object] = {"data_dir": data} if server else {"data_dir": data, "chroma_url": ""}
    return Assistant(settings.model_copy(update=update), embedder=embedder)


def ingest_corpus(assistant: Assistant, corpus: Path) -> None:
    """Ingest the evaluated corpus; in server mode a database that also holds other articles (they would change the
    answers) is refused before anything is written."""
    if assistant.settings.database_url.get_secret_value():
        from ..loading import load_paths
        from ..types import Article

        ours = {a.doc_id for a in load_paths([corpus], assistant.limits()) if isinstance(a, Article)}
        others = [d.doc_id for d in assistant.list_docs() if d.doc_id not in ours]
        if others:
            raise ValueError(f"the database of ASSISTANT_DATABASE_URL holds {len(others)} articles that are not in "
                             f"{corpus} (e.g. {others[0]}): evaluate each corpus on its own database and Chroma "
                             "collection")
    assistant.ingest([corpus])


def run_one(name: str, system: Callable[[EvalQuestion], Outcome], questions: list[EvalQuestion],
            progress: Progress | None) -> list[Outcome]:
    """Ask all questions of one system, reporting progress."""
    return run_system(system, questions, (lambda i: progress(name, i, len(questions))) if progress else None)


def evaluate(settings: Settings, dataset: Path, corpus: Path | None = None, unanswerable: Path | None = None,
             news_corpus: Path | None = None, baselines: bool = True, limit: int | None = None,
             progress: Progress | None = None, embedder: Embedder | None = None,
             store: Path | None = None) -> EvalReport:
    """Ingest the dataset's articles (or ``corpus``) afresh, then measure the assistant and the baselines."""
    evalset = load_eval_set(dataset, limit)
    assistant = fresh_assistant(settings, embedder, evalset.name, store)
    if evalset.articles:
        assistant.ingest_articles(evalset.articles)
    elif corpus is not None:
        ingest_corpus(assistant, corpus)
        resolve_doc_ids(evalset.questions, assistant)
    else:
        raise ValueError(f"{dataset} has no articles of its own: give --corpus with the articles its doc_ids name")
    report = measure(assistant, evalset.name, evalset.questions, baselines, progress, evalset.articles)
    if unanswerable is not None:
        report.unanswerable.append(decline_unanswerable(settings, assistant, unanswerable, news_corpus, limit, progress))
    return report


def evaluate_dev_parts(settings: Settings, shared: Path, names: str = "all", store: Path | None = None,
                       baselines: bool = False, limit: int | None = None, progress: Progress | None = None,
                       embedder: Embedder | None = None) -> list[EvalReport]:
    """Each development part on its own corpus (built into ``store/corpora``), stored in ``store/<part store>``."""
    from .devparts import dev_parts

    root = store or Path(tempfile.mkdtemp(prefix="eval-dev-"))
    reports = []
    for part in dev_parts(shared, names):
        assistant = fresh_assistant(settings, embedder, part.name, root / part.store_name)
        embedder = assistant.embedder
        ingest_corpus(assistant, part.corpus_path(root / "corpora"))
        questions = part.questions()[:limit] if limit else part.questions()
        resolve_doc_ids(questions, assistant)
        reports.append(measure(assistant, f"dev part {part.name}", questions, baselines, progress, []))
    return reports


def measure(assistant: Assistant, name: str, questions: list[EvalQuestion], baselines: bool,
            progress: Progress | None, articles: list[Article]) -> EvalReport:
    """The assistant (and the baselines) on questions about the assistant's stored corpus."""
    from .baselines import bm25_system, dense_system, langchain_system

    report = EvalReport(dataset=name)
    systems: dict[str, Callable[[EvalQuestion], Outcome]] = {"assistant (hybrid + quote scoring)":
                                                             assistant_system(assistant)}
    if baselines:
        systems["BM25 alone"] = bm25_system(assistant)
        systems["dense alone"] = dense_system(assistant)
        articles = articles or [a for d in assistant.list_docs() if (a := assistant.get_article(d.doc_id))]
        systems["plain LangChain"] = langchain_system(assistant.embedder, articles)
    for system_name, system in systems.items():
        outcomes = run_one(system_name, system, questions, progress)
        report.answerable.append(score(system_name, questions, outcomes))
        if any(q.kind for q in questions):
            report.by_kind.extend(score_by_kind(system_name, questions, outcomes))
            report.headlines.append(headline(system_name, name, questions, outcomes))
        if not report.records:
            report.records = [record(name, q, o) for q, o in zip(questions, outcomes, strict=True)]
    return report


def record(dataset: str, q: EvalQuestion, o: Outcome) -> dict[str, object]:
    """One question's outcome as a JSON-friendly record (for offline analysis: ``--outcomes``)."""
    return {"set": dataset, "id": q.qid, "kind": q.kind, "question": q.question, "doc_id": q.doc_id,
            "gold": sorted(q.gold_ids()), "answers": q.answers, "answered": o.answered, "confident": o.confident,
            "quote": o.quote, "quotes": o.quotes[:3], "ranking": o.ranking[:5], "ms": round(o.seconds * 1000, 1)}


def resolve_doc_ids(questions: list[EvalQuestion], assistant: Assistant) -> None:
    """Gold ids that name a file (``117141_text``) become the stored article's id (``117141_text-1a2b3c4d``)."""
    by_stem = {Path(d.path).stem: d.doc_id for d in assistant.list_docs()}
    for q in questions:
        if q.doc_id is not None:
            q.doc_id = by_stem.get(q.doc_id, q.doc_id)
        q.also_in = [by_stem.get(d, d) for d in q.also_in]


def decline_unanswerable(settings: Settings, assistant: Assistant, path: Path, news_corpus: Path | None,
                         limit: int | None, progress: Progress | None) -> Metrics:
    """Declined rate of the assistant on questions its (news) corpus cannot answer."""
    corpus = news_corpus or settings.demo_corpus
    same = {Path(d.path).resolve().parent for d in assistant.list_docs()} == {corpus.resolve()}
    news = assistant if same else fresh_assistant(settings, assistant.embedder, "news")  # not ingested twice
    if not same:
        news.ingest([corpus])
    questions = [EvalQuestion(q, []) for q in load_unanswerable(path, limit)]
    name = f"assistant on {path.stem} vs news corpus"
    return decline_metrics(name, run_one(name, assistant_system(news), questions, progress))


def bar_chart(report: EvalReport, out: Path) -> None:
    """Hit@1, quote-contains-answer and declined rate per system, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = report.answerable
    metrics = [("hit@1", "hit1"), ("hit@5", "hit5"), ("quote ⊇ answer", "quote_contains")]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, (label, attr) in enumerate(metrics):
        ax.bar(x + (i - 1) * 0.27, [getattr(r, attr) for r in rows], width=0.27, label=label)
    ax.set_xticks(x, [r.system for r in rows], fontsize=8)
    ax.set_ylim(0, 1)
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.axhline(0.85, color="grey", linestyle="--", linewidth=1)
    ax.set_title(f"{report.dataset}: retrieval and quoting (targets: hit@1 0.95 dotted, quote 0.85 dashed)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
