"""Fitting the linear ranker (listwise softmax over each question's candidates) and its decline thresholds."""

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

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores of candidate rows."""
        return np.asarray(((x - self.mean) / self.scale) @ self.coef)


def standardiser(groups: Sequence[Group]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of every feature over all candidates (scale 1 for constant features)."""
    rows = np.vstack([g.features for g in groups])
    scale = rows.std(axis=0)
    return rows.mean(axis=0), np.where(scale > 1e-6, scale, 1.0)


def listwise_loss(coef: np.ndarray, xs: list[np.ndarray], ys: list[np.ndarray], ws: list[float],
                  l2: float) -> tuple[float, np.ndarray]:
    """Weighted mean of −log P(a positive is ranked first) under a softmax of scores, plus L2; and its gradient."""
    loss, grad = 0.0, np.zeros_like(coef)
    for x, y, w in zip(xs, ys, ws, strict=True):
        s = x @ coef
        p = np.exp(s - s.max())
        p /= p.sum()
        pos = p * y
        mass = pos.sum()
        loss -= w * np.log(mass + 1e-12)
        grad -= w * (x.T @ (pos / (mass + 1e-12) - p))
    n = max(1e-9, sum(ws))
    return loss / n + l2 * float(coef @ coef), grad / n + 2 * l2 * coef


def fit(groups: Sequence[Group], l2: float, weights: Sequence[float] | None = None) -> Fitted:
    """Coefficients minimising the listwise loss over groups that have at least one positive candidate."""
    from scipy.optimize import minimize

    mean, scale = standardiser(groups)
    use = [(g, w) for g, w in zip(groups, weights or [1.0] * len(groups), strict=True) if g.labels.any()]
    xs = [(g.features - mean) / scale for g, _ in use]
    ys = [g.labels for g, _ in use]
    result = minimize(listwise_loss, np.zeros(len(mean)), args=(xs, ys, [w for _, w in use], l2), jac=True,
                      method="L-BFGS-B",
                      options={"maxiter": 500})
    return Fitted(mean, scale, result.x)


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
