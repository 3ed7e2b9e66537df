"""Rebuild the answer ranker's weights from ../shared (NEREL train relations + news-qa-dev for tuning).

    python -m assistant.answering.training.train --shared ../shared --C 1 --prior 0 \
        --out assistant/answering/weights/linear-v1.json

rebuilds the shipped file (about two minutes from an empty cache). Without ``--C``/``--prior`` the regularisation
and the formula prior are chosen by cross-validation on dev-tune (``choose``); that rule flips between settings
on one question's difference (docs/answer_ranker.md), so the shipped weights keep the setting it chose at ee8ca94.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...evaluation import load_jsonl
from ..features import FEATURES, Features, relevance
from ..model_file import FORMAT, write_model
from ..rankers import probability
from .correct import cloze_groups, cloze_report, corrected, cross_validated
from .data import Group, articles_of, bucket, collect, dev_questions
from .fit import Fitted, fit, threshold_for, top1
from .synth import synthesize

if TYPE_CHECKING:
    from ...pipeline import Assistant

C_GRID = (0.3, 1.0, 3.0)  # inverse L2 strengths compared by cross-validation
PRIOR_WEIGHTS = (0.0, 100.0)  # the formula's score as an offset: 0 = learn from scratch
PRIOR_TOLERANCE = 0.025  # the prior is kept while it costs at most this much cross-validated dev accuracy
MARGIN = 8.0  # quotes after [1] are shown while their logit is within this of the best (e^8: nearly always)
MAX_DECLINED = 0.04  # answerable questions of the dev set a threshold may decline
RUBQ_DECLINED = 0.92  # general-knowledge questions (RuBQ) against the demo news corpus that must be declined
DEMO_STORE = "demo-news"  # the demo corpus's store, inside --data-dir
HEDGE_SHARE = 0.05  # right first quotes of dev-tune that may be offered as "closest" rather than as the answer


def tune_split(qid: str) -> bool:
    """Two thirds of the development set tune (by a hash of the item id); one third is reported untouched."""
    return bucket(qid, 3) != 0


def open_assistant(shared: Path, data_dir: Path) -> Assistant:
    """The assistant over the NEREL train split (ingested into ``data_dir`` once), collecting with the formula."""
    from ...pipeline import Assistant
    from ...settings import Settings

    settings = Settings(data_dir=data_dir, answer_ranker="formula", min_relevance=-1e9, chroma_url="")
    assistant = Assistant(settings)
    if assistant.stats().documents < 700:
        assistant.ingest([shared / "eval-data/nerel-wikinews/train"])
    return assistant


def gather(assistant: Assistant, shared: Path, seed: int, cache: Path | None, synthetic: bool,
           demo: Path | None = None) -> tuple[list[Group], list[Group]]:
    """Synthetic groups (articles outside the dev set; only when asked for) and the hand-written groups (news-qa-dev
    over the NEREL train split, plus ``demo``: a question set over the demo corpus), cached when asked."""
    if cache is not None and cache.is_file():
        return pickle.loads(cache.read_bytes())  # our own cache file, written below
    from ...evaluation.run import resolve_doc_ids

    dev = dev_questions(shared)
    nerel = shared / "eval-data/nerel-wikinews"
    synth = synthesize(nerel / "train", nerel / "annotations/train", seed, exclude=articles_of(dev)) if synthetic else []
    resolve_doc_ids(dev, assistant)
    started = time.time()
    groups_synth = collect(assistant, synth, lambda i: print(f"\rsynthetic {i}/{len(synth)}", end="", file=sys.stderr))
    groups_dev = collect(assistant, dev)
    if demo is not None:
        news = demo_assistant(assistant, assistant.settings.data_dir / DEMO_STORE)
        questions = load_jsonl(demo).questions
        resolve_doc_ids(questions, news)
        groups_dev += collect(news, questions, source=demo.stem)
    print(f"\ncollected in {time.time() - started:.0f} s", file=sys.stderr)
    if cache is not None:
        cache.write_bytes(pickle.dumps((groups_synth, groups_dev)))
    return groups_synth, groups_dev


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


def decline_report(dev: Sequence[Group], relevance_th: dict[str, float]) -> dict[str, float]:
    """Declined shares of both splits of each set by the relevance thresholds (questions that reached the ranker)."""
    def declined(g: Group) -> bool:
        return best_relevance(g) < relevance_th.get(g.pair, relevance_th["ru-ru"])

    out = {}
    for source, groups in by_source(dev).items():
        for split, keep in (("tune", True), ("heldout", False)):
            for answerable in (True, False):
                gs = [g for g in groups if tune_split(g.qid) == keep and g.answerable == answerable and len(g.labels)]
                name = "answerable" if answerable else "unanswerable"
                out[f"{prefix(source)}_{split}_{name}_declined"] = round(sum(map(declined, gs)) / max(1, len(gs)), 4)
    return out


def best_relevance(g: Group) -> float:
    """The most relevant candidate's relevance (dense + 0.12 · overlap) of a group."""
    return float(relevance(Features(FEATURES, g.features)).max())


@dataclass(frozen=True)
class Unanswerable:
    """Questions the news corpus cannot answer: the groups that reached the ranker, and how many were asked."""

    groups: list[Group]
    asked: int


def thresholds(dev: Sequence[Group], rubq: Unanswerable) -> dict[str, float]:
    """Per language pair, on relevance: the lowest threshold that declines RUBQ_DECLINED of RuBQ on the news corpus
    (those the year and name rules declined before ranking count), but never one that declines more than
    MAX_DECLINED of the dev set's answerable questions of that pair."""
    declines = sorted(best_relevance(g) for g in rubq.groups)
    need = max(0, int(RUBQ_DECLINED * rubq.asked) - (rubq.asked - len(rubq.groups)))
    floor = declines[min(len(declines) - 1, need)] if declines else -1.0
    out = {}
    for pair in sorted({g.pair for g in dev}):
        ans = [best_relevance(g) for g in dev if g.pair == pair and g.answerable and len(g.labels)]
        una = [best_relevance(g) for g in dev if g.pair == pair and not g.answerable and len(g.labels)]
        ceiling = threshold_for(ans, una, MAX_DECLINED) - 0.005
        out[pair] = min(ceiling, floor) if pair == "ru-ru" else ceiling
    out.setdefault("ru-ru", min(out.values(), default=0.0))
    return out


def demo_assistant(assistant: Assistant, data_dir: Path) -> Assistant:
    """An assistant over the demo news corpus (ingested into ``data_dir`` once), collecting like ``assistant``."""
    from ...pipeline import Assistant as AssistantClass

    news = AssistantClass(assistant.settings.model_copy(update={"data_dir": data_dir}), embedder=assistant.embedder)
    news.ingest([assistant.settings.demo_corpus])
    return news


def rubq_groups(assistant: Assistant, shared: Path, data_dir: Path) -> Unanswerable:
    """RuBQ's general-knowledge questions asked of the demo news corpus (none of them is answered there)."""
    from ...evaluation import EvalQuestion, load_unanswerable

    news = demo_assistant(assistant, data_dir / DEMO_STORE)
    questions = [EvalQuestion(q, [], None, qid=f"rubq-{i}")
                 for i, q in enumerate(load_unanswerable(shared / "eval-data/rubq-2.0-dev/RuBQ_2.0_dev.json"))]
    return Unanswerable(collect(news, questions), len(questions))


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


def first_quote(fitted: Fitted, g: Group) -> tuple[float, bool]:
    """The probability the model gives its first candidate, and whether that candidate holds the answer."""
    scores = fitted.scores(g.features)
    best = int(np.argmax(scores))
    return probability(float(scores[best])), bool(g.answerable and g.labels[best])


def hedge_below(fitted: Fitted, dev: Sequence[Group]) -> float:
    """The probability below which a first quote is offered as "closest": HEDGE_SHARE of dev-tune's right ones."""
    right = sorted(p for p, ok in (first_quote(fitted, g) for g in dev if tune_split(g.qid) and len(g.labels)) if ok)
    return right[int(HEDGE_SHARE * len(right))] if right else 0.0


def hedge_report(fitted: Fitted, dev: Sequence[Group], below: float) -> dict[str, float]:
    """How many first quotes each split would offer as "closest": right ones, wrong ones, unanswerable questions."""
    out: dict[str, float] = {}
    for source, groups in by_source(dev).items():
        for split, keep in (("tune", True), ("heldout", False)):
            firsts = [(g, *first_quote(fitted, g)) for g in groups if tune_split(g.qid) == keep and len(g.labels)]
            hedged = [(g, ok) for g, p, ok in firsts if p < below]
            key = f"{prefix(source)}_{split}"
            out[f"{key}_hedged_right"] = sum(ok for _, ok in hedged)
            out[f"{key}_hedged_wrong"] = sum(g.answerable and not ok for g, ok in hedged)
            out[f"{key}_hedged_unanswerable"] = sum(not g.answerable for g, _ in hedged)
            out[f"{key}_questions"] = len(firsts)
    return out


def git_commit() -> str:
    """The current commit, for the record."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def judge(groups: list[Group]) -> tuple[float, float]:
    """Cross-validated top-1 of the setting ``choose`` picks, and top-1 of its fit, on dev-tune."""
    fitted, chosen, grid = choose([], groups, [0.0])
    key = f"C={chosen['C']} synth={chosen['synthetic_weight']} prior={chosen['prior_weight']}"
    return grid[key], report(fitted, [], groups)["tune_top1"]


def print_selection(dev: list[Group]) -> None:
    """Run the feature elimination and print its steps (the kept set is FEATURES minus the dropped ones)."""
    from .selection import eliminate

    steps = eliminate(dev, judge)
    for step in steps:
        print(f"drop {step.dropped}: cross-validated top-1 {step.cv:.4f} (fit {step.fit:.4f})")
    print("nothing to drop" if not steps else "remove these from answering.features.FEATURES, then retrain")


def with_correction(fitted: Fitted, chosen: dict[str, float], assistant: Assistant, args: argparse.Namespace,
                    dev: list[Group]) -> tuple[Fitted, dict[str, float]]:
    """The news model plus the copy-gated correction, and what it changes (unless ``--no-correction``)."""
    if args.no_correction:
        return fitted, {}
    cache = args.cache.with_suffix(".cloze.pkl") if args.cache is not None else None
    cloze = cloze_groups(assistant, args.shared, args.seed, cache)
    tune = [g for g in dev if g.answerable and tune_split(g.qid) and len(g.labels)]
    final = corrected(fitted, cloze, tune)
    cv = cross_validated(tune, cloze, chosen["C"], chosen["prior_weight"])
    return final, {**cloze_report(fitted, final, cloze), **{f"cv_dev_tune_top1_{k}": v for k, v in cv.items()}}


def main(argv: Sequence[str] | None = None) -> None:
    """Collect, fit, choose, write the weights JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--data-dir", type=Path, default=Path("data/train-nerel"))
    parser.add_argument("--cache", type=Path, default=None, help="Reuse/keep collected candidate features here.")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--synthetic-weights", default="0",
                        help="Comma-separated weights of NEREL synthetic questions to compare by cross-validation "
                             "(e.g. 0,0.02); 0 alone skips generating them (they did not help: docs/answer_ranker.md).")
    parser.add_argument("--select-features", action="store_true",
                        help="Only run the greedy feature elimination on dev-tune and print it (about a minute).")
    parser.add_argument("--demo-questions", type=Path, default=None,
                        help="Also tune on a question set over the demo corpus (eval/demo-qa/demo-qa.jsonl: two "
                             "thirds, one third held out). Off by default: it lowered both held-out figures.")
    parser.add_argument("--C", type=float, default=None,
                        help="Fix the inverse L2 strength instead of choosing it from the grid by the rule.")
    parser.add_argument("--prior", type=float, default=None,
                        help="Fix the formula prior's weight (0 = none) instead of choosing it by the rule.")
    parser.add_argument("--no-correction", action="store_true",
                        help="Leave out the copy-gated correction learned from cloze questions (answering/correction.py).")
    parser.add_argument("--out", type=Path, default=Path("assistant/answering/weights/linear-v1.json"))
    args = parser.parse_args(argv)
    if not (args.shared / "eval-data/nerel-wikinews/annotations/train").is_dir():
        raise SystemExit(f"{args.shared}: ../shared with eval-data/nerel-wikinews is needed to train; not found")
    np.random.seed(args.seed)
    assistant = open_assistant(args.shared, args.data_dir)
    weights = [float(w) for w in args.synthetic_weights.split(",")]
    if args.demo_questions is not None and not args.demo_questions.is_file():
        raise SystemExit(f"{args.demo_questions}: --demo-questions file not found (eval/demo-qa/demo-qa.jsonl?)")
    synth, dev = gather(assistant, args.shared, args.seed, args.cache, any(w > 0 for w in weights),
                        args.demo_questions)
    if args.select_features:
        print_selection(dev)
        return
    fitted, chosen, grid = choose(synth, dev, weights, [args.C] if args.C else C_GRID,
                                  [args.prior] if args.prior is not None else PRIOR_WEIGHTS)
    fitted, extra = with_correction(fitted, chosen, assistant, args, dev)
    relevance_th = thresholds(dev, rubq_groups(assistant, args.shared, args.data_dir))
    hedge = hedge_below(fitted, dev)
    payload = {
        "format": FORMAT, "features": list(FEATURES), "mean": fitted.mean.tolist(), "scale": fitted.scale.tolist(),
        "coef": fitted.coef.tolist(), "intercept": fitted.intercept, "prior_weight": fitted.prior_weight, "margin": MARGIN,
        "thresholds": relevance_th, "hedge_below": hedge,
        **({"correction": fitted.correction.to_json()} if fitted.correction is not None else {}),
        "embedder_model_id": assistant.embedder.model_id,
        "trained": {"commit": git_commit(), "seed": args.seed, **chosen, "cv_dev_tune_top1": grid,
                    "synthetic_questions": len(synth),
                    "questions": {source: len(groups) for source, groups in by_source(dev).items()},
                    "command": "python -m assistant.answering.training.train --shared ../shared"
                    + (f" --C {args.C:g}" if args.C else "") + (f" --prior {args.prior:g}" if args.prior is not None else "")
                    + (" --no-correction" if args.no_correction else "")},
        "dev_metrics": {**report(fitted, synth, dev), **decline_report(dev, relevance_th),
                        **hedge_report(fitted, dev, hedge), **extra},
    }
    write_model(args.out, payload)
    print(json.dumps({**chosen, **payload["dev_metrics"], "thresholds": relevance_th, "cv": grid}, indent=1))


if __name__ == "__main__":
    main()
