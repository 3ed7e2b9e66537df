"""Rebuild the answer ranker's weights from ../shared: the four news-qa-dev parts, out of fold.

    python -m assistant.answering.training.train --shared ../shared --out assistant/answering/weights/linear-v1.json

collects every part's candidate groups through the pipeline (the corpora are built and ingested under --data-dir
once; the groups are cached there), reports leave-one-part-out and article-fold figures per part, calibrates the
decline and hedge thresholds per language pair on out-of-part scores, and fits the ranker on all four parts.
``--select-features`` runs the backward elimination by leave-one-part-out top-1 instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..correction import Correction, correction_from_json
from ..features import FEATURES
from ..model_file import FORMAT, builtin_path, write_model
from . import oof
from .data import Group, bucket
from .fit import Fitted, fit, top1
from .parts import all_groups, cloze_groups
from .selection import Judge, eliminate

C_GRID = (0.3, 1.0, 3.0)  # inverse L2 strengths compared by cross-validation
PRIOR_WEIGHTS = (0.0, 100.0)  # the formula's score as an offset: 0 = learn from scratch
PRIOR_TOLERANCE = 0.025  # the prior is kept while it costs at most this much cross-validated dev accuracy
MARGIN = 8.0  # quotes after [1] are shown while their logit is within this of the best (e^8: nearly always)
SHIPPED = "linear-v1"
EMBEDDER = "multilingual-e5-small"  # the groups' similarities are this model's


def tune_split(qid: str) -> bool:
    """Two thirds of the development set tune (by a hash of the item id); one third is reported untouched."""
    return bucket(qid, 3) != 0


def cv_top1(tune: list[Group], synth: list[Group], c: float, synth_weight: float, prior_weight: float,
            folds: int = 4) -> float:
    """Top-1 of out-of-fold predictions on the dev-tune questions (synthetic ones always in training)."""
    hits = 0
    extra = synth if synth_weight > 0 else []
    for fold in range(folds):
        train = [g for i, g in enumerate(tune) if i % folds != fold]
        fitted = fit(extra + train, c, [synth_weight] * len(extra) + [1.0] * len(train), prior_weight)
        hits += sum(bool(g.labels[int(np.argmax(fitted.scores(g.features)))])
                    for i, g in enumerate(tune) if i % folds == fold and len(g.labels))
    return hits / max(1, len(tune))


def choose(synth: list[Group], dev: list[Group], synth_weights: Sequence[float], c_grid: Sequence[float] = C_GRID,
           prior_weights: Sequence[float] = PRIOR_WEIGHTS) -> tuple[Fitted, dict[str, float], dict[str, float]]:
    """Regularisation, prior and synthetic weight by cross-validation on dev-tune; then fit on all of it.

    The dev set is small and news-only: among settings within PRIOR_TOLERANCE of the best, the strongest prior
    (the formula's ranking, which generalises beyond news) wins, then the strongest regularisation (smallest C).
    """
    tune = [g for g in dev if g.answerable and tune_split(g.qid)]
    grid = {(c, sw, pw): cv_top1(tune, synth, c, sw, pw)
            for c in c_grid for sw in synth_weights for pw in prior_weights}
    top = max(grid.values())
    c, sw, pw = max((k for k, v in grid.items() if v >= top - PRIOR_TOLERANCE), key=lambda k: (k[2], -k[0], grid[k], -k[1]))
    extra = synth if sw > 0 else []
    fitted = fit(extra + tune, c, [sw] * len(extra) + [1.0] * len(tune), pw)
    chosen = {"C": c, "synthetic_weight": sw, "prior_weight": pw}
    return fitted, chosen, {f"C={k[0]} synth={k[1]} prior={k[2]}": round(v, 4) for k, v in grid.items()}


def prefix(source: str) -> str:
    """The report keys' prefix of a question set: ``dev`` for news-qa-dev, else its name (``demo_qa``)."""
    return "dev" if source == "news-qa-dev" else source.replace("-", "_")


def by_source(groups: Sequence[Group]) -> dict[str, list[Group]]:
    """The groups of each question set, news-qa-dev first."""
    out: dict[str, list[Group]] = {}
    for g in sorted(groups, key=lambda g: g.source != "news-qa-dev"):
        out.setdefault(g.source, []).append(g)
    return out


def report(fitted: Fitted, synth: list[Group], dev: list[Group]) -> dict[str, float]:
    """Top-1 (the first candidate holds the answer) on synthetic questions, on all tuning questions, and on both
    splits of each set, per kind."""
    out = {"synthetic_top1": round(top1(fitted, synth), 4),
           "tune_top1": round(top1(fitted, [g for g in dev if g.answerable and tune_split(g.qid)]), 4)}
    for source, groups in by_source(dev).items():
        for split, keep in (("tune", True), ("heldout", False)):
            split_groups = [g for g in groups if g.answerable and tune_split(g.qid) == keep]
            key = f"{prefix(source)}_{split}"
            out[f"{key}_top1"] = round(top1(fitted, split_groups), 4)
            for kind in sorted({g.kind for g in split_groups}):
                same = [g for g in split_groups if g.kind == kind]
                out[f"{key}_{kind}_top1"] = round(top1(fitted, same), 4)
                out[f"{key}_{kind}_n"] = len(same)
    return out


def git_commit() -> str:
    """The current commit, for the record."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


UNITS: tuple[tuple[str, ...], ...] = (  # related features are judged (and dropped) together
    ("dense_mean",), ("dense_gap",), ("doc_gap",), ("focus", "focus_gap"), ("dense_z", "focus_z"), ("focus_lex",),
    ("head_sim",), ("lex_gap",), ("name_cov",), ("novelty",), ("headline",), ("lead",), ("anaphoric",),
    ("width2", "width3"), ("chars",), ("t_who", "t_where", "t_when", "t_count", "t_why", "t_what", "t_unit"),
    ("foreign",), ("lex_ctx",), ("hub",),
)
DROPPED: tuple[str, ...] = ("novelty", "hub", "focus_lex", "lex_gap", "anaphoric")  # left out of the model, in the
# order --select-features dropped them (docs/answer_ranker.md)


def parse_paths(items: Sequence[str], flag: str) -> dict[str, Path]:
    """``NAME=PATH`` options as a mapping (a clear error names the flag)."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"{flag} {item!r}: expected NAME=PATH, e.g. {flag} telegram=/tmp/telegram.jsonl")
        out[name] = Path(path)
    return out


def shipped_correction() -> Correction | None:
    """The copy-gated correction of the shipped weights (fitted on NEREL cloze questions; held fixed). A feature
    added since it was fitted gets no weight in it (the file is then rewritten with every feature)."""
    raw = json.loads(builtin_path(SHIPPED).read_text(encoding="utf-8")).get("correction")
    if raw is None:
        return None
    old = {name: i for i, name in enumerate(raw["features"])}
    picked = {k: [raw[k][old[n]] if n in old else fill for n in FEATURES]
              for k, fill in (("mean", 0.0), ("scale", 1.0), ("coef", 0.0))}
    return correction_from_json({**raw, **picked, "features": list(FEATURES)})


def make_fitter(c: float, dropped: Sequence[str], correction: Correction | None,
                synth: Sequence[Group] = (), synth_weight: float = 0.0) -> oof.Fitter:
    """Fits the ranker on given groups (plus synthetic ones at ``synth_weight``) without the dropped features."""
    extra = list(synth) if synth_weight > 0 else []

    def fitter(groups: list[Group]) -> Fitted:
        return fit([*extra, *groups], c, [synth_weight] * len(extra) + [1.0] * len(groups), correction=correction,
                   dropped=dropped)

    return fitter


def selection_judge(c: float, correction: Correction | None) -> Judge:
    """Mean leave-one-part-out top-1 (the criterion; the tie-break: its fitted top-1)."""
    def judge(groups: list[Group], dropped: Sequence[str]) -> tuple[float, float]:
        fitter = make_fitter(c, dropped, correction)
        return (oof.mean_top1(groups, oof.leave_part_out(groups, fitter)),
                oof.mean_top1(groups, oof.fitted_scores(groups, fitter)))

    return judge


def subset(fitted: Fitted, dropped: Sequence[str]) -> dict[str, Any]:
    """The weights file's model fields over the kept features only."""
    keep = [i for i, n in enumerate(FEATURES) if n not in dropped]
    return {"features": [FEATURES[i] for i in keep], "mean": fitted.mean[keep].tolist(),
            "scale": fitted.scale[keep].tolist(), "coef": fitted.coef[keep].tolist()}


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--data-dir", type=Path, default=Path("data/train"),
                        help="Stores of the corpora (ingested once) and the cached candidate groups.")
    parser.add_argument("--store", action="append", default=[],
                        help="NAME=PATH: an already ingested store (nerel-train, telegram, corus) to use (and update).")
    parser.add_argument("--C", type=float, default=1.0, help="Inverse L2 strength.")
    parser.add_argument("--select-features", action="store_true",
                        help="Only run the backward elimination by leave-one-part-out top-1 and print it.")
    parser.add_argument("--no-correction", action="store_true",
                        help="Leave out the shipped copy-gated correction (fitted on NEREL cloze questions).")
    parser.add_argument("--cloze", type=int, default=0, metavar="N",
                        help="Also train on about N cloze questions over each store, at --cloze-weight each "
                             "(off: at every weight tried they lowered Russian top-1 out of fold).")
    parser.add_argument("--cloze-weight", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=Path("assistant/answering/weights/linear-v1.json"))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Collect every part's candidate groups, report out-of-fold figures, calibrate, fit, write the weights."""
    args = arguments(argv)
    if not (args.shared / "eval-data/news-qa-dev").is_dir():
        raise SystemExit(f"{args.shared}: ../shared with eval-data/news-qa-dev is needed to train; not found")
    started = time.time()
    groups = all_groups(args.shared, args.data_dir, args.data_dir / "groups", parse_paths(args.store, "--store"))
    correction = None if args.no_correction else shipped_correction()
    if args.select_features:
        for step in eliminate(groups, selection_judge(args.C, correction), UNITS):
            print(f"drop {step.dropped}: leave-one-part-out top-1 {step.cv:.4f} (fitted {step.fit:.4f})")
        return
    cloze = cloze_groups(args.shared, args.data_dir, args.data_dir / "groups", groups, args.cloze,
                         parse_paths(args.store, "--store")) if args.cloze else []
    fitter = make_fitter(args.C, DROPPED, correction, cloze, args.cloze_weight)
    lopo = oof.leave_part_out(groups, fitter)
    cal = oof.calibrate(groups, lopo)  # the shipped thresholds: from every part's out-of-part scores
    fitted = fitter(oof.trainable(groups))
    payload = {
        "format": FORMAT, **subset(fitted, DROPPED), "intercept": fitted.intercept, "prior_weight": 0.0,
        "margin": MARGIN, "thresholds": cal.decline, "hedge_below": cal.hedge,
        **({"correction": correction.to_json()} if correction is not None else {}),
        "embedder_model_id": EMBEDDER,
        "trained": {"commit": git_commit(), "C": args.C, "dropped": list(DROPPED),
                    "questions": {p: sum(g.source == p for g in groups) for p in dict.fromkeys(g.source for g in groups)},
                    "command": "python -m assistant.answering.training.train --shared ../shared"
                    + (f" --C {args.C:g}" if args.C != 1.0 else "") + (" --no-correction" if args.no_correction else "")
                    + (f" --cloze {args.cloze} --cloze-weight {args.cloze_weight:g}" if args.cloze else "")},
        "out_of_fold": oof.report(groups, fitter),
    }
    write_model(args.out, payload)
    print(json.dumps({**payload["out_of_fold"], "thresholds": cal.decline, "hedge": cal.hedge}, indent=1))
    print(f"done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
