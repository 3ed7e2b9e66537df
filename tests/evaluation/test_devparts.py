"""The development parts' registry: questions, corpora built by the shared scripts, and gold matching."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.evaluation import EvalQuestion, Outcome, quote_hit, score
from assistant.evaluation.devparts import dev_parts
from assistant.evaluation.headline import headline


def test_the_four_parts_load_with_their_counts(shared_dir: Path) -> None:
    parts = {p.name: p for p in dev_parts(shared_dir)}
    assert {n: len(p.questions()) for n, p in parts.items()} == {"nerel": 110, "w2": 120, "telegram": 80, "corus": 59}
    assert parts["nerel"].store_name == parts["w2"].store_name == "nerel-train"
    tg = {q.qid: q for q in parts["telegram"].questions()}
    assert tg["tg-date-03"].also_in == ["tg-ria-271273"] and tg["tg-ans-01"].also_in == []
    assert [p.name for p in dev_parts(shared_dir, "corus, w2")] == ["w2", "corus"]
    with pytest.raises(ValueError, match="unknown development part nope"):
        dev_parts(shared_dir, "nope")


def test_corpora_are_built_by_the_shared_scripts(shared_dir: Path, tmp_path: Path) -> None:
    parts = {p.name: p for p in dev_parts(shared_dir, "telegram,corus,nerel")}
    telegram = parts["telegram"].corpus_path(tmp_path)
    assert telegram == tmp_path / "telegram.jsonl" and len(telegram.read_text(encoding="utf-8").splitlines()) == 1905
    corus = parts["corus"].corpus_path(tmp_path)
    assert corus.name == "corus" and len(list(corus.iterdir())) == 73
    assert parts["nerel"].corpus_path(tmp_path) == shared_dir / "eval-data/nerel-wikinews/train"


def test_a_duplicate_post_counts_as_the_source_and_markdown_is_stripped() -> None:
    q = EvalQuestion("?", ["Ильинка и Петровка"], "tg-a", also_in=["tg-b"])
    assert quote_hit(q, "освобождены **Ильинка** и [Петровка](https://t.me/x)")
    m = score("s", [q, q], [Outcome(["tg-b", "tg-a"], "", True, 0.1), Outcome(["tg-c"], "", True, 0.1)])
    assert (m.hit1, m.hit5) == (0.5, 0.5)


def test_eval_needs_a_dataset_or_a_dev_part(shared_dir: Path) -> None:
    result = CliRunner().invoke(main, ["eval"])
    assert result.exit_code == 2 and "either DATASET or --dev-part" in result.output
    result = CliRunner().invoke(main, ["eval", "--dev-part", "nope", "--shared", str(shared_dir)])
    assert result.exit_code == 2 and "unknown development part nope" in result.output


def test_headline_figures() -> None:
    qs = [EvalQuestion("a?", ["Ишим"], "d1", kind="paraphrase"), EvalQuestion("b?", ["1997"], "d2", kind="date"),
          EvalQuestion("c?", ["x"], "d3", kind="english"), EvalQuestion("d?", [], None, kind="unanswerable"),
          EvalQuestion("e?", [], None, kind="unanswerable")]
    outs = [Outcome(["d1"], "на реке Ишим.", True, 0.1, confident=False), Outcome(["d2"], "в 1997 году", True, 0.3),
            Outcome([], "", False, 0.2), Outcome(["d1"], "y", True, 0.1), Outcome([], "", False, 0.1)]
    h = headline("assistant", "set", qs, outs)
    assert (h.ru_quote1, h.en_quote1, h.followup_quote1 != h.followup_quote1) == (1.0, 0.0, True)
    assert (h.answerable_declined, h.unanswerable_declined, h.unanswerable_unhedged) == (1 / 3, 0.5, 0.5)
    assert h.correct_hedged == 0.5 and h.counts == "2/1/0/3/2" and h.p95_ms == 300.0
