"""Fitting the linear ranker (logistic regression over the candidates) and its decline thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .data import Group


@dataclass
class Fitted:
    """Standardisation and coefficients of a linear ranker."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float = 0.0

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores (logits) of candidate rows."""
        return np.asarray(((x - self.mean) / self.scale) @ self.coef + self.intercept)


def standardiser(groups: Sequence[Group]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of every feature over all candidates (scale 1 for constant features)."""
    rows = np.vstack([g.features for g in groups])
    scale = rows.std(axis=0)
    return rows.mean(axis=0), np.where(scale > 1e-6, scale, 1.0)


def fit(groups: Sequence[Group], strength: float, weights: Sequence[float] | None = None) -> Fitted:
    """Logistic regression of "this candidate holds the answer" over every candidate of every group.

    ``strength`` is the L2 penalty's inverse (scikit-learn's C). Pointwise beat a listwise softmax objective on the
    dev set by about 0.1 (docs/answer_ranker.md): it pushes every answering window up, not only the easiest one.
    """
    from sklearn.linear_model import LogisticRegression

    mean, scale = standardiser(groups)
    ws = list(weights or [1.0] * len(groups))
    x = np.vstack([(g.features - mean) / scale for g in groups])
    y = np.concatenate([g.labels for g in groups])
    w = np.concatenate([np.full(len(g.labels), wt) for g, wt in zip(groups, ws, strict=True)])
    model = LogisticRegression(C=strength, max_iter=5000).fit(x, y, sample_weight=w)
    return Fitted(mean, scale, model.coef_[0], float(model.intercept_[0]))


def top1(fitted: Fitted, groups: Sequence[Group]) -> float:
    """Share of groups whose best-scored candidate is a positive."""
    hits = [bool(g.labels[int(np.argmax(fitted.scores(g.features)))]) for g in groups if len(g.labels)]
    return sum(hits) / max(1, len(groups))


def threshold_for(answerable: Sequence[float], unanswerable: Sequence[float], max_declined: float) -> float:
    """The highest threshold that declines at most ``max_declined`` of the answerable questions' best scores."""
    if not answerable:
        return min(unanswerable, default=0.0)
    ordered = sorted(answerable)
    k = int(np.floor(max_declined * len(ordered)))
    return float(ordered[k] - 1e-6) if k < len(ordered) else float(ordered[-1])
