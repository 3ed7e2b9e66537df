"""Candidate groups for training and tuning: each question's candidates, their features, and gold labels."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...evaluation import QUOTE_LIMIT, EvalQuestion, load_jsonl, norm, with_answers
from ..candidates import Candidate
from ..features import FEATURES

if TYPE_CHECKING:
    from ...pipeline import Assistant

DEV_SET = "eval-data/news-qa-dev/news-qa-dev.jsonl"  # inside ../shared


def dev_questions(shared: Path) -> list[EvalQuestion]:
    """The news development set's questions (their articles are left out of every synthetic set)."""
    return load_jsonl(shared / DEV_SET).questions


def articles_of(questions: Sequence[EvalQuestion]) -> frozenset[str]:
    """The ids of the articles the questions are about."""
    return frozenset(q.doc_id for q in questions if q.doc_id)


def bucket(key: str, n: int) -> int:
    """A stable bucket of ``key`` among ``n`` (a hash, the same in every process and run)."""
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % n


@dataclass
class Group:
    """One question's candidates (best first by the ranker that collected them) with labels."""

    qid: str
    kind: str
    pair: str  # language pair of the best candidate, e.g. "en-ru"
    features: np.ndarray  # one row per candidate, columns = answering.features.FEATURES
    labels: np.ndarray  # 1.0 where the candidate (≤ QUOTE_LIMIT chars) contains a gold answer
    answerable: bool
    source: str = "news-qa-dev"  # the question set it comes from (reports are per set)
    doc: str = ""  # the article it is about (its qid when unanswerable): cross-validation folds group by it


def label(cands: Sequence[Candidate], answers: Sequence[str]) -> np.ndarray:
    """Which candidates contain a gold answer (case/space/ё-folded) and are short enough to count."""
    gold = [norm(a) for a in answers]
    texts = [c.text for c in cands]
    return np.array([float(len(t) <= QUOTE_LIMIT and any(g in norm(t) for g in gold)) for t in texts],
                    dtype=np.float32)


def collect(assistant: Assistant, questions: Sequence[EvalQuestion],
            progress: Callable[[int], None] | None = None, source: str = "news-qa-dev") -> list[Group]:
    """Ask each question through the real pipeline and keep its candidates' features and labels."""
    groups = []
    for i, q in enumerate(questions):
        history = with_answers(assistant, q.history) if q.history else []
        trace = assistant.trace(q.question, history)
        scored = trace.scored
        if scored is None or scored.features is None:  # declined before ranking (no article names the year…)
            groups.append(Group(q.qid, q.kind, "", np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.float32),
                                q.doc_id is not None, source, q.doc_id or q.qid))
            continue
        groups.append(Group(q.qid, q.kind, scored.pair, scored.features.matrix, label(scored.candidates, q.answers),
                            q.doc_id is not None, source, q.doc_id or q.qid))
        if progress:
            progress(i + 1)
    return groups
