"""Answer rankers: one score per candidate (higher = more likely to hold the answer), and decline thresholds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .candidates import Candidate
from .features import FEATURES, Features, Question, formula_score, standardised
from .model_file import AnswerModelError, LinearModel, builtin_path, read_model

DEFAULT_MODEL = "linear-v1"


def probability(logit: float) -> float:
    """The logistic of a logit (tanh form: no overflow however far the logit is from 0)."""
    return 0.5 * (1.0 + math.tanh(0.5 * logit))


class AnswerRanker(Protocol):
    """Scores candidates in input order; says below which best score a question is declined."""

    model_id: str
    margin: float

    def score(self, question: Question, cands: Sequence[Candidate], feats: Features) -> np.ndarray:
        """One score per candidate, in input order."""
        ...

    def threshold(self, pair: str) -> float:
        """The decline threshold on relevance (dense + 0.12 · overlap) for a language pair (``ru-ru``, ``en-ru``)."""
        ...

    def hedged(self, score: float, pair: str = "ru-ru") -> bool:
        """Whether a first quote with this score is too unlikely to hold the answer to be offered as the answer."""
        ...


class FormulaRanker:
    """The hand-set baseline: dense similarity plus weighted term overlap plus a small length bonus."""

    model_id = "formula"
    margin = 0.03

    def __init__(self, min_relevance: float) -> None:
        self.min_relevance = min_relevance

    def score(self, question: Question, cands: Sequence[Candidate], feats: Features) -> np.ndarray:
        """dense + 0.12 · overlap + 0.03 · length share."""
        return formula_score(feats)

    def threshold(self, pair: str) -> float:
        """One threshold for every language pair."""
        return self.min_relevance

    def hedged(self, score: float, pair: str = "ru-ru") -> bool:
        """Never: the formula's score is not a probability."""
        return False


class LinearRanker:
    """A logistic model over standardised features ("this candidate holds the answer"), fitted on the dev set."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.model_id = Path(model.path).stem
        self.margin = model.margin
        cols = [FEATURES.index(f) for f in model.features]
        self._cols = np.array(cols, dtype=np.int64)
        self._mean = np.array(model.mean, dtype=np.float32)
        self._scale = np.array(model.scale, dtype=np.float32)
        self._coef = np.array(model.coef, dtype=np.float32)

    def score(self, question: Question, cands: Sequence[Candidate], feats: Features) -> np.ndarray:
        """The model's logit per candidate."""
        if not len(cands):
            return np.zeros(0, dtype=np.float32)
        x = standardised(feats.matrix[:, self._cols], self._mean, self._scale)
        prior = self.model.prior_weight * formula_score(feats) if self.model.prior_weight else 0.0
        scores = x @ self._coef + self.model.intercept + prior
        if self.model.correction is not None:  # the matrix holds all of FEATURES, the correction's columns
            scores = scores + self.model.correction.scores(feats.matrix)
        return np.asarray(scores, dtype=np.float32)

    def threshold(self, pair: str) -> float:
        """The pair's threshold, else the one for the question's language with Russian articles."""
        t = self.model.thresholds
        return t.get(pair, t.get(pair.split("-")[0] + "-ru", t["ru-ru"]))

    def hedged(self, score: float, pair: str = "ru-ru") -> bool:
        """The logit as a probability, below the model's ``hedge_below`` for the pair (else the question language's
        with Russian articles, else ru-ru; none in older weights files)."""
        below = self.model.hedge_below
        if below is None:
            return False
        return probability(score) < below.get(pair, below.get(pair.split("-")[0] + "-ru", below["ru-ru"]))


def make_ranker(key: str, embedder_model_id: str, min_relevance: float | None) -> AnswerRanker:
    """``formula``, ``linear`` (the bundled weights) or ``linear:<path>``."""
    if key == "formula":
        return FormulaRanker(0.86 if min_relevance is None else min_relevance)
    if key == "linear" or key.startswith("linear:"):
        path = Path(key.partition(":")[2]) if ":" in key else builtin_path(DEFAULT_MODEL)
        ranker = LinearRanker(read_model(path, FEATURES, embedder_model_id))
        if min_relevance is not None:
            ranker.model.thresholds.update({k: min_relevance for k in ranker.model.thresholds})
        return ranker
    raise AnswerModelError(f"ASSISTANT_ANSWER_RANKER={key!r}: use formula, linear or linear:<path to weights JSON>")
