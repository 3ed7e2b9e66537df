"""Is quote [1] an answer at all? A question-level answerability model, measured out of part (not used by the
answerer: it did not win out of fold, docs/evaluation.md "Tried and not kept").

A near miss (the story is in the corpus, the asked-for detail is not) passes the relevance threshold, which measures
topic. Removing from an answerable question's candidates every one that holds the gold span, and the gold sentence's
neighbours, leaves a near miss made to order: same topic and article, detail absent. A logistic model over the
ranked group ([1]'s logit and lead over [2], its similarity to the question and to its focus, whether it fills the
asked-for slot) learns answerable against these; it declines below a probability that declines at most 2 % of the
training parts' answerable questions and hedges below one that hedges 8 % of their right first quotes. Every figure
is leave-one-part-out: the part scored was seen neither by the ranker that scored its candidates nor by the model and
its thresholds; its real near misses are never trained on.

    python -m assistant.answering.training.answerability --groups data/train/groups
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..features import FEATURES
from . import oof
from .data import Group
from .fit import logistic_loss

GROUP_FEATURES: tuple[str, ...] = (
    "logit1", "margin", "relevance", "dense1", "focus1", "focus_z1", "lex1", "name_cov1", "slot1", "slot_top3",
)
SLOTS = tuple(FEATURES.index(n) for n in ("t_who", "t_where", "t_when", "t_count", "t_why", "t_unit"))
NO_SECOND = 5.0  # [1]'s lead when it is the only candidate (logits)
MAX_DECLINED = oof.MAX_DECLINED  # answerable questions of the training parts the decline threshold may decline
MAX_HEDGED = 0.08  # right first quotes of the training parts the hedge threshold may hedge (0.10 is the target)
C = 1.0  # inverse L2 strength of the group-level logistic model
WITHIN = 0.03  # the gold article's candidates this close to the gold one's question similarity are its neighbours
GAPS = ("dense", "lex", "focus")  # features whose *_gap is relative to the question's best candidate
MODES = ("model", "hedge-only")  # the model declines and hedges; or only hedges (the relevance threshold declines)

Model = tuple[np.ndarray, np.ndarray, np.ndarray, float]  # mean, scale, coefficients, intercept


@dataclass(frozen=True)
class Sample:
    """One question (or a near miss made from one) as the answerability model sees it."""

    key: oof.Key
    part: str
    pair: str
    answerable: bool
    synthetic: bool
    right: bool  # [1] holds the gold span
    row: np.ndarray  # GROUP_FEATURES


def group_features(matrix: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One question's row of GROUP_FEATURES from its candidates' feature matrix and logits (any order)."""
    order = np.argsort(-scores, kind="stable")
    m, s = matrix[order], scores[order]
    col = {n: FEATURES.index(n) for n in FEATURES}
    slots = m[:3][:, SLOTS].max(axis=1)
    values = {
        "logit1": s[0], "margin": s[0] - s[1] if len(s) > 1 else NO_SECOND,
        "relevance": (m[:, col["dense"]] + 0.12 * m[:, col["lex"]]).max(), "dense1": m[0, col["dense"]],
        "focus1": m[0, col["focus"]], "focus_z1": m[0, col["focus_z"]], "lex1": m[0, col["lex"]],
        "name_cov1": m[0, col["name_cov"]], "slot1": slots[0], "slot_top3": slots.mean(),
    }
    return np.array([float(values[n]) for n in GROUP_FEATURES], dtype=np.float64)


def gold_neighbours(g: Group, within: float) -> np.ndarray:
    """The candidates holding the gold span, and those of the gold article (the same best-sentence gap) whose
    question similarity is within ``within`` of theirs: the gold sentence and its neighbours."""
    doc, dense = g.features[:, FEATURES.index("doc_gap")], g.features[:, FEATURES.index("dense")]
    gold = g.labels > 0
    same = np.isin(np.round(doc, 6), np.round(doc[gold], 6))
    return np.asarray(gold | (same & (dense >= dense[gold].min() - within)))


def near_miss(g: Group, within: float | None = WITHIN) -> Group | None:
    """The group without the gold sentence (and, unless ``within`` is None, its neighbours), gaps recomputed;
    None when there is nothing to remove or nothing left."""
    if not g.answerable or not g.labels.any():
        return None
    keep = ~gold_neighbours(g, within) if within is not None else g.labels == 0
    if not keep.any():
        return None
    m = g.features[keep].copy()
    col = {n: FEATURES.index(n) for n in FEATURES}
    old_best = float(g.features[:, col["dense"]].max())
    for name in GAPS:
        m[:, col[f"{name}_gap"]] = m[:, col[name]] - m[:, col[name]].max()
    m[:, col["doc_gap"]] = np.minimum(m[:, col["doc_gap"]] + old_best - m[:, col["dense"]].max(), 0.0)
    return replace(g, kind="near-miss", features=m, labels=np.zeros(int(keep.sum()), np.float32), answerable=False,
                   qid=f"{g.qid}#near-miss")


def samples(groups: Sequence[Group], fitter: oof.Fitter, within: float | None = WITHIN) -> list[Sample]:
    """Every question that reached the ranker and every near miss made from one, scored by a ranker fitted on the
    other parts."""
    out = []
    for part in dict.fromkeys(g.source for g in groups):
        fitted = fitter(oof.trainable([g for g in groups if g.source != part]))
        mine = [g for g in groups if g.source == part and len(g.labels)]
        made = [n for n in (near_miss(g, within) for g in mine) if n is not None]
        for g in mine + made:
            scores = fitted.scores(g.features)
            out.append(Sample(oof.key(g), part, g.pair, g.answerable, g.kind == "near-miss", oof.right(g, scores),
                              group_features(g.features, scores)))
    return out


def fit(train: Sequence[Sample], c: float = C) -> Model:
    """Standardisation and L2 logistic coefficients of "answerable" against the made near misses, the two classes
    weighted equally."""
    from scipy.optimize import minimize

    used = [s for s in train if s.answerable or s.synthetic]
    x, y = np.array([s.row for s in used]), np.array([s.answerable for s in used], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    w = np.where(y > 0, len(y) / (2 * max(y.sum(), 1)), len(y) / (2 * max((1 - y).sum(), 1)))
    args = ((x - mean) / scale, y, w, np.zeros(len(y)), c * len(y))  # c per sample, as scikit-learn's C
    result = minimize(logistic_loss, np.zeros(x.shape[1] + 1), args=args, jac=True, method="L-BFGS-B")
    return mean, scale, result.x[1:], float(result.x[0])


def probabilities(model: Model, rows: Sequence[Sample]) -> np.ndarray:
    """P(answerable) of the samples."""
    mean, scale, coef, intercept = model
    x = (np.array([s.row for s in rows]) - mean) / scale
    return np.asarray(1.0 / (1.0 + np.exp(-(x @ coef + intercept))))


def out_of_part(data: Sequence[Sample], c: float = C) -> np.ndarray:
    """Each sample's probability from a model fitted on the other parts."""
    p = np.zeros(len(data))
    for part in dict.fromkeys(s.part for s in data):
        idx = [i for i, s in enumerate(data) if s.part == part]
        p[idx] = probabilities(fit([s for s in data if s.part != part], c), [data[i] for i in idx])
    return p


def thresholds(data: Sequence[Sample], p: np.ndarray, max_declined: float = MAX_DECLINED,
               max_hedged: float = MAX_HEDGED) -> tuple[dict[str, float], dict[str, float]]:
    """Per pair: decline below the probability under which ``max_declined`` of the real answerable questions fall;
    hedge below the one under which ``max_hedged`` of the right first quotes fall (never below the decline)."""
    decline, hedge = {}, {}
    for pair in sorted({s.pair for s in data}):
        ans = np.sort([p[i] for i, s in enumerate(data) if s.pair == pair and s.answerable])
        ok = np.sort([p[i] for i, s in enumerate(data) if s.pair == pair and s.right])
        decline[pair] = float(ans[int(max_declined * len(ans))]) - 1e-6 if len(ans) else 0.0
        hedge[pair] = max(decline[pair], float(ok[int(max_hedged * len(ok))]) - 1e-6 if len(ok) else 0.0)
    return decline, hedge


def decisions(groups: Sequence[Group], cal: oof.Calibration, data: Sequence[Sample], part: str,
              mode: str = "model") -> dict[oof.Key, str]:
    """The part's questions decided (answer/hedge/decline) by a model and thresholds fitted on the other parts;
    in ``hedge-only`` mode today's relevance threshold (``cal``) declines and the model only hedges."""
    train = [s for s in data if s.part != part]
    decline, hedge = thresholds(train, out_of_part(train))
    model = fit(train)
    out = {oof.key(g): "decline" for g in groups if g.source == part and cal.declined(g)}
    if mode == "model":
        out = {oof.key(g): "decline" for g in groups if g.source == part and not len(g.labels)}
    for s in (s for s in data if s.part == part and not s.synthetic and s.key not in out):
        p = float(probabilities(model, [s])[0])
        below = {k: v.get(s.pair, v["ru-ru"]) for k, v in (("decline", decline), ("hedge", hedge))}
        out[s.key] = "decline" if mode == "model" and p < below["decline"] else (
            "hedge" if p < below["hedge"] else "answer")
    return out


def part_figures(groups: Sequence[Group], scores: dict[oof.Key, np.ndarray],
                 decided: dict[oof.Key, str]) -> dict[str, float]:
    """One part's figures under the decisions (defined as in oof.part_figures)."""
    ans = [g for g in groups if g.answerable]

    def answered_right(g: Group) -> bool:
        return decided[oof.key(g)] != "decline" and oof.right(g, scores[oof.key(g)])

    return {
        "ru_top1": oof.share([answered_right(g) for g in ans if g.kind in oof.SINGLE]),
        "answerable_declined": oof.share([decided[oof.key(g)] == "decline" for g in ans]),
        "unanswerable_declined": oof.share([decided[oof.key(g)] == "decline" for g in groups if not g.answerable]),
        "unanswerable_unhedged": oof.share([decided[oof.key(g)] == "answer" for g in groups if not g.answerable]),
        "right_hedged": oof.share([decided[oof.key(g)] == "hedge" for g in ans if answered_right(g)]),
    }


def today(groups: Sequence[Group], scores: dict[oof.Key, np.ndarray], cal: oof.Calibration) -> dict[oof.Key, str]:
    """The shipped rule's decisions: relevance threshold, then the probability hedge."""
    return {oof.key(g): "decline" if cal.declined(g) else "hedge" if cal.hedged(g, scores[oof.key(g)]) else "answer"
            for g in groups}


def compare(groups: Sequence[Group], fitter: oof.Fitter,
            within: float | None = WITHIN) -> dict[str, dict[str, dict[str, float]]]:
    """Leave-one-part-out figures per part: today's rule, the model deciding, and the model only hedging."""
    lopo = oof.leave_part_out(groups, fitter)
    cals = oof.calibrated_out_of_part(groups, lopo)
    data = samples(groups, fitter, within)
    out: dict[str, dict[str, dict[str, float]]] = {m: {} for m in ("today", *MODES)}
    for part in dict.fromkeys(g.source for g in groups):
        mine = [g for g in groups if g.source == part]
        out["today"][part] = part_figures(mine, lopo, today(mine, lopo, cals[part]))
        for mode in MODES:
            out[mode][part] = part_figures(mine, lopo, decisions(groups, cals[part], data, part, mode))
    return out


def table(figures: dict[str, dict[str, dict[str, float]]]) -> str:
    """The comparison as a Markdown table: one row per policy and figure, one column per part."""
    parts = list(next(iter(figures.values())))
    lines = ["| policy | figure | " + " | ".join(parts) + " |", "|---|---|" + "---|" * len(parts)]
    for policy, per_part in figures.items():
        for name in next(iter(per_part.values())):
            lines.append(f"| {policy} | {name} | " + " | ".join(f"{per_part[p][name]:.3f}" for p in parts) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the leave-one-part-out comparison over cached candidate groups (train.py's ``--data-dir``/groups)."""
    from .train import DROPPED, make_fitter, shipped_correction

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=Path, required=True, help="Folder of cached candidate groups (*.pkl).")
    parser.add_argument("--within", type=float, default=WITHIN,
                        help="Neighbours of the gold sentence removed too (similarity margin); negative: none.")
    args = parser.parse_args(argv)
    files = sorted(args.groups.glob("*.pkl"))
    if not files:
        raise SystemExit(f"{args.groups}: no cached groups (*.pkl); train.py writes them under --data-dir/groups")
    groups = [g for f in files for g in pickle.loads(f.read_bytes())]  # our own cache files, written by parts.py
    fitter = make_fitter(1.0, DROPPED, shipped_correction())
    print(table(compare(groups, fitter, args.within if args.within >= 0 else None)))


if __name__ == "__main__":
    main()
