"""Which features the ranker keeps: greedy backward elimination judged out of fold (leave one part out).

    python -m assistant.answering.training.train --shared ../shared --select-features
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..features import FEATURES
from .data import Group


@dataclass(frozen=True)
class Step:
    """One elimination step: the feature dropped and the cross-validated top-1 without it."""

    dropped: str
    cv: float
    fit: float  # top-1 of the model fitted on all of dev-tune (the tie-break)


Judge = Callable[[list[Group], Sequence[str]], tuple[float, float]]  # groups, features left out → (cross-validated
# top-1, fitted top-1)


def eliminate(groups: Sequence[Group], judge: Judge, units: Sequence[tuple[str, ...]] | None = None) -> list[Step]:
    """Drop, one at a time, the feature (or unit of related features) whose removal most raises the judged top-1
    (ties: the better tie-break figure, then the earlier unit); stop when no removal raises it strictly."""
    units = list(units) if units is not None else [(name,) for name in FEATURES]
    dropped: list[str] = []
    steps: list[Step] = []
    best = judge(list(groups), dropped)[0]
    while True:
        trials = [(*judge(list(groups), [*dropped, *unit]), -i, "+".join(unit))
                  for i, unit in enumerate(units) if not set(unit) <= set(dropped)]
        if not trials:
            return steps
        cv, fitted, _, name = max(trials)
        if cv <= best:
            return steps
        dropped.extend(name.split("+"))
        best = cv
        steps.append(Step(name, cv, fitted))
