"""Out-of-fold training of the answer ranker across development parts, and per-pair hedging."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.answering.features import FEATURES
from assistant.answering.model_file import AnswerModelError, builtin_path
from assistant.answering.rankers import make_ranker
from assistant.answering.training import oof
from assistant.answering.training.data import Group
from assistant.answering.training.fit import Fitted, fit
from assistant.answering.training.train import parse_paths
from assistant.pipeline import Assistant

from ..conftest import SEED_QUESTION, SEED_QUOTE

DENSE, LEX = FEATURES.index("dense"), FEATURES.index("lex")


def group(qid: str, part: str, signal: int, answerable: bool = True, pair: str = "ru-ru") -> Group:
    """Four candidates; the answer is the one highest on feature column ``signal``."""
    rng = np.random.default_rng(zlib.crc32(f"{part}/{qid}".encode()))
    x = rng.normal(size=(4, len(FEATURES))).astype(np.float32)
    x[:, DENSE] = 0.8 + 0.01 * x[:, DENSE]
    y = np.zeros(4, dtype=np.float32)
    if answerable:
        best = int(np.argmax(x[:, signal]))
        y[best], x[best, signal] = 1.0, x[best, signal] + 2.0
    return Group(qid, "lexical" if answerable else "unanswerable", pair, x, y, answerable, part, f"{part}-{qid}")


def test_a_part_is_scored_by_a_model_that_never_saw_it() -> None:
    # parts a, b and c share a signal; part d answers by another column: leaving d out, nothing teaches its signal
    groups = [group(f"q{i}", p, LEX) for p in "abc" for i in range(30)] + [group(f"q{i}", "d", 5) for i in range(10)]
    seen: list[set[str]] = []

    def fitter(train: list[Group]) -> Fitted:
        seen.append({g.source for g in train})
        return fit(train, 1.0)

    scores = oof.leave_part_out(groups, fitter)
    assert seen == [{"b", "c", "d"}, {"a", "c", "d"}, {"a", "b", "d"}, {"a", "b", "c"}]
    top1 = {p: np.mean([oof.right(g, scores[oof.key(g)]) for g in groups if g.source == p]) for p in "abcd"}
    assert min(top1[p] for p in "abc") > 0.8 and top1["d"] < 0.6
    fitted = oof.fitted_scores(groups, fitter)
    assert np.mean([oof.right(g, fitted[oof.key(g)]) for g in groups if g.source == "a"]) > 0.8


def test_article_folds_keep_an_articles_questions_on_one_side() -> None:
    groups = [group(f"q{i}", "a", LEX) for i in range(40)]
    for g in groups:
        g.doc = f"doc{int(g.qid[1:]) // 4}"  # four questions per article
    held: list[set[str]] = []

    def fitter(train: list[Group]) -> Fitted:
        held.append({g.doc for g in groups} - {g.doc for g in train})
        return fit(train, 1.0)

    oof.article_folds(groups, fitter)
    assert all(held) and set().union(*held) == {g.doc for g in groups}
    assert all(not (a & b) for i, a in enumerate(held) for b in held[i + 1:])


def test_calibration_declines_and_hedges_per_language_pair() -> None:
    groups = [group(f"q{i}", "a", LEX) for i in range(50)] + [group(f"e{i}", "a", LEX, pair="en-ru") for i in range(50)]
    for g in groups:
        if g.pair == "en-ru":
            g.features[:, DENSE] -= 0.1  # cross-lingual similarities are lower
    scores = oof.fitted_scores(groups, lambda train: fit(train, 1.0))
    cal = oof.calibrate(groups, scores, hedge_share=0.1, max_declined=0.04)
    assert cal.decline["en-ru"] < cal.decline["ru-ru"] - 0.05
    for pair in ("ru-ru", "en-ru"):
        same = [g for g in groups if g.pair == pair]
        assert np.mean([cal.declined(g) for g in same]) <= 0.04
        ok = [g for g in same if oof.right(g, scores[oof.key(g)])]
        assert 0 < np.mean([cal.hedged(g, scores[oof.key(g)]) for g in ok]) <= 0.1


def test_a_question_declined_before_ranking_counts_as_declined() -> None:
    empty = Group("q", "lexical", "", np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.float32), True, "a", "d")
    cal = oof.Calibration({"ru-ru": 0.0}, {"ru-ru": 0.0})
    figures = oof.part_figures([empty], {oof.key(empty): np.zeros(0)}, cal)
    assert figures["answerable_declined"] == 1.0 and figures["ru_top1"] == 0.0


def weights_with(tmp_path: Path, hedge: object) -> str:
    raw = json.loads(builtin_path("linear-v1").read_text(encoding="utf-8"))
    raw["hedge_below"] = hedge
    path = tmp_path / "w.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return f"linear:{path}"


def test_the_hedge_threshold_is_read_per_language_pair(tmp_path: Path) -> None:
    ranker = make_ranker(weights_with(tmp_path, {"ru-ru": 0.5, "en-ru": 0.1}), "multilingual-e5-small", None)
    assert ranker.hedged(-1.0, "ru-ru") and not ranker.hedged(-1.0, "en-ru")  # P 0.27
    assert not ranker.hedged(-1.0, "en-en")  # a pair without its own: the question language's with Russian…
    assert ranker.hedged(-1.0, "ru-en")  # …else ru-ru
    one = make_ranker(weights_with(tmp_path, 0.5), "multilingual-e5-small", None)
    assert one.hedged(-1.0, "en-ru") and not one.hedged(1.0, "en-ru")  # one number: every pair
    with pytest.raises(AnswerModelError, match="hedge_below"):
        make_ranker(weights_with(tmp_path, {"en-ru": 0.1}), "multilingual-e5-small", None)


def test_corpus_and_store_options_name_the_flag_when_malformed() -> None:
    assert parse_paths(["telegram=/tmp/t.jsonl"], "--corpus") == {"telegram": Path("/tmp/t.jsonl")}
    with pytest.raises(SystemExit, match="--store"):
        parse_paths(["telegram"], "--store")


def test_related_features_are_eliminated_together() -> None:
    from assistant.answering.training.selection import eliminate

    group_ = Group("q", "lexical", "ru-ru", np.ones((3, len(FEATURES)), dtype=np.float32), np.array([1.0, 0, 0]), True)
    units = [("width2", "width3"), ("hub",), ("dense",)]

    def judge(groups: list[Group], dropped: Sequence[str]) -> tuple[float, float]:
        left_out = set(dropped)
        return 0.5 + 0.1 * ({"width2", "width3"} <= left_out) - 0.3 * ("dense" in left_out), 0.0

    steps = eliminate([group_], judge, units)
    assert [s.dropped for s in steps] == ["width2+width3"] and steps[0].cv == pytest.approx(0.6)


def test_the_seed_question_quotes_the_signed_documents_first_in_russian_and_english(assistant: Assistant) -> None:
    for question in (SEED_QUESTION, "What documents were signed during the visit?"):
        answer = assistant.ask(question)
        assert answer.answered and SEED_QUOTE in answer.citations[0].quote, (question, answer.citations[0].quote)
