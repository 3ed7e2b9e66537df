"""Evaluation: question sets, metrics, the eval run with its baselines, and the development parts' registry.

``metrics`` holds the question sets and scoring, ``run`` the ``assistant eval`` run, ``baselines`` the systems it
compares with, ``devparts`` the four development parts. The names most callers need are re-exported here.
"""

from .metrics import (
    KINDS,
    QUOTE_LIMIT,
    EvalQuestion,
    EvalSet,
    KindRow,
    Metrics,
    Outcome,
    assistant_system,
    decline_metrics,
    kind_of,
    kind_row,
    kind_table,
    load_eval_set,
    load_jsonl,
    load_squad,
    load_unanswerable,
    measured,
    norm,
    percentile,
    quote_hit,
    run_system,
    score,
    score_by_kind,
    table,
    with_answers,
)

__all__ = [
    "KINDS", "QUOTE_LIMIT", "EvalQuestion", "EvalSet", "KindRow", "Metrics", "Outcome", "assistant_system",
    "decline_metrics", "kind_of", "kind_row", "kind_table", "load_eval_set", "load_jsonl", "load_squad",
    "load_unanswerable", "measured", "norm", "percentile", "quote_hit", "run_system", "score", "score_by_kind",
    "table", "with_answers",
]
