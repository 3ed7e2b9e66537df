"""Which features the ranker keeps: greedy backward elimination judged by cross-validation on dev-tune alone.

    python -m assistant.answering.training.train --shared ../shared --select-features
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..features import FEATURES
from .data import Group


@dataclass(frozen=True)
class Step:
    """One elimination step: the feature dropped and the cross-validated top-1 without it."""

    dropped: str
    cv: float
    fit: float  # top-1 of the model fitted on all of dev-tune (the tie-break)


Judge = Callable[[list[Group]], tuple[float, float]]  # groups → (cross-validated top-1, fitted top-1) on dev-tune


def without(groups: Sequence[Group], names: Sequence[str]) -> list[Group]:
    """The groups with these features' columns zeroed (a constant column: the fit gives it no weight)."""
    cols = [FEATURES.index(n) for n in names]
    out = []
    for g in groups:
        matrix = g.features.copy()
        matrix[:, cols] = 0.0
        out.append(replace(g, features=matrix))
    return out


def eliminate(groups: Sequence[Group], judge: Judge) -> list[Step]:
    """Drop, one at a time, the feature whose removal most raises cross-validated top-1 (ties: the better fit, then
    the earlier feature); stop when no removal raises it strictly."""
    dropped: list[str] = []
    steps: list[Step] = []
    best = judge(without(groups, dropped))[0]
    while True:
        trials = [(*judge(without(groups, [*dropped, name])), -i, name)
                  for i, name in enumerate(FEATURES) if name not in dropped]
        if not trials:
            return steps
        cv, fitted, _, name = max(trials)
        if cv <= best:
            return steps
        dropped.append(name)
        best = cv
        steps.append(Step(name, cv, fitted))
