"""A correction to the news ranker for questions that copy the text's words, weighted by how much they copy.

The news ranker learns from questions phrased the way staff phrase them, where the sentence repeating the question's
words restates the topic. A question that copies a sentence (encyclopedic, quiz-like) is usually answered by that
sentence. The correction is learned from cloze questions over NEREL paragraphs (``training/cloze.py``) together
with the news questions, and added to the news ranker's logit in proportion to the gate below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .features import FEATURES, standardised

GATE = "lex_max_squared"  # the only gate so far; the weights file names it so that another cannot be misread
LEX = FEATURES.index("lex")


def copy_gate(x: np.ndarray) -> float:
    """How much the question copies its best-matching candidate: the largest IDF-weighted share of the question's
    lemmas found in one candidate, squared (0 for an English question about Russian text, 1 for a cloze)."""
    if not len(x):
        return 0.0
    return float(np.nanmax(x[:, LEX]) ** 2)


@dataclass(frozen=True)
class Correction:
    """Gated linear terms over the standardised features (all of FEATURES, in order)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    gated_intercept: float
    intercept: float  # ungated: shifts every candidate of every question alike (it moves probabilities only)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """What the correction adds to the logit of each candidate row of one question."""
        gate = copy_gate(x)
        z = standardised(x, self.mean, self.scale)
        return np.asarray(gate * (z @ self.coef + self.gated_intercept) + self.intercept, dtype=np.float32)

    def to_json(self) -> dict[str, Any]:
        """The weights file's ``correction`` object."""
        return {"gate": GATE, "features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "gated_intercept": self.gated_intercept, "intercept": self.intercept}


def correction_from_json(raw: dict[str, Any]) -> Correction:
    """The correction of a weights file (checked by ``model_file``)."""
    return Correction(np.array(raw["mean"], dtype=np.float32), np.array(raw["scale"], dtype=np.float32),
                      np.array(raw["coef"], dtype=np.float32), float(raw["gated_intercept"]), float(raw["intercept"]))
