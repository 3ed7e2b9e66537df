"""Fitting the linear ranker (logistic regression over the candidates) and its decline thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..correction import Correction, copy_gate
from ..features import FEATURES, Features, formula_score, standardised
from .data import Group


@dataclass
class Fitted:
    """Standardisation and coefficients of a linear ranker."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float = 0.0
    prior_weight: float = 0.0
    correction: Correction | None = None

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores (logits) of one question's candidate rows."""
        base = np.asarray(standardised(x, self.mean, self.scale) @ self.coef + self.intercept
                          + self.prior_weight * prior(x))
        return base + self.correction.scores(x) if self.correction is not None else base


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of every feature (column) over candidate rows, unknown (NaN) values left out (scale 1 for
    constant features)."""
    scale = np.nan_to_num(np.nanstd(x, axis=0))
    return np.nan_to_num(np.nanmean(x, axis=0)), np.where(scale > 1e-6, scale, 1.0)


def rows(groups: Sequence[Group], weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate row of the groups, its label, and its group's weight."""
    x = np.vstack([g.features for g in groups])
    y = np.concatenate([g.labels for g in groups])
    w = np.concatenate([np.full(len(g.labels), wt) for g, wt in zip(groups, weights, strict=True)])
    return x, y, w


def prior(x: np.ndarray) -> np.ndarray:
    """The formula ranker's score of candidate rows (dense + 0.12 · overlap + 0.03 · length share)."""
    return formula_score(Features(FEATURES, x))


def logistic_loss(params: np.ndarray, z: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray,
                  c: float) -> tuple[float, np.ndarray]:
    """Weighted logistic loss of "holds the answer" with a fixed offset, plus L2 (strength 1/c); and its gradient."""
    logits = z @ params[1:] + params[0] + offset
    loss = w * (np.logaddexp(0, -logits) * y + np.logaddexp(0, logits) * (1 - y))
    err = w * (1 / (1 + np.exp(-logits)) - y)
    n = w.sum()
    grad = np.concatenate([[err.sum() / n], z.T @ err / n + params[1:] / (c * n)])
    return float(loss.sum() / n + params[1:] @ params[1:] / (2 * c * n)), grad


def zeroed(x: np.ndarray, dropped: Sequence[str]) -> np.ndarray:
    """Candidate rows with the dropped features' columns set to 0 (a constant column: the fit gives it no weight)."""
    if not dropped:
        return x
    out = x.copy()
    out[:, [FEATURES.index(n) for n in dropped]] = 0.0
    return out


def fit(groups: Sequence[Group], strength: float, weights: Sequence[float] | None = None,
        prior_weight: float = 0.0, correction: Correction | None = None, dropped: Sequence[str] = ()) -> Fitted:
    """Logistic regression of "this candidate holds the answer" over every candidate of every group.

    ``strength`` is the inverse L2 penalty (scikit-learn's C); ``prior_weight`` adds the formula ranker's score as a
    fixed offset, so that the weights learn corrections to it rather than a ranking from scratch; a ``correction``
    (fitted before) is held fixed the same way and kept. The ``dropped`` features get no weight; the offsets see
    every feature, as the ranker computes them when it answers. Pointwise beat a listwise softmax objective on the
    dev set by about 0.1.
    """
    from scipy.optimize import minimize

    x, y, w = rows(groups, weights or [1.0] * len(groups))
    offset = prior_weight * prior(x)
    if correction is not None:
        offset = offset + np.concatenate([correction.scores(g.features) for g in groups])
    main = zeroed(x, dropped)
    mean, scale = standardiser(main)
    args = (standardised(main, mean, scale), y, w, offset, strength)
    result = minimize(logistic_loss, np.zeros(x.shape[1] + 1), args=args, jac=True, method="L-BFGS-B",
                      options={"maxiter": 3000})
    return Fitted(mean, scale, result.x[1:], float(result.x[0]), prior_weight, correction)


CONVERGED = {"maxiter": 50000, "ftol": 1e-16, "gtol": 1e-12}  # run to the optimum, so that the weights file does not
# depend on where a looser stop happened to fall (the thread count's rounding moved the fourth digit)


def fit_correction(base: Fitted, groups: Sequence[Group], weights: Sequence[float], strength: float) -> Fitted:
    """``base`` with a copy-gated correction fitted on ``groups`` (``base``'s logits held fixed as an offset)."""
    from scipy.optimize import minimize

    x, y, w = rows(groups, weights)
    mean, scale = standardiser(x)
    gate = np.concatenate([np.full(len(g.labels), copy_gate(g.features)) for g in groups])[:, None]
    z = np.hstack([gate, gate * standardised(x, mean, scale)])
    offset = np.concatenate([base.scores(g.features) for g in groups])
    result = minimize(logistic_loss, np.zeros(z.shape[1] + 1), args=(z, y, w, offset, strength), jac=True,
                      method="L-BFGS-B", options=CONVERGED)
    p = result.x
    correction = Correction(mean, scale, p[2:], float(p[1]), float(p[0]))
    return Fitted(base.mean, base.scale, base.coef, base.intercept, base.prior_weight, correction)


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
