"""Training the copy-gated correction (answering/correction.py) on cloze questions plus the dev-tune questions."""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cloze import build
from .data import Group, articles_of, bucket, collect, dev_questions
from .fit import Fitted, fit, fit_correction, top1

if TYPE_CHECKING:
    from ...pipeline import Assistant

CLOZE_QUESTIONS = 8000  # with seed 13: 8,008 questions over 2,154 paragraphs of 473 NEREL train articles
CLOZE_STORE = "cloze"  # the paragraphs' store, inside --data-dir
DEV_WEIGHT = 10.0  # the dev-tune questions together weigh this many times all cloze questions together
STRENGTH = 0.1  # inverse L2 strength of the correction
FOLDS = 4


def cloze_test(g: Group) -> bool:
    """A quarter of the cloze questions (by a hash of their source article) is kept out of training."""
    return bucket(g.qid.split(":")[0].rsplit("-", 1)[0], 4) == 0


def cloze_groups(assistant: Assistant, shared: Path, seed: int, cache: Path | None) -> list[Group]:
    """Candidate groups of the cloze questions (articles of the dev set left out), collected with the formula."""
    if cache is not None and cache.is_file():
        return pickle.loads(cache.read_bytes())  # our own cache file, written below
    from ...pipeline import Assistant as AssistantClass

    nerel = shared / "eval-data/nerel-wikinews"
    cloze = build(nerel / "train", nerel / "annotations/train", seed, CLOZE_QUESTIONS,
                  articles_of(dev_questions(shared)))
    settings = assistant.settings.model_copy(update={"data_dir": assistant.settings.data_dir / CLOZE_STORE})
    paragraphs = AssistantClass(settings, embedder=assistant.embedder)
    started = time.time()
    paragraphs.ingest_articles(cloze.articles)
    groups = [g for g in collect(paragraphs, cloze.questions, source="cloze",
                                 progress=lambda i: print(f"\rcloze {i}/{len(cloze.questions)}", end="", file=sys.stderr))
              if len(g.labels)]
    print(f"\ncloze questions collected in {time.time() - started:.0f} s", file=sys.stderr)
    if cache is not None:
        cache.write_bytes(pickle.dumps(groups))
    return groups


def corrected(base: Fitted, cloze: Sequence[Group], tune: Sequence[Group]) -> Fitted:
    """``base`` with the correction fitted on the cloze training split and ``tune`` (weighted DEV_WEIGHT)."""
    train = [g for g in cloze if not cloze_test(g)]
    weights = [1.0] * len(train) + [DEV_WEIGHT * len(train) / max(1, len(tune))] * len(tune)
    return fit_correction(base, [*train, *tune], weights, STRENGTH)


def cross_validated(tune: Sequence[Group], cloze: Sequence[Group], c: float, prior: float) -> dict[str, float]:
    """Out-of-fold top-1 on dev-tune of the news model alone and with the correction (both refitted per fold)."""
    plain: list[bool] = []
    with_correction: list[bool] = []
    for fold in range(FOLDS):
        train = [g for i, g in enumerate(tune) if i % FOLDS != fold]
        held = [g for i, g in enumerate(tune) if i % FOLDS == fold]
        base = fit(train, c, prior_weight=prior)
        both = corrected(base, cloze, train)
        plain += [bool(g.labels[int(np.argmax(base.scores(g.features)))]) for g in held]
        with_correction += [bool(g.labels[int(np.argmax(both.scores(g.features)))]) for g in held]
    return {"news": round(float(np.mean(plain)), 4), "corrected": round(float(np.mean(with_correction)), 4)}


def cloze_report(base: Fitted, final: Fitted, cloze: Sequence[Group]) -> dict[str, float]:
    """Top-1 on the cloze questions kept out of training, without and with the correction."""
    test = [g for g in cloze if cloze_test(g)]
    return {"cloze_test_top1_news": round(top1(base, test), 4), "cloze_test_top1": round(top1(final, test), 4),
            "cloze_test_questions": len(test), "cloze_train_questions": len(cloze) - len(test)}
