"""The answerability model measured out of part: near misses made from answerable questions, and its decisions."""

from __future__ import annotations

import zlib

import numpy as np

from assistant.answering.features import FEATURES
from assistant.answering.training import answerability as A
from assistant.answering.training import oof
from assistant.answering.training.data import Group
from assistant.answering.training.fit import fit

DENSE, FOCUS_Z, DOC_GAP, DENSE_GAP = (FEATURES.index(n) for n in ("dense", "focus_z", "doc_gap", "dense_gap"))


def group(qid: str, part: str, answerable: bool) -> Group:
    """Six candidates of two articles; an answerable question's answer stands out from its article on focus_z."""
    rng = np.random.default_rng(zlib.crc32(f"{part}/{qid}".encode()))
    x = rng.normal(size=(6, len(FEATURES))).astype(np.float32)
    x[:, DENSE] = 0.8 + 0.01 * x[:, DENSE]
    y = np.zeros(6, dtype=np.float32)
    if answerable:
        y[0], x[0, FOCUS_Z] = 1.0, x[0, FOCUS_Z] + 6.0
    x[:, DENSE_GAP] = x[:, DENSE] - x[:, DENSE].max()
    best = {0: x[:3, DENSE].max(), 1: x[3:, DENSE].max()}
    x[:, DOC_GAP] = [best[i // 3] - x[:, DENSE].max() for i in range(6)]
    return Group(qid, "lexical" if answerable else "unanswerable", "ru-ru", x, y, answerable, part, f"{part}-{qid}")


def test_a_near_miss_is_the_group_without_the_gold_sentence_and_its_neighbours() -> None:
    g = group("q", "a", True)
    g.features[1, DENSE] = g.features[0, DENSE] + 0.01  # the gold article's next sentence, as close to the question
    g.features[2, DENSE] = g.features[0, DENSE] - 0.2  # the same article, far from the question: kept
    made = A.near_miss(g, within=0.03)
    assert made is not None and not made.answerable and not made.labels.any()
    assert len(made.labels) == 4 and made.features[:, DENSE_GAP].max() == 0.0
    assert len(A.near_miss(g, within=None).labels) == 5  # only the gold candidate removed
    assert A.near_miss(group("u", "a", False)) is None  # nothing to remove from a near miss


def test_group_features_read_the_first_quote_by_score() -> None:
    g = group("q", "a", True)
    scores = np.array([0.1, 2.0, -1.0, 0.5, 0.0, -3.0])
    row = dict(zip(A.GROUP_FEATURES, A.group_features(g.features, scores), strict=True))
    assert row["logit1"] == 2.0 and row["margin"] == 1.5 and row["focus_z1"] == g.features[1, FOCUS_Z]


def test_each_part_is_decided_by_a_model_that_never_saw_it() -> None:
    groups = [group(f"q{i}", p, i % 5 != 0) for p in "abcd" for i in range(40)]
    figures = A.compare(groups, lambda train: fit(train, 1.0))
    for part in "abcd":  # thresholds read on three parts decline about 4 % of the fourth's answerable questions
        model = figures["model"][part]
        assert model["unanswerable_declined"] >= 0.75 and model["answerable_declined"] <= 0.15
        assert figures["today"][part]["unanswerable_declined"] < model["unanswerable_declined"]
    assert np.mean([figures["model"][p]["answerable_declined"] for p in "abcd"]) <= 0.1


def test_the_thresholds_are_read_per_language_pair() -> None:
    rows = [A.Sample(("a", f"q{i}"), "a", pair, True, False, True, np.zeros(1))
            for pair in ("ru-ru", "en-ru") for i in range(50)]
    p = np.array([i / 100 for i in range(50)] + [0.5 + i / 100 for i in range(50)])
    decline, hedge = A.thresholds(rows, p, max_declined=0.04, max_hedged=0.08)
    assert oof.share([x < decline["ru-ru"] for x in p[:50]]) <= 0.04 < decline["en-ru"] - decline["ru-ru"]
    assert hedge["en-ru"] >= decline["en-ru"] and oof.share([x < hedge["en-ru"] for x in p[50:]]) <= 0.08


def test_the_shipped_calibration_hedges_no_right_first_quote_it_was_read_on() -> None:
    groups = [group(f"q{i}", p, i % 5 != 0) for p in "ab" for i in range(50)]
    scores = oof.fitted_scores(groups, lambda train: fit(train, 1.0))
    cal = oof.calibrate(groups, scores)  # the defaults train.py writes into the weights file
    ans = [g for g in groups if g.answerable]
    assert not any(cal.hedged(g, scores[oof.key(g)]) for g in ans if oof.right(g, scores[oof.key(g)]))
    assert 0 < sum(cal.declined(g) for g in ans) <= oof.MAX_DECLINED * len(ans)
    lower = [g for g in ans if oof.right(g, scores[oof.key(g)])]
    assert any(cal.hedged(g, scores[oof.key(g)] - 8.0) for g in lower)  # a less likely [1] is hedged
